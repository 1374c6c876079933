"""Multi-class losses over rows of logits (the lecture's multi-class and sparse cross-entropy,
multi-class hinge and focal losses), with a class axis (default last) and integer class targets
(or, for cross entropy, probability targets).

Only the logits have a gradient.
"""

from __future__ import annotations

import math

import numpy as np

from ._argnums import _select
from ._checks import _as_float, _fail, _fmt, _real
from ._reductions import _reduce, _upstream
from ._rows import (_class_weight, _classes_last, _gather, _ignore_index, _index_targets,
                    _label_smoothing, _log_softmax, _one_hot)

# The names fastloss re-exports (its package __init__ adds each module's __all__).
__all__ = [
    "cross_entropy",
    "cross_entropy_grad",
    "multiclass_hinge",
    "multiclass_hinge_grad",
    "nll",
    "nll_grad",
    "softmax_focal",
    "softmax_focal_grad",
]


def _gradient(name, row_slopes, axis, upstream, argnums):
    """d/d logits: each row's slopes (classes last) times the row's upstream gradient, with the
    class axis moved back to ``axis``."""
    d_logits = np.moveaxis(row_slopes * upstream[..., None], -1, axis)
    return _select(name, ("logits", "target"), argnums, {"logits": d_logits})


def _cross_entropy_parts(logits, target, axis, class_weight, ignore_index, label_smoothing):
    """Unreduced loss l (classes-last layout), mean normaliser n, and the pieces of the gradient.

    Writes every target as a smoothed distribution q (smoothed one-hot for indices); then
    l = sum_j c_j q_j (lse - x_j) and dl/dx_j = (sum_k c_k q_k) softmax_j - c_j q_j.
    """
    name = "cross_entropy"
    eps = _label_smoothing(name, label_smoothing)
    ignore_index = _ignore_index(name, ignore_index)
    x, axis, C = _classes_last(name, logits, axis)
    c = _class_weight(name, class_weight, C)
    log_p = _log_softmax(x)
    softmax = np.exp(log_p)
    nll = -log_p  # lse - x
    raw = np.asarray(target)
    if raw.dtype.kind in "iu":
        t, kept, safe = _index_targets(name, x, raw, C, ignore_index)
        c_t = c[safe]
        loss = (1.0 - eps) * c_t * _gather(nll, safe)
        if eps > 0.0:  # skipped at eps == 0 so that a -inf non-target logit stays finite
            loss = loss + (eps / C) * np.sum(c * nll, axis=-1)
        loss = np.where(kept, loss, 0.0)
        norm = np.where(kept, c_t, 0.0)
        # Gradient: W softmax_j - c_j q_j with q = (1 - eps) onehot + eps / C.  The target entry
        # W p_t - c_t q_t = -(1 - eps) c_t (1 - p_t) + (eps / C)(sum(c) p_t - c_t) is written out so
        # that 1 - p_t (the sum of the other probabilities) is exact when p_t is close to 1.
        onehot = _one_hot(safe, C)
        W = (1.0 - eps) * c_t + (eps / C) * np.sum(c)
        grad = W[..., None] * softmax - c * (eps / C)
        p_t = _gather(softmax, safe)
        one_minus_pt = np.sum(np.where(onehot, 0.0, softmax), axis=-1)
        g_t = -(1.0 - eps) * c_t * one_minus_pt + (eps / C) * (np.sum(c) * p_t - c_t)
        grad = np.where(onehot, g_t[..., None], grad)
        grad = np.where(kept[..., None], grad, 0.0)
    elif raw.dtype.kind == "f":
        y = _as_float(raw)
        if y.shape != np.moveaxis(x, -1, axis).shape:
            _fail(name, f"target of probabilities must have the logits shape "
                        f"{np.moveaxis(x, -1, axis).shape}, got {y.shape}")
        q = (1.0 - eps) * np.moveaxis(y, axis, -1) + eps / C
        loss = np.sum(c * q * nll, axis=-1)
        norm = None  # mean divides by the number of rows, like PyTorch
        kept = None
        W = np.sum(c * q, axis=-1)
        grad = W[..., None] * softmax - c * q
    else:
        _fail(name, f"target must hold integer class indices or floating probabilities, "
                    f"got dtype {raw.dtype}")
    return loss, norm, kept, grad, axis


def cross_entropy(logits, target, *, axis=-1, class_weight=None, ignore_index=-100,
                  label_smoothing=0.0, reduction="mean", sample_weight=None):
    """Softmax cross entropy (PyTorch ``cross_entropy``), class axis ``axis``: the lecture's
    ``CE = -sum_j y_j log p_j`` with ``p = softmax(x)`` (``lse - x_j = -log p_j``), its sparse
    cross-entropy for class indices, and its label smoothing ``y' = (1 - eps) y + eps / C``
    (C. Szegedy et al., "Rethinking the Inception Architecture for Computer Vision", 2016).

    With ``lse = logsumexp(x)`` over classes, ``c = class_weight`` (ones), ``eps =
    label_smoothing`` and C classes:

    * integer ``target`` (class indices, the logits shape without the class axis)::

          l_i = (1 - eps) c[t_i] (lse_i - x_{i,t_i}) + (eps / C) sum_j c_j (lse_i - x_ij)

      rows with ``t_i == ignore_index`` give 0; mean = sum_i s_i l_i / sum_{kept i} s_i c[t_i].
    * floating ``target`` (probabilities y, the logits' shape), ``q = (1 - eps) y + eps / C``::

          l_i = sum_j c_j q_ij (lse_i - x_ij)                 mean = sum_i s_i l_i / sum_i s_i
    """
    loss, norm, _, _, _ = _cross_entropy_parts(logits, target, axis, class_weight, ignore_index,
                                               label_smoothing)
    return _reduce("cross_entropy", loss, reduction, sample_weight, norm)


def cross_entropy_grad(logits, target, *, grad_output=None, argnums=0, axis=-1,
                       class_weight=None, ignore_index=-100, label_smoothing=0.0,
                       reduction="mean", sample_weight=None):
    """``dl_i/dx_ij = (sum_k c_k q_ik) softmax_ij - c_j q_ij`` (q: the smoothed target), 0 for
    ignored rows (also when every row is ignored, like PyTorch)."""
    loss, norm, kept, grad, axis = _cross_entropy_parts(logits, target, axis, class_weight,
                                                        ignore_index, label_smoothing)
    up = _upstream("cross_entropy", loss.shape, reduction, sample_weight, grad_output, norm)
    if kept is not None:
        up = np.where(kept, up, 0.0)  # 0, not 0 * nan, when the mean's denominator is 0
    return _gradient("cross_entropy", grad, axis, up, argnums)


def _nll_parts(log_probs, target, axis, class_weight, ignore_index):
    """Unreduced loss -c[t] x_t (0 for ignored rows), the mean normaliser c[t] (0 ignored), the
    kept-row mask, the one-hot of the targets and the rows holding a NaN (classes last)."""
    name = "nll"
    ignore_index = _ignore_index(name, ignore_index)
    x, axis, C = _classes_last(name, log_probs, axis)
    c = _class_weight(name, class_weight, C)
    t, kept, safe = _index_targets(name, x, target, C, ignore_index)
    c_t = c[safe]
    nan_row = np.isnan(x).any(axis=-1)  # NaN anywhere makes the row NaN (the README's rule)
    loss = np.where(kept, np.where(nan_row, np.nan, -(c_t * _gather(x, safe))), 0.0)
    return loss, np.where(kept, c_t, 0.0), kept, _one_hot(safe, C), c_t, nan_row, axis


def nll(log_probs, target, *, axis=-1, class_weight=None, ignore_index=-100, reduction="mean",
        sample_weight=None):
    """Negative log-likelihood of log-probabilities (PyTorch ``nll_loss``), the lecture's
    maximum-likelihood view of classification: with ``x = log p`` over the class axis and
    ``c = class_weight`` (ones)::

        l_i = -c[t_i] x_{i,t_i}

    Rows with ``t_i == ignore_index`` give 0; mean = sum_i s_i l_i / sum_{kept i} s_i c[t_i] (as
    cross_entropy's, of which this is the second half: cross_entropy(x) == nll(log_softmax(x))).
    A NaN anywhere in a row makes its loss NaN.
    """
    loss, norm, _, _, _, _, _ = _nll_parts(log_probs, target, axis, class_weight, ignore_index)
    return _reduce("nll", loss, reduction, sample_weight, norm)


def nll_grad(log_probs, target, *, grad_output=None, argnums=0, axis=-1, class_weight=None,
             ignore_index=-100, reduction="mean", sample_weight=None):
    """``dl_i/dx_ij = -c[t_i] [j == t_i]``, 0 for ignored rows and NaN for rows holding a NaN."""
    loss, norm, kept, onehot, c_t, nan_row, axis = _nll_parts(log_probs, target, axis,
                                                              class_weight, ignore_index)
    grad = np.where(onehot, -c_t[..., None], 0.0)
    grad = np.where(nan_row[..., None], np.nan, grad)
    grad = np.where(kept[..., None], grad, 0.0)
    up = _upstream("nll", loss.shape, reduction, sample_weight, grad_output, norm)
    up = np.where(kept, up, 0.0)  # 0, not 0 * nan, when the mean's denominator is 0
    return _select("nll", ("log_probs", "target"), argnums,
                   {"log_probs": np.moveaxis(grad * up[..., None], -1, axis)})


def _multiclass_hinge_parts(logits, target, margin, kind, squared, axis, class_weight):
    name = "multiclass_hinge"
    margin = _real(name, "margin", margin)
    if not math.isfinite(margin):
        _fail(name, f"margin must be finite, got {_fmt(margin)}")
    if kind not in ("weston_watkins", "crammer_singer"):
        _fail(name, f"kind must be 'weston_watkins' or 'crammer_singer', got {kind!r}")
    if not isinstance(squared, (bool, np.bool_)):
        _fail(name, f"squared must be a bool, got {squared!r}")
    x, axis, C = _classes_last(name, logits, axis)
    c = _class_weight(name, class_weight, C)
    t, _, _ = _index_targets(name, x, target, C, None)
    onehot = _one_hot(t, C)
    # h_j = max(0, margin + x_j - x_t) for j != t; h_t = 0
    h = np.where(onehot, 0.0, np.maximum(0.0, margin + x - _gather(x, t)[..., None]))
    return x, axis, C, c[t], onehot, h


def multiclass_hinge(logits, target, *, margin=1.0, kind="weston_watkins", squared=False,
                     axis=-1, class_weight=None, reduction="mean", sample_weight=None):
    """Multi-class hinge, integer targets, ``h_j = max(0, margin + x_j - x_t)`` for j != t::

        weston_watkins:  l = c[t] sum_{j != t} h_j^p        (the lecture's one-vs-all form)
        crammer_singer:  l = c[t] (max_{j != t} h_j)^p      (0 when C == 1)

    (J. Weston and C. Watkins, "Support Vector Machines for Multi-Class Pattern Recognition",
    1999; K. Crammer and Y. Singer, "On the Algorithmic Implementation of Multiclass
    Kernel-based Vector Machines", 2001.)

    ``p = 2`` if ``squared`` else 1.  Not divided by C (PyTorch ``multi_margin_loss`` is this
    weston_watkins loss divided by C).  mean = sum_i s_i l_i / sum_i s_i.
    """
    _, _, _, c_t, _, h = _multiclass_hinge_parts(logits, target, margin, kind, squared, axis,
                                                 class_weight)
    p = 2 if squared else 1
    if kind == "weston_watkins":
        loss = c_t * np.sum(h ** p, axis=-1)
    else:
        loss = c_t * np.max(h, axis=-1) ** p
    return _reduce("multiclass_hinge", loss, reduction, sample_weight)


def multiclass_hinge_grad(logits, target, *, grad_output=None, argnums=0, margin=1.0,
                          kind="weston_watkins", squared=False, axis=-1, class_weight=None,
                          reduction="mean", sample_weight=None):
    """Subgradient: ``dh_j^p/dx_j = [h_j > 0]`` (p = 1) or ``2 h_j`` (p = 2), and ``-`` that at
    x_t; for crammer_singer only the first argmax j of h_j gets it (nothing if max h == 0)."""
    x, axis, C, c_t, onehot, h = _multiclass_hinge_parts(logits, target, margin, kind, squared,
                                                         axis, class_weight)
    if kind == "weston_watkins":
        slope = 2.0 * h if squared else (h > 0.0).astype(np.float64)
    else:
        h_max = np.max(h, axis=-1, keepdims=True)
        first_argmax = _one_hot(np.argmax(h, axis=-1), C)
        slope = np.where(first_argmax & (h_max > 0.0), 2.0 * h_max if squared else 1.0, 0.0)
    # slope is 0 at j == t; the target logit gets minus the sum of the others
    grad = c_t[..., None] * np.where(onehot, -np.sum(slope, axis=-1, keepdims=True), slope)
    up = _upstream("multiclass_hinge", h.shape[:-1], reduction, sample_weight, grad_output)
    return _gradient("multiclass_hinge", grad, axis, up, argnums)


def _softmax_focal_parts(logits, target, alpha, gamma, axis, ignore_index):
    name = "softmax_focal"
    gamma = _real(name, "gamma", gamma)
    if not gamma >= 0.0:
        _fail(name, f"gamma must be >= 0, got {_fmt(gamma)}")
    ignore_index = _ignore_index(name, ignore_index)
    x, axis, C = _classes_last(name, logits, axis)
    t, kept, safe = _index_targets(name, x, target, C, ignore_index)
    if alpha is None:
        a_t = np.ones(t.shape)
    elif np.ndim(alpha) == 0:
        a_t = np.full(t.shape, _real(name, "alpha", alpha))
    else:
        a_t = _class_weight(name, alpha, C, arg="alpha")[safe]
    log_p = _log_softmax(x)
    p = np.exp(log_p)
    onehot = _one_hot(safe, C)
    log_pt = _gather(log_p, safe)
    one_minus_pt = np.sum(np.where(onehot, 0.0, p), axis=-1)  # exact even when p_t ~ 1
    return x, axis, gamma, kept, a_t, p, onehot, log_pt, one_minus_pt


def softmax_focal(logits, target, *, alpha=None, gamma=2.0, axis=-1, ignore_index=-100,
                  reduction="mean", sample_weight=None):
    """Softmax focal loss (T.-Y. Lin et al., "Focal Loss for Dense Object Detection", 2017),
    the lecture's ``FL = -alpha (1 - p)^gamma log p`` with ``p = softmax_t``::

        l = -a_t (1 - p_t)^gamma log p_t

    ``a_t`` = 1 (alpha None), alpha (scalar) or alpha[t] (C per-class weights).  Rows with
    ``t == ignore_index`` give 0; mean = sum_i s_i l_i / sum_{kept i} s_i.  gamma = 0 is
    (alpha-weighted) cross entropy.
    """
    _, _, gamma, kept, a_t, _, _, log_pt, one_minus_pt = _softmax_focal_parts(
        logits, target, alpha, gamma, axis, ignore_index)
    loss = np.where(kept, -a_t * one_minus_pt ** gamma * log_pt, 0.0)
    return _reduce("softmax_focal", loss, reduction, sample_weight, kept.astype(np.float64))


def softmax_focal_grad(logits, target, *, grad_output=None, argnums=0, alpha=None, gamma=2.0,
                       axis=-1, ignore_index=-100, reduction="mean", sample_weight=None):
    """``dl/dx_j = K (p_j - [j == t])`` with
    ``K = a_t ((1 - p_t)^gamma - gamma (1 - p_t)^(gamma - 1) p_t log p_t)``, the gamma term
    taken as 0 where ``1 - p_t == 0`` or ``gamma == 0``; ``p_t - 1`` is ``-(1 - p_t)``."""
    x, axis, gamma, kept, a_t, p, onehot, log_pt, one_minus_pt = _softmax_focal_parts(
        logits, target, alpha, gamma, axis, ignore_index)
    focal_slope = np.zeros(one_minus_pt.shape)  # gamma (1 - p_t)^(gamma - 1), or 0
    if gamma != 0.0:
        np.power(one_minus_pt, gamma - 1.0, out=focal_slope, where=one_minus_pt > 0)
        focal_slope *= gamma
    K = a_t * (one_minus_pt ** gamma - focal_slope * np.exp(log_pt) * log_pt)
    grad = K[..., None] * np.where(onehot, -one_minus_pt[..., None], p)
    up = _upstream("softmax_focal", kept.shape, reduction, sample_weight, grad_output,
                   kept.astype(np.float64))
    up = np.where(kept, up, 0.0)
    return _gradient("softmax_focal", grad, axis, up, argnums)
