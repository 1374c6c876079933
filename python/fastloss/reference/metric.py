"""Metric-learning losses (the lecture's contrastive loss): rows of D features along the last
axis of two or three embedding arrays of one shape, one loss per row; every embedding array has
a gradient, a pair's similarity label does not.
"""

from __future__ import annotations

import math

import numpy as np

from ._argnums import _select
from ._checks import _as_float, _fail, _fmt, _real
from ._reductions import _reduce, _upstream

__all__ = [
    "contrastive",
    "contrastive_grad",
]


def _margin(name, margin):
    m = _real(name, "margin", margin)
    if not (m >= 0 and math.isfinite(m)):
        _fail(name, f"margin must be a finite number >= 0, got {_fmt(margin)}")
    return m


def _embeddings(name, names, arrays):
    """The embedding arrays as float64 of one shape (..., D)."""
    out = [_as_float(a) for a in arrays]
    if out[0].ndim < 1:
        _fail(name, f"{names[0]} must have a feature axis (the last), got a scalar")
    for n, a in zip(names[1:], out[1:]):
        if a.shape != out[0].shape:
            _fail(name, f"{n} must have the shape of {names[0]} {out[0].shape}, got {a.shape}")
    return out


def _similar(name, similar, shape):
    """The pair labels as float64 of the row shape, each 0 or 1."""
    y = np.asarray(similar)
    if y.dtype.kind not in "biuf":
        _fail(name, f"similar must hold real labels, got dtype {y.dtype}")
    y = y.astype(np.float64)
    if y.shape != shape:
        _fail(name, f"similar must have the row shape {shape}, got {y.shape}")
    if not np.all((y == 0) | (y == 1)):
        _fail(name, "similar must hold 0 (dissimilar) or 1 (similar)")
    return y


def _contrastive_parts(x1, x2, similar, margin):
    """Per row: the loss, and c with d l / d x1 = c (x1 - x2)."""
    diff = x1 - x2
    d = np.sqrt(np.sum(diff * diff, axis=-1))
    with np.errstate(invalid="ignore"):
        hinge = np.where(margin - d > 0, margin - d, np.where(np.isnan(d), d, 0.0))
    similar_pair = similar == 1
    loss = 0.5 * np.where(similar_pair, d * d, hinge * hinge)
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.where(similar_pair, 1.0,
                     np.where(d > 0, -hinge / np.where(d > 0, d, 1.0), np.where(np.isnan(d), d, 0.0)))
    return loss, c, diff


def contrastive(x1, x2, similar, *, margin=1.0, reduction="mean", sample_weight=None):
    """Contrastive loss of embedding pairs, per row (the last axis the features)::

        d_i = ||x1_i - x2_i||_2
        l_i = 1/2 [y_i d_i^2 + (1 - y_i) max(0, margin - d_i)^2]

    y = 1 for a similar pair, 0 for a dissimilar one. A dissimilar pair at infinite distance
    gives 0 (not 0 * inf). mean = sum_i s_i l_i / sum_i s_i.
    """
    name = "contrastive"
    m = _margin(name, margin)
    x1, x2 = _embeddings(name, ("x1", "x2"), (x1, x2))
    y = _similar(name, similar, x1.shape[:-1])
    loss, _, _ = _contrastive_parts(x1, x2, y, m)
    return _reduce(name, loss, reduction, sample_weight)


def contrastive_grad(x1, x2, similar, *, grad_output=None, argnums=0, margin=1.0,
                     reduction="mean", sample_weight=None):
    """``d l / d x1 = c (x1 - x2) = -d l / d x2`` with ``c = y - (1 - y) max(0, m - d) / d``;
    at ``d = 0`` the hinge term's gradient is 0 (a subgradient), and where ``c = 0`` the
    gradient is 0 even at an infinite coordinate."""
    name = "contrastive"
    m = _margin(name, margin)
    x1, x2 = _embeddings(name, ("x1", "x2"), (x1, x2))
    y = _similar(name, similar, x1.shape[:-1])
    loss, c, diff = _contrastive_parts(x1, x2, y, m)
    up = _upstream(name, loss.shape, reduction, sample_weight, grad_output)
    with np.errstate(invalid="ignore"):
        g = np.where(c[..., None] == 0, 0.0, (up * c)[..., None] * diff)
    return _select(name, ("x1", "x2", "similar"), argnums, {"x1": g, "x2": -g})
