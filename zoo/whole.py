"""One answer to "is this a whole number from lo to hi?" for settings that come from people, API callers and
JSON files: the app's number boxes, predict's beam and batch_size, a checkpoint's sizes."""
from __future__ import annotations

import math
import numbers


def whole_number(value, lo: int, hi: int | None = None, floats: bool = True) -> int | None:
    """value as an int when it is a whole number from lo to hi (no upper bound when hi is None), else None; each
    caller raises its own error. A bool is not a number here (True would pass as 1) and text ("3") is never
    converted. floats=True also takes a float that is whole (3.0: what number inputs and JSON send), never 2.5,
    NaN or infinity (checked before int(), which raises on those); floats=False takes ints only (NumPy's too)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real if floats else numbers.Integral):
        return None
    if isinstance(value, numbers.Integral):
        n = int(value)
    else:
        f = float(value)
        if not math.isfinite(f) or not f.is_integer():
            return None
        n = int(f)
    return n if lo <= n and (hi is None or n <= hi) else None
