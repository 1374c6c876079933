"""Argument checks shared by every public function.

Every message starts with ``[fastloss.<function>]``, names the argument and shows the offending
value, so an error deep in a training loop says what to fix.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from . import _core

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


def weight_array(fn: str, name: str, value, *, length: int | None = None) -> np.ndarray:
    """`value` as a real weight array of native byte order (1-D of `length` when given); its
    values are checked by :func:`weight_total`."""
    w = np.asarray(value)
    if not w.dtype.isnative:
        # The kernels read native byte order only: the one case that costs a converted copy.
        w = w.astype(w.dtype.newbyteorder("="))
    if w.dtype.kind not in "fiu" or w.dtype == np.float16:
        fail(fn, f"{name} must be a real float32/float64 or integer array, got dtype {w.dtype}",
             TypeError)
    if length is not None and w.shape != (length,):
        fail(fn, f"{name} must have shape ({length},), got {w.shape}")
    return w


def weight_total(fn: str, name: str, w: np.ndarray) -> float:
    """The sum of the weight view `w` (broadcast copies included), after checking that every
    element is finite and >= 0. Native (cpp/src/weight_scan.h): read in place, no temporaries,
    broadcast dimensions read once, and a fixed summation order, so C- and Fortran-ordered
    copies of the same weights give the same bits."""
    total, valid, bad = _core.scan_weights(fn, w)
    if not valid:
        shown = int(bad) if w.dtype.kind in "iu" else float(bad)
        fail(fn, f"{name} must be finite and >= 0, got {shown!r}")
    return total


def weights(fn: str, name: str, value, *, length: int | None = None) -> np.ndarray:
    """A non-negative, finite weight array (1-D of `length` when given)."""
    w = weight_array(fn, name, value, length=length)
    weight_total(fn, name, w)
    return w
