"""statsmini: small descriptive statistics for plain Python sequences."""

from statsmini.core import mean, median, mode, variance
from statsmini.spread import data_range, stdev

__all__ = ["data_range", "mean", "median", "mode", "stdev", "variance"]
