"""Helpers for losses over rows of logits: the class axis, integer targets, per-class weights and
a log-softmax that stays accurate for confident rows."""

from __future__ import annotations

import numpy as np

from ._checks import _as_float, _check_label_range, _fail, _fmt, _labels, _real


def _classes_last(name, logits, axis):
    """logits as float64 with the class axis moved last; returns (x, normalised axis, C)."""
    x = _as_float(logits)
    if x.ndim == 0:
        _fail(name, "logits must have a class axis, got a 0-d array")
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        _fail(name, f"axis must be an integer, got {axis!r}")
    if not -x.ndim <= axis < x.ndim:
        _fail(name, f"axis {axis} is out of range for logits with {x.ndim} dimensions")
    axis = int(axis) % x.ndim
    if x.shape[axis] == 0:
        _fail(name, "logits must have at least one class, got 0 along the class axis")
    return np.moveaxis(x, axis, -1), axis, x.shape[axis]


def _log_softmax(x):
    """log softmax over the last axis: (x - m) - log(sum(exp(x - m))), m = max.

    The sum is 1 (the maximum) plus the rest, and log(1 + rest) is taken with log1p: for a
    confident row the rest is tiny and a plain log of the sum would round most of it away."""
    with np.errstate(invalid="ignore", divide="ignore"):  # rows with +-inf give nan, like torch
        shifted = x - np.max(x, axis=-1, keepdims=True)
        first_max = np.argmax(shifted, axis=-1)[..., None]
        e = np.exp(shifted)
        np.put_along_axis(e, first_max, 0.0, axis=-1)
        return shifted - np.log1p(np.sum(e, axis=-1, keepdims=True))


def _index_targets(name, x, target, num_classes, ignore_index):
    """Validated labels t, the kept-row mask and labels safe for indexing (ignored -> 0)."""
    t = _labels(name, target)
    if t.shape != x.shape[:-1]:
        _fail(name, f"target of class indices must have the logits shape without the class "
                    f"axis, {x.shape[:-1]}, got {t.shape}")
    _check_label_range(name, t, num_classes, ignore_index)
    kept = t != ignore_index if ignore_index is not None else np.ones(t.shape, dtype=bool)
    safe = np.where(kept, t, 0)
    return t, kept, safe


def _gather(a, index):
    """a[..., index] per row: a has shape (..., C), index has shape (...)."""
    return np.take_along_axis(a, index[..., None], axis=-1)[..., 0]


def _one_hot(index, num_classes):
    return index[..., None] == np.arange(num_classes)


def _class_weight(name, class_weight, num_classes, arg="class_weight"):
    if class_weight is None:
        return np.ones(num_classes)
    c = _as_float(class_weight)
    if c.shape != (num_classes,):
        _fail(name, f"{arg} must have shape ({num_classes},) (one per class), got {c.shape}")
    return c


def _label_smoothing(name, label_smoothing):
    eps = _real(name, "label_smoothing", label_smoothing)
    if not 0.0 <= eps <= 1.0:
        _fail(name, f"label_smoothing must be in [0, 1], got {_fmt(label_smoothing)}")
    return eps


def _ignore_index(name, ignore_index):
    if isinstance(ignore_index, (bool, np.bool_)) or not isinstance(ignore_index,
                                                                    (int, np.integer)):
        _fail(name, f"ignore_index must be an integer, got {ignore_index!r}")
    return int(ignore_index)
