import pytest

from statsmini import data_range, stdev


def test_stdev():
    assert stdev([2, 4, 4, 4, 5, 5, 7, 9]) == pytest.approx(2.13809, rel=1e-5)


def test_data_range():
    assert data_range([3, 9, 1]) == 8
