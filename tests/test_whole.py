"""zoo.whole.whole_number: the one check behind every "a whole number from lo to hi" setting."""
import math

import numpy as np
import pytest

from zoo.whole import whole_number


@pytest.mark.parametrize("value, expected", [(3, 3), (3.0, 3), (np.int64(3), 3), (np.float32(3.0), 3), (1, 1), (10, 10)])
def test_a_whole_number_in_range_comes_back_as_an_int(value, expected):
    n = whole_number(value, 1, 10)
    assert n == expected and type(n) is int


@pytest.mark.parametrize("value", [True, False, np.bool_(True), "3", b"3", None, [3], 2.5, math.nan, math.inf, -math.inf,
                                   0, 11, 10**400, -10**400, 1e309])
def test_anything_else_is_none_and_never_raises(value):
    assert whole_number(value, 1, 10) is None


def test_ints_only_refuses_a_whole_float_and_no_upper_bound_takes_huge_ints():
    assert whole_number(3.0, 1, 10, floats=False) is None
    assert whole_number(np.int32(3), 1, 10, floats=False) == 3
    assert whole_number(10**400, 0) == 10**400
