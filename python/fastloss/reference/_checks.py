"""Argument checks shared by every reference: each failure raises ``ValueError`` with a message
that starts ``"[fastloss.NAME] "`` and names the argument and the offending value."""

from __future__ import annotations

import numpy as np


def _fail(name, message):
    raise ValueError(f"[fastloss.{name}] {message}")


def _fmt(value):
    """Format an offending value for an error message: -1 -> '-1.0', 'avg' -> "'avg'"."""
    if isinstance(value, (bool, np.bool_, str)):
        return repr(value)
    try:
        return repr(float(value))
    except (TypeError, ValueError):
        return repr(value)


def _real(name, arg, value):
    """A hyperparameter that must be a real scalar, returned as a Python float."""
    if isinstance(value, (bool, np.bool_)) or np.ndim(value) != 0:
        _fail(name, f"{arg} must be a real scalar, got {_fmt(value)}")
    try:
        return float(value)
    except (TypeError, ValueError):
        _fail(name, f"{arg} must be a real scalar, got {_fmt(value)}")


def _as_float(a):
    return np.asarray(a, dtype=np.float64)


def _pair(name, pred, target, first="pred"):
    """pred and target as float64 arrays of one shape."""
    pred, target = _as_float(pred), _as_float(target)
    if pred.shape != target.shape:
        _fail(name, f"{first} and target must have the same shape, "
                    f"got {pred.shape} and {target.shape}")
    return pred, target


def _labels(name, target):
    """Integer class labels as int64 (floating or boolean labels are rejected, not truncated)."""
    t = np.asarray(target)
    if t.dtype.kind not in "iu":
        _fail(name, f"target must hold integer class indices, got dtype {t.dtype}")
    return t.astype(np.int64, copy=False)


def _check_label_range(name, t, num_classes, ignore_index=None):
    bad = (t < 0) | (t >= num_classes)
    if ignore_index is not None:
        bad &= t != ignore_index
    if np.any(bad):
        _fail(name, f"label {int(t[bad].flat[0])} out of range [0, {num_classes})")


def _broadcast_arg(name, arg, value, shape, onto):
    """float64 `value` broadcast to `shape` (the `onto` shape, for the message)."""
    a = _as_float(value)
    try:
        return np.broadcast_to(a, shape)
    except ValueError:
        _fail(name, f"{arg} of shape {a.shape} is not broadcastable to the {onto} shape {shape}")


def _sample_weight(name, sample_weight, shape):
    if sample_weight is None:
        return None
    return _broadcast_arg(name, "sample_weight", sample_weight, shape, "loss")

