import pytest

from statsmini import mean, median, mode, variance


def test_mean():
    assert mean([1, 2, 3, 4]) == 2.5


def test_mean_of_generator():
    assert mean(x for x in (2, 4)) == 3


def test_median_odd_and_even():
    assert median([3, 1, 2]) == 2
    assert median([4, 1, 3, 2]) == 2.5


def test_median_empty():
    with pytest.raises(ValueError):
        median([])


def test_mode():
    assert mode([1, 2, 2, 3]) == 2


def test_variance():
    assert variance([2, 4, 4, 4, 5, 5, 7, 9]) == pytest.approx(4.571428, rel=1e-5)


def test_variance_needs_two_points():
    with pytest.raises(ValueError):
        variance([1])
