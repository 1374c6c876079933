"""The center loss (Wen, Zhang, Li and Qiao, "A Discriminative Feature Learning Approach for Deep
Face Recognition", ECCV 2016): features pulled towards a centre of their class.

The lecture ("Loss Functions — Mathematical Foundations and Learning Objectives") writes
L = 1/2 sum_i ||x_i - c_{y_i}||^2; ``reduction="sum"`` is that sum and the default ``"mean"``
divides it by the batch (Wen et al.'s and their Caffe layer's scale).
"""

from __future__ import annotations

import math

import numpy as np

from ._argnums import _select
from ._checks import _as_float, _check_label_range, _fail, _fmt, _real
from ._reductions import _reduce, _upstream

__all__ = ["center", "center_grad", "center_update"]


def _parts(features, labels, centers):
    """The arrays checked and each row's difference x_i - c_{y_i}."""
    name = "center"
    x, c = _as_float(features), _as_float(centers)
    if x.ndim != 2:
        _fail(name, f"features must be an (N, D) array, got shape {x.shape}")
    if c.ndim != 2 or c.shape[1] != x.shape[1]:
        _fail(name, f"centers must be a (C, {x.shape[1]}) array, got shape {c.shape}")
    y = np.asarray(labels)
    if y.dtype.kind not in "iu":
        _fail(name, f"labels must hold integer class indices, got dtype {y.dtype}")
    y = y.astype(np.int64, copy=False)
    if y.shape != (x.shape[0],):
        _fail(name, f"labels must have shape ({x.shape[0]},), got {y.shape}")
    _check_label_range(name, y, c.shape[0])
    return x, y, c, x - c[y]


def center(features, labels, centers, *, reduction="mean", sample_weight=None):
    """l_i = 1/2 ||x_i - c_{y_i}||^2, mean = sum_i s_i l_i / sum_i s_i."""
    _, _, _, diff = _parts(features, labels, centers)
    return _reduce("center", 0.5 * np.sum(diff * diff, axis=1), reduction, sample_weight)


def center_grad(features, labels, centers, *, grad_output=None, argnums=0, reduction="mean",
                sample_weight=None):
    """With g_i the upstream gradient of row i's loss (times its weight and the mean's factor):
    d/dx_i = g_i (x_i - c_{y_i}) and d/dc_j = -sum_{i: y_i = j} g_i (x_i - c_j)."""
    x, y, c, diff = _parts(features, labels, centers)
    g = _upstream("center", (x.shape[0],), reduction, sample_weight, grad_output)
    grad_x = g[:, None] * diff
    grad_c = np.zeros_like(c)
    np.add.at(grad_c, y, -grad_x)
    return _select("center", ("features", "labels", "centers"), argnums,
                   {"features": grad_x, "centers": grad_c})


def center_update(features, labels, centers, *, alpha=0.5):
    """Wen et al.'s update of the centres: c_j - alpha * sum_{i: y_i = j} (c_j - x_i) / (1 + n_j),
    n_j the rows of class j in the batch; a class without rows keeps its centre."""
    a = _real("center_update", "alpha", alpha)
    if not (a >= 0 and math.isfinite(a)):
        _fail("center_update", f"alpha must be a finite number >= 0, got {_fmt(alpha)}")
    x, y, c, diff = _parts(features, labels, centers)
    delta = np.zeros_like(c)
    np.add.at(delta, y, -diff)
    counts = np.bincount(y, minlength=c.shape[0]).astype(np.float64)
    return c - a * delta / (1.0 + counts)[:, None]
