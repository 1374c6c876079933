"""Argument checks shared by every public function.

Every message starts with ``[fastloss.<function>]``, names the argument and shows the offending
value, so an error deep in a training loop says what to fix.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

REDUCTIONS = {"none": 0, "mean": 1, "sum": 2}


def fail(fn: str, message: str, exc: type[Exception] = ValueError):
    raise exc(f"[fastloss.{fn}] {message}")


def reduction_code(fn: str, reduction) -> int:
    try:
        return REDUCTIONS[reduction]
    except (KeyError, TypeError):
        fail(fn, f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def real_scalar(fn: str, name: str, value) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "fiu":
            value = value.item()
        else:
            fail(fn, f"{name} must be a real number, got {value!r}", TypeError)
    value = float(value)
    if not math.isfinite(value):
        fail(fn, f"{name} must be finite, got {value!r}")
    return value


def positive(fn: str, name: str, value) -> float:
    v = real_scalar(fn, name, value)
    if not v > 0:
        fail(fn, f"{name} must be > 0, got {value!r}")
    return v


def non_negative(fn: str, name: str, value) -> float:
    v = real_scalar(fn, name, value)
    if not v >= 0:
        fail(fn, f"{name} must be >= 0, got {value!r}")
    return v


def in_open_unit_interval(fn: str, name: str, value) -> float:
    v = real_scalar(fn, name, value)
    if not 0 < v < 1:
        fail(fn, f"{name} must be in (0, 1), got {value!r}")
    return v


def in_unit_interval(fn: str, name: str, value) -> float:
    v = real_scalar(fn, name, value)
    if not 0 <= v <= 1:
        fail(fn, f"{name} must be in [0, 1], got {value!r}")
    return v


def integer(fn: str, name: str, value) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        fail(fn, f"{name} must be an integer, got {value!r}", TypeError)
    return int(value)


def choice(fn: str, name: str, value, options: tuple[str, ...]) -> str:
    if value not in options:
        allowed = ", ".join(repr(o) for o in options)
        fail(fn, f"{name} must be one of {allowed}, got {value!r}")
    return value


def weights(fn: str, name: str, value, *, length: int | None = None) -> np.ndarray:
    """A non-negative, finite weight array (1-D of `length` when given)."""
    w = np.asarray(value)
    if not w.dtype.isnative:
        w = w.astype(w.dtype.newbyteorder("="))  # a small parameter array: normalise its byte order
    if w.dtype.kind not in "fiu" or w.dtype == np.float16:
        fail(fn, f"{name} must be a real float32/float64 or integer array, got dtype {w.dtype}",
             TypeError)
    if length is not None and w.shape != (length,):
        fail(fn, f"{name} must have shape ({length},), got {w.shape}")
    if w.size and not np.all(np.isfinite(w) & (w >= 0)):
        bad = w[~(np.isfinite(w) & (w >= 0))].flat[0]
        fail(fn, f"{name} must be finite and >= 0, got {bad!r}")
    return w
