"""Multi-label losses over rows of scores (PyTorch's ``multilabel_soft_margin_loss`` and
``multilabel_margin_loss``): each row of C scores has several correct classes, given as a 0/1
(or soft) target per class, or as a list of class indices ended by -1. Class axis ``axis``
(default last); only the scores have a gradient.
"""

from __future__ import annotations

import numpy as np

from ._argnums import _select
from ._checks import _as_float, _fail, _labels
from ._reductions import _reduce, _upstream
from ._rows import _class_weight, _classes_last, _one_hot

# The names fastloss re-exports (its package __init__ adds each module's __all__).
__all__ = [
    "multilabel_margin",
    "multilabel_margin_grad",
    "multilabel_soft_margin",
    "multilabel_soft_margin_grad",
]


def _per_class_target(name, x, target, axis, cast):
    """The target of x's shape (classes at ``axis``) with its class axis moved last."""
    y = cast(target)
    if y.shape != np.moveaxis(x, -1, axis).shape:
        _fail(name, f"target must have the logits' shape {np.moveaxis(x, -1, axis).shape}, got "
                    f"{y.shape}")
    return np.moveaxis(y, axis, -1)


def _gradient(name, row_slopes, axis, upstream, argnums):
    d_logits = np.moveaxis(row_slopes * upstream[..., None], -1, axis)
    return _select(name, ("logits", "target"), argnums, {"logits": d_logits})


def _softplus(x):
    return np.logaddexp(0.0, x)


def _soft_margin_parts(logits, target, axis, class_weight):
    """Per row the loss, per logit the slope (classes last): the binary cross-entropy on logits
    of each class, a term whose coefficient is 0 contributing 0 (the finite limits at +-inf)."""
    name = "multilabel_soft_margin"
    x, axis, C = _classes_last(name, logits, axis)
    y = _per_class_target(name, x, target, axis, _as_float)
    c = _class_weight(name, class_weight, C)
    with np.errstate(invalid="ignore", over="ignore"):
        neg = np.where(y == 1.0, 0.0, (1.0 - y) * _softplus(x))
        pos = np.where(y == 0.0, 0.0, y * _softplus(-x))
        sigmoid = np.exp(-_softplus(-x))
        sigmoid_neg = np.exp(-_softplus(x))
        term = c * (neg + pos)
        slope = c * ((1.0 - y) * sigmoid - y * sigmoid_neg)
    loss = np.sum(term, axis=-1) / C
    slope = np.where(np.isnan(loss)[..., None], np.nan, slope / C)
    return loss, slope, axis


def multilabel_soft_margin(logits, target, *, axis=-1, class_weight=None, reduction="mean",
                           sample_weight=None):
    """Multi-label soft margin loss (PyTorch ``multilabel_soft_margin_loss``): the lecture's
    one-vs-all binary cross-entropy with a sigmoid per class, averaged over the C classes::

        l_i = (1/C) sum_j c_j [(1 - y_ij) softplus(x_ij) + y_ij softplus(-x_ij)]
            = -(1/C) sum_j c_j [y_ij log sigmoid(x_ij) + (1 - y_ij) log sigmoid(-x_ij)]

    ``y`` of the logits' shape (0/1 or soft), ``c = class_weight`` (ones); mean = sum_i s_i l_i /
    sum_i s_i. A term whose coefficient (1 - y or y) is 0 is 0, also at infinite logits; a row
    whose loss is NaN has a NaN gradient row.
    """
    loss, _, _ = _soft_margin_parts(logits, target, axis, class_weight)
    return _reduce("multilabel_soft_margin", loss, reduction, sample_weight)


def multilabel_soft_margin_grad(logits, target, *, grad_output=None, argnums=0, axis=-1,
                                class_weight=None, reduction="mean", sample_weight=None):
    """``dl_i/dx_ij = c_j ((1 - y_ij) sigmoid(x_ij) - y_ij sigmoid(-x_ij)) / C`` (= c_j
    (sigmoid(x_ij) - y_ij) / C)."""
    loss, slope, axis = _soft_margin_parts(logits, target, axis, class_weight)
    up = _upstream("multilabel_soft_margin", loss.shape, reduction, sample_weight, grad_output)
    return _gradient("multilabel_soft_margin", slope, axis, up, argnums)


def _margin_parts(logits, target, axis):
    """The pair terms z_ikj = 1 - x_{i,t_ik} + x_ij of every listed occurrence k and class j,
    with the mask of the pairs that count (k listed, j not), classes last."""
    name = "multilabel_margin"
    x, axis, C = _classes_last(name, logits, axis)
    t = _per_class_target(name, x, target, axis, lambda a: _labels(name, a))
    bad = (t < -1) | (t >= C)
    if np.any(bad):
        _fail(name, f"target label {int(t[bad].flat[0])} out of range [-1, {C})")
    valid = np.cumprod(t != -1, axis=-1).astype(bool)  # the entries before the first -1
    safe = np.where(valid, t, 0)
    occurrence = _one_hot(safe, C) & valid[..., None]          # (..., K, C)
    listed = occurrence.any(axis=-2)                           # (..., C)
    x_t = np.take_along_axis(x, safe, axis=-1)                 # (..., K)
    with np.errstate(invalid="ignore"):
        z = 1.0 - x_t[..., :, None] + x[..., None, :]
    counts = valid[..., :, None] & ~listed[..., None, :]
    return x, axis, C, z, counts, occurrence


def multilabel_margin(logits, target, *, axis=-1, reduction="mean", sample_weight=None):
    """Multi-label margin loss (PyTorch ``multilabel_margin_loss``), the lecture's one-vs-all
    hinge between every correct class and every other class::

        l_i = (1/C) sum_{k listed} sum_{j not listed} max(0, 1 - (x_{i,t_ik} - x_ij))

    ``target`` has the logits' shape and lists each row's correct classes before its first -1
    (every entry in [-1, C); a duplicate counts once per occurrence). mean = sum_i s_i l_i /
    sum_i s_i. A NaN in a row, or inf - inf in a term, makes its loss NaN.
    """
    x, _, C, z, counts, _ = _margin_parts(logits, target, axis)
    with np.errstate(invalid="ignore"):
        loss = np.sum(np.where(counts, np.where(z < 0.0, 0.0, z), 0.0), axis=(-2, -1)) / C
    loss = np.where(np.isnan(x).any(axis=-1), np.nan, loss)
    return _reduce("multilabel_margin", loss, reduction, sample_weight)


def multilabel_margin_grad(logits, target, *, grad_output=None, argnums=0, axis=-1,
                           reduction="mean", sample_weight=None):
    """Subgradient (0 where z == 0): ``+1/C`` at class j and ``-1/C`` at the listed class
    t_ik for every counted pair with z_ikj > 0; NaN rows where the loss is NaN."""
    x, axis, C, z, counts, occurrence = _margin_parts(logits, target, axis)
    with np.errstate(invalid="ignore"):
        hit = (counts & (z > 0.0)).astype(np.float64)
        nan_row = np.isnan(x).any(axis=-1) | np.any(counts & np.isnan(z), axis=(-2, -1))
    grad = hit.sum(axis=-2) - np.einsum("...k,...kc->...c", hit.sum(axis=-1), occurrence)
    grad = np.where(nan_row[..., None], np.nan, grad / C)
    up = _upstream("multilabel_margin", z.shape[:-2], reduction, sample_weight, grad_output)
    return _gradient("multilabel_margin", grad, axis, up, argnums)
