"""Metric-learning losses (the lecture's "Metric Learning Losses").

contrastive, cosine_embedding and triplet: rows of D features along the last axis of two or three embedding arrays
of one shape, one loss per row; every embedding array has a gradient, a pair's similarity label
does not. hinge_embedding takes the distances (or any score) and a similar/dissimilar label per
element; only the distances have a gradient.
"""

from __future__ import annotations

import math

import numpy as np

from ._argnums import _select
from ._checks import _as_float, _fail, _fmt, _pair, _real
from ._reductions import _reduce, _upstream

__all__ = [
    "contrastive",
    "contrastive_grad",
    "cosine_embedding",
    "cosine_embedding_grad",
    "hinge_embedding",
    "hinge_embedding_grad",
    "triplet",
    "triplet_grad",
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


_COSINE_EPS = 1e-12  # added to each squared norm, as PyTorch's cosine_embedding_loss


def _cosine_parts(x1, x2, target, margin):
    """Per row: the loss, d l / d cos, and the cosine's pieces (dot, |x1|^2 + e, |x2|^2 + e)."""
    name = "cosine_embedding"
    m = _real(name, "margin", margin)
    if not math.isfinite(m):
        _fail(name, f"margin must be finite, got {_fmt(margin)}")
    x1, x2 = _embeddings(name, ("x1", "x2"), (x1, x2))
    y = np.asarray(target)
    if y.dtype.kind not in "biuf":
        _fail(name, f"target must hold real labels, got dtype {y.dtype}")
    y = y.astype(np.float64)
    if y.shape != x1.shape[:-1]:
        _fail(name, f"target must have the row shape {x1.shape[:-1]}, got {y.shape}")
    if not np.all((y == 1) | (y == -1)):
        _fail(name, "target must hold 1 (similar) or -1 (dissimilar)")
    dot = np.sum(x1 * x2, axis=-1)
    n1 = np.sum(x1 * x1, axis=-1) + _COSINE_EPS
    n2 = np.sum(x2 * x2, axis=-1) + _COSINE_EPS
    with np.errstate(invalid="ignore"):
        cos = dot / np.sqrt(n1 * n2)
        h = cos - m
        active = np.where(h > 0, 1.0, np.where(np.isnan(h), h, 0.0))
    similar = y == 1
    # dissimilar: h where the hinge is active, else 0 (NaN stays NaN, through `active`)
    loss = np.where(similar, 1.0 - cos, np.where(h > 0, h, active))
    slope = np.where(similar, -1.0, active)
    return loss, slope, (x1, x2, dot, n1, n2)


def cosine_embedding(x1, x2, target, *, margin=0.0, reduction="mean", sample_weight=None):
    """Cosine embedding loss of embedding pairs, per row (PyTorch ``cosine_embedding_loss``)::

        cos_i = <x1_i, x2_i> / sqrt((|x1_i|^2 + 1e-12) (|x2_i|^2 + 1e-12))
        l_i = 1 - cos_i                 if y_i = 1
              max(0, cos_i - margin)    if y_i = -1

    labels other than 1 and -1 are an error. mean = sum_i s_i l_i / sum_i s_i.
    """
    loss, _, _ = _cosine_parts(x1, x2, target, margin)
    return _reduce("cosine_embedding", loss, reduction, sample_weight)


def cosine_embedding_grad(x1, x2, target, *, grad_output=None, argnums=0, margin=0.0,
                          reduction="mean", sample_weight=None):
    """``d cos / d x1 = (x2 - dot / (|x1|^2 + e) x1) / sqrt((|x1|^2 + e)(|x2|^2 + e))`` and
    symmetrically for x2, times -1 (similar) or the hinge's indicator (dissimilar; 0 at the
    kink and past it, where the gradient is 0 whatever the coordinates)."""
    name = "cosine_embedding"
    loss, slope, (a, b, dot, n1, n2) = _cosine_parts(x1, x2, target, margin)
    up = _upstream(name, loss.shape, reduction, sample_weight, grad_output)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = (up * slope / np.sqrt(n1 * n2))[..., None]
        zero = (slope == 0)[..., None]
        g1 = np.where(zero, 0.0, s * (b - (dot / n1)[..., None] * a))
        g2 = np.where(zero, 0.0, s * (a - (dot / n2)[..., None] * b))
    return _select(name, ("x1", "x2", "target"), argnums, {"x1": g1, "x2": g2})


def _triplet_params(name, margin, p, eps, swap):
    m = _margin(name, margin)
    power = _real(name, "p", p)
    if not (power >= 1 and math.isfinite(power)):
        _fail(name, f"p must be a finite number >= 1, got {_fmt(p)}")
    e = _real(name, "eps", eps)
    if not math.isfinite(e):
        _fail(name, f"eps must be finite, got {_fmt(eps)}")
    if not isinstance(swap, (bool, np.bool_)):
        _fail(name, f"swap must be a bool, got {swap!r}")
    return m, power, e, bool(swap)


def _norm_and_gradient(v, p):
    """||v||_p over the last axis, as m ||v / m||_p with m = max |v_j| (no overflow or
    underflow of |v_j|^p), and its gradient sign(v) (|v| / ||v||)^(p-1) (0 where the norm is
    0)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        m = np.max(np.abs(v), axis=-1, initial=0.0)
        safe = np.where((m > 0) & np.isfinite(m), m, 1.0)[..., None]
        d = np.where((m > 0) & np.isfinite(m),
                     m * np.sum((np.abs(v) / safe) ** p, axis=-1) ** (1.0 / p), m)
        d = np.where(np.isnan(v).any(axis=-1), np.nan, d)
        u = v / d[..., None] if p == 2 else np.sign(v) * (np.abs(v) / d[..., None]) ** (p - 1)
    return d, np.where((d == 0)[..., None], 0.0, u)


def _triplet_parts(a, pos, neg, margin, p, eps, swap):
    """Per row: the loss, the hinge's gate, whether the negative distance was swapped, and the
    norms' gradients for (a - p + eps), (a - n + eps), (p - n + eps)."""
    d_ap, u_ap = _norm_and_gradient(a - pos + eps, p)
    d_an, u_an = _norm_and_gradient(a - neg + eps, p)
    d_pn, u_pn = _norm_and_gradient(pos - neg + eps, p)
    swapped = swap & (d_pn < d_an)
    h = margin + d_ap - np.where(swapped, d_pn, d_an)
    loss = np.where(h > 0, h, np.where(np.isnan(h), h, 0.0))
    gate = np.where(np.isnan(h), np.nan, (h > 0).astype(np.float64))  # NaN rows stay NaN
    return loss, gate, swapped, u_ap, u_an, u_pn


def triplet(anchor, positive, negative, *, margin=1.0, p=2.0, eps=1e-6, swap=False,
            reduction="mean", sample_weight=None):
    """Triplet margin loss per row (the last axis the features), PyTorch's distance::

        d(x, y) = ||x - y + eps||_p
        d_neg = d(a, n), or with swap min(d(a, n), d(p, n))
        l_i = max(0, margin + d(a_i, p_i) - d_neg_i)

    mean = sum_i s_i l_i / sum_i s_i.
    """
    name = "triplet"
    m, power, e, sw = _triplet_params(name, margin, p, eps, swap)
    a, pos, neg = _embeddings(name, ("anchor", "positive", "negative"),
                              (anchor, positive, negative))
    loss = _triplet_parts(a, pos, neg, m, power, e, sw)[0]
    return _reduce(name, loss, reduction, sample_weight)


def triplet_grad(anchor, positive, negative, *, grad_output=None, argnums=0, margin=1.0,
                 p=2.0, eps=1e-6, swap=False, reduction="mean", sample_weight=None):
    """With u the p-norm's gradient at each difference (0 at a zero difference) and the hinge
    active (0 at its kink and below): ``d/da = u_ap - u_an``, ``d/dp = -u_ap``,
    ``d/dn = u_an``; swapped (``d(p, n) < d(a, n)``): ``d/da = u_ap``,
    ``d/dp = -u_ap - u_pn``, ``d/dn = u_pn``."""
    name = "triplet"
    m, power, e, sw = _triplet_params(name, margin, p, eps, swap)
    a, pos, neg = _embeddings(name, ("anchor", "positive", "negative"),
                              (anchor, positive, negative))
    loss, gate, swapped, u_ap, u_an, u_pn = _triplet_parts(a, pos, neg, m, power, e, sw)
    up = _upstream(name, loss.shape, reduction, sample_weight, grad_output)
    c = (up * gate)[..., None]
    s = swapped[..., None]
    off = (gate == 0)[..., None]  # an inactive hinge: 0, also at an infinite coordinate
    with np.errstate(invalid="ignore"):
        g_ap = np.where(off, 0.0, c * u_ap)
        g_neg = np.where(off, 0.0, c * np.where(s, u_pn, u_an))
    grads = {"anchor": np.where(s, g_ap, g_ap - g_neg),
             "positive": np.where(s, -g_ap - g_neg, -g_ap),
             "negative": g_neg}
    return _select(name, ("anchor", "positive", "negative"), argnums, grads)


def _hinge_embedding_terms(input, target, margin):
    name = "hinge_embedding"
    x, y = _pair(name, input, target, first="input")
    margin = _real(name, "margin", margin)
    if not np.isfinite(margin):
        _fail(name, f"margin must be finite, got {_fmt(margin)}")
    # PyTorch's where(y != 1, max(0, margin - x)) + where(y != -1, x): both terms for other y
    return x, y != 1, y != -1, margin - x


def hinge_embedding(input, target, *, margin=1.0, reduction="mean", sample_weight=None):
    """Hinge embedding loss (PyTorch ``hinge_embedding_loss``), for an input ``x`` that is
    usually the distance of a pair and a label ``y`` (1: similar, -1: dissimilar)::

        l = x                    if y = 1
            max(0, margin - x)   if y = -1

    (both terms for any other y, as PyTorch).
    """
    x, dissimilar, similar, m = _hinge_embedding_terms(input, target, margin)
    loss = np.where(dissimilar, np.maximum(m, 0.0), 0.0) + np.where(similar, x, 0.0)
    return _reduce("hinge_embedding", loss, reduction, sample_weight)


def hinge_embedding_grad(input, target, *, grad_output=None, argnums=0, margin=1.0,
                         reduction="mean", sample_weight=None):
    """``dl/dx = 1`` where y = 1, ``-1`` where y = -1 and ``margin - x > 0`` (0 at and past the
    kink, where PyTorch's clamp passes -1), the sum of both for other y; NaN where x is NaN."""
    x, dissimilar, similar, m = _hinge_embedding_terms(input, target, margin)
    slope = np.where(dissimilar & (m > 0), -1.0, 0.0) + np.where(similar, 1.0, 0.0)
    local = np.where(np.isnan(x), x, slope)
    up = _upstream("hinge_embedding", x.shape, reduction, sample_weight, grad_output)
    return _select("hinge_embedding", ("input", "target"), argnums, {"input": local * up})
