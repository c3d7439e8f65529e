"""Averages and variance of a sequence of numbers."""

from collections import Counter


def mean(values):
    """The arithmetic mean of `values`."""
    values = list(values)
    return sum(values) / len(values)


def median(values):
    """The middle value of `values` (the mean of the two middle values for an even count)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("median() requires at least one data point")
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def mode(values):
    """The most common value of `values` (the first one seen, on a tie)."""
    counts = Counter(values)
    if not counts:
        raise ValueError("mode() requires at least one data point")
    return counts.most_common(1)[0][0]


def variance(values):
    """The sample variance of `values` (n - 1 in the denominator)."""
    values = list(values)
    if len(values) < 2:
        raise ValueError("variance() requires at least two data points")
    centre = mean(values)
    return sum((x - centre) ** 2 for x in values) / (len(values) - 1)
