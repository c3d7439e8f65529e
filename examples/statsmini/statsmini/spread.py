"""Measures of spread built on the averages in `core`."""

import math

from statsmini.core import variance


def stdev(values):
    """The sample standard deviation of `values`."""
    return math.sqrt(variance(values))


def data_range(values):
    """The difference between the largest and the smallest of `values`."""
    values = list(values)
    if not values:
        raise ValueError("data_range() requires at least one data point")
    return max(values) - min(values)
