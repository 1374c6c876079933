"""Ranking losses (the lecture's "Ranking Losses": pairwise, listwise): scores of the items to
order and what says how they should be ordered.

``margin_ranking`` is the pairwise hinge on two scores; both scores have a gradient, the
preference has none. ``listnet`` and ``listmle`` are listwise: each list (the items along
``axis``) has scores, relevance labels and an optional boolean ``mask`` (False: padding, left
out of the list); only the scores have a gradient. Their mean is over the lists with at least
one valid item, and a mean over none is 0 (a batch of padding has no loss and no gradient).

``structured_hinge`` is the lecture's structured hinge over K candidate outputs per sample: their
scores, the index of the true one and the task loss of every candidate; only the scores have a
gradient.
"""

from __future__ import annotations

import numpy as np

from ._argnums import _select
from ._checks import _as_float, _fail, _fmt, _pair, _real
from ._reductions import _reduce, _upstream
from ._rows import _classes_last, _gather, _index_targets, _log_softmax, _one_hot

# The names fastloss re-exports (its package __init__ adds each module's __all__).
__all__ = [
    "listmle",
    "listmle_grad",
    "listnet",
    "listnet_grad",
    "margin_ranking",
    "margin_ranking_grad",
    "structured_hinge",
    "structured_hinge_grad",
]


def _ranking_arrays(name, x1, x2, y, margin):
    x1, x2 = _pair(name, x1, x2, first="x1")
    try:
        y = np.broadcast_to(np.asarray(y, dtype=np.float64), x1.shape)
    except ValueError:
        _fail(name, f"y of shape {np.shape(y)} does not broadcast to the shape {x1.shape}")
    margin = _real(name, "margin", margin)
    if not margin >= 0 or not np.isfinite(margin):
        _fail(name, f"margin must be finite and >= 0, got {_fmt(margin)}")
    return x1, x2, y, margin


def margin_ranking(x1, x2, y, *, margin=0.0, reduction="mean", sample_weight=None):
    """Margin ranking loss (PyTorch ``margin_ranking_loss``), the lecture's pairwise ranking
    hinge for a preference ``y`` (1: ``x1`` should score higher, -1: ``x2`` should)::

        l = max(0, -y (x1 - x2) + margin)

    ``y`` broadcasts to the scores' shape and may be any real number (PyTorch does not check it:
    y = 0 gives ``max(0, margin)``).
    """
    x1, x2, y, margin = _ranking_arrays("margin_ranking", x1, x2, y, margin)
    return _reduce("margin_ranking", np.maximum(0.0, margin - y * (x1 - x2)), reduction,
                   sample_weight)


def margin_ranking_grad(x1, x2, y, *, grad_output=None, argnums=0, margin=0.0,
                        reduction="mean", sample_weight=None):
    """``dl/dx1 = -y`` where the hinge is active (``margin - y (x1 - x2) > 0``), else 0 (also at
    the kink, where PyTorch's clamp passes ``-y``); ``dl/dx2 = -dl/dx1``; ``y`` has none."""
    name = "margin_ranking"
    x1, x2, y, margin = _ranking_arrays(name, x1, x2, y, margin)
    m = margin - y * (x1 - x2)
    local = np.where(np.isnan(m), m, np.where(m > 0, -y, 0.0))  # NaN propagates, as the value
    d_x1 = local * _upstream(name, x1.shape, reduction, sample_weight, grad_output)
    return _select(name, ("x1", "x2", "y"), argnums, {"x1": d_x1, "x2": -d_x1})


# ---- listwise ---------------------------------------------------------------------------------

def _lists(name, scores, relevance, axis, mask):
    """Scores, relevance and mask (all True when None) with the items last; and the axis."""
    s, axis, _ = _classes_last(name, scores, axis)
    r = _as_float(relevance)
    if r.shape != np.moveaxis(s, -1, axis).shape:
        _fail(name, f"relevance must have the scores' shape, got {r.shape}")
    r = np.moveaxis(r, axis, -1)
    if mask is None:
        valid = np.ones(s.shape, dtype=bool)
    else:
        valid = np.asarray(mask)
        if valid.dtype != np.bool_ or valid.shape != np.moveaxis(s, -1, axis).shape:
            _fail(name, "mask must be a boolean array of the scores' shape")
        valid = np.moveaxis(valid, axis, -1)
    return s, r, valid, axis


def _list_reduce(name, loss, counted, reduction, sample_weight):
    """mean = sum(w l) / sum(w) over the counted lists, 0 when that sum is 0."""
    if reduction == "mean":
        total = _reduce(name, loss, "sum", sample_weight)
        denominator = _reduce(name, counted.astype(np.float64), "sum", sample_weight)
        return np.asarray(0.0 if denominator == 0 else total / denominator)
    return _reduce(name, loss, reduction, sample_weight)


def _list_upstream(name, shape, counted, reduction, sample_weight, grad_output):
    if reduction == "mean":
        denominator = _reduce(name, counted.astype(np.float64), "sum", sample_weight)
        if denominator == 0:
            return np.zeros(shape)
        return _upstream(name, shape, "mean", sample_weight, grad_output, norm=counted)
    return _upstream(name, shape, reduction, sample_weight, grad_output)


def _listnet_one(s, r):
    """One list's loss -sum q log p and gradient p - q, q = softmax(r), p = softmax(s)."""
    if (np.any(np.isnan(s)) or np.any(np.isnan(r)) or np.any(s == np.inf)
            or np.any(r == np.inf) or np.all(r == -np.inf) or np.all(s == -np.inf)):
        return np.nan, np.full(s.shape, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        log_p, log_q = _log_softmax(s), _log_softmax(r)
        q = np.exp(log_q)
        loss = -np.sum(np.where(q == 0.0, 0.0, q * log_p))
    return loss, np.exp(log_p) - q


def _listmle_one(s, r):
    """One list's Plackett-Luce negative log-likelihood of its order by decreasing relevance
    (ties in list order), and its gradient."""
    if np.any(np.isnan(s)) or np.any(np.isnan(r)) or np.any(np.isinf(s)):
        return np.nan, np.full(s.shape, np.nan)
    order = np.argsort(-r, kind="stable")
    ordered = s[order]
    # lse[k] = log sum_{l >= k} exp(s_pi(l)); each term lse[k] - s_pi(k) is taken as
    # softplus(lse[k + 1] - s_pi(k)), which keeps its relative accuracy when it is small
    lse = np.logaddexp.accumulate(ordered[::-1])[::-1]
    after = np.append(lse[1:], -np.inf)
    loss = np.sum(np.logaddexp(0.0, after - ordered))
    # d/ds_pi(m) = sum_{k <= m} exp(s_pi(m) - lse[k]) - 1
    #            = expm1(s_pi(m) - lse[m]) + exp(s_pi(m) + log sum_{k < m} exp(-lse[k]))
    before = np.append(-np.inf, np.logaddexp.accumulate(-lse)[:-1])
    grad_ordered = np.expm1(ordered - lse) + np.exp(ordered + before)
    grad = np.empty_like(s)
    grad[order] = grad_ordered
    return loss, grad


def _listwise(name, one, scores, relevance, axis, mask):
    """Per list the loss (0 for a list of padding only), per item the slope (0 at padding), the
    counted lists, and the axis."""
    s, r, valid, axis = _lists(name, scores, relevance, axis, mask)
    loss = np.zeros(s.shape[:-1])
    slope = np.zeros(s.shape)
    for index in np.ndindex(*s.shape[:-1]):
        keep = valid[index]
        if keep.any():
            value, g = one(s[index][keep], r[index][keep])
            loss[index] = value
            slope[index + (keep,)] = g
    return loss, slope, valid.any(axis=-1), axis


def _listwise_grad(name, one, scores, relevance, axis, mask, grad_output, argnums, reduction,
                   sample_weight):
    loss, slope, counted, axis = _listwise(name, one, scores, relevance, axis, mask)
    up = _list_upstream(name, loss.shape, counted, reduction, sample_weight, grad_output)
    d_scores = np.moveaxis(slope * up[..., None], -1, axis)
    return _select(name, ("scores", "relevance"), argnums, {"scores": d_scores})


def listnet(scores, relevance, *, axis=-1, mask=None, reduction="mean", sample_weight=None):
    """ListNet (Cao et al. 2007): per list, the cross-entropy between the top-one probabilities
    of the relevance labels and of the scores::

        q = softmax(relevance),  p = softmax(scores),  l = -sum_j q_j log p_j

    (relevance = scores gives the lecture's listwise loss, the entropy -sum p log p). A q_j of
    exactly 0 (relevance -inf) contributes 0. NaN, a +inf score or label, or a list whose labels
    (or scores) are all -inf make the list's loss NaN.
    """
    loss, _, counted, _ = _listwise("listnet", _listnet_one, scores, relevance, axis, mask)
    return _list_reduce("listnet", loss, counted, reduction, sample_weight)


def listnet_grad(scores, relevance, *, grad_output=None, argnums=0, axis=-1, mask=None,
                 reduction="mean", sample_weight=None):
    """``dl/ds_j = p_j - q_j`` on the valid items, 0 at padding; relevance has none."""
    return _listwise_grad("listnet", _listnet_one, scores, relevance, axis, mask, grad_output,
                          argnums, reduction, sample_weight)


def listmle(scores, relevance, *, axis=-1, mask=None, reduction="mean", sample_weight=None):
    """ListMLE (Xia et al. 2008): per list, the negative log-likelihood of its order pi by
    decreasing relevance (ties in list order) under the Plackett-Luce model of the scores::

        l = sum_k [log sum_{l >= k} exp(s_pi(l)) - s_pi(k)]

    NaN anywhere or an infinite score makes the list's loss NaN.
    """
    loss, _, counted, _ = _listwise("listmle", _listmle_one, scores, relevance, axis, mask)
    return _list_reduce("listmle", loss, counted, reduction, sample_weight)


def listmle_grad(scores, relevance, *, grad_output=None, argnums=0, axis=-1, mask=None,
                 reduction="mean", sample_weight=None):
    """``dl/ds_pi(m) = sum_{k <= m} exp(s_pi(m)) / sum_{l >= k} exp(s_pi(l)) - 1`` on the valid
    items, 0 at padding; relevance has none."""
    return _listwise_grad("listmle", _listmle_one, scores, relevance, axis, mask, grad_output,
                          argnums, reduction, sample_weight)


# ---- structured -------------------------------------------------------------------------------

def _costs(name, cost, scores_shape, x, t, axis, cost_per_sample):
    """Delta(t, .) of every sample, classes last: 1 off the target and 0 at it when cost is None,
    row t of a (K, K) table, or each sample's own row of costs of the scores' shape."""
    K = x.shape[-1]
    if cost is None:
        return np.where(_one_hot(t, K), 0.0, 1.0)
    c = _as_float(cost)
    as_table, as_rows = c.shape == (K, K), c.shape == scores_shape
    if cost_per_sample is None:
        if as_table and as_rows:
            _fail(name, f"a cost of shape {c.shape} is ambiguous for scores of that shape: pass "
                        f"cost_per_sample=True (each sample's costs) or False (a table)")
        per_sample = as_rows
    else:
        per_sample = bool(cost_per_sample)
    if not (as_rows if per_sample else as_table):
        _fail(name, f"cost must have shape ({K}, {K}) (a table) or the scores' shape "
                    f"{scores_shape} (each sample's costs), got {c.shape}")
    if not np.all(np.isfinite(c)) or np.any(c < 0):
        _fail(name, "cost must be finite and >= 0")
    return np.moveaxis(c, axis, -1) if per_sample else c[t]


def _structured_parts(scores, target, cost, rescaling, cost_per_sample, axis):
    """Per sample the loss and the candidate that reaches it: t on ties, else the first."""
    name = "structured_hinge"
    if rescaling not in ("margin", "slack"):
        _fail(name, f"rescaling must be 'margin' or 'slack', got {rescaling!r}")
    x, axis, K = _classes_last(name, scores, axis)
    t, _, _ = _index_targets(name, x, target, K, None)
    delta = _costs(name, cost, np.shape(scores), x, t, axis, cost_per_sample)
    f_t = _gather(x, t)[..., None]
    with np.errstate(invalid="ignore"):
        z = delta + x - f_t if rescaling == "margin" else delta * (1.0 + x - f_t)
    own = _gather(delta, t)  # f(y) - f(y) = 0 exactly, also where f(y) is infinite
    z = np.where(_one_hot(t, K), own[..., None], z)
    loss = np.where(np.isnan(f_t[..., 0]), np.nan, np.max(z, axis=-1))  # NaN with any NaN term
    competitor = np.argmax(np.where(_one_hot(t, K) | np.isnan(z), -np.inf, z), axis=-1)
    best = np.where(_gather(z, competitor) > own, competitor, t)
    return x, t, delta, axis, loss, best


def structured_hinge(scores, target, *, cost=None, rescaling="margin", cost_per_sample=None,
                     axis=-1, reduction="mean", sample_weight=None):
    """Structured hinge (Tsochantaridis et al. 2005) of K candidate scores f per sample, the true
    candidate y and the task loss Delta(y, .) of every candidate::

        margin: l = max_{y'} [Delta(y, y') + f(y') - f(y)]
        slack:  l = max_{y'} Delta(y, y') (1 + f(y') - f(y))

    over every candidate y', y itself included (its term is Delta(y, y), 0 for a task loss).
    ``cost`` is None (0/1 costs: Crammer and Singer's multi-class hinge with margin 1), a (K, K)
    table whose row y is Delta(y, .), or each sample's costs in the scores' shape;
    ``cost_per_sample`` says which when both shapes fit. NaN in the scores makes the sample's
    loss NaN.
    """
    _, _, _, _, loss, _ = _structured_parts(scores, target, cost, rescaling, cost_per_sample,
                                            axis)
    return _reduce("structured_hinge", loss, reduction, sample_weight)


def structured_hinge_grad(scores, target, *, grad_output=None, argnums=0, cost=None,
                          rescaling="margin", cost_per_sample=None, axis=-1, reduction="mean",
                          sample_weight=None):
    """Subgradient: y wins ties (gradient 0); else for the first candidate y* (in class order)
    that reaches the max, ``dl/df(y*) = 1`` (margin) or ``Delta(y, y*)`` (slack) and
    ``dl/df(y)`` minus that; a NaN row where the loss is NaN. The target and costs have none."""
    name = "structured_hinge"
    x, t, delta, axis, loss, best = _structured_parts(scores, target, cost, rescaling,
                                                      cost_per_sample, axis)
    K = x.shape[-1]
    slope = np.where(best != t, 1.0 if rescaling == "margin" else _gather(delta, best), 0.0)
    grad = slope[..., None] * (_one_hot(best, K).astype(np.float64) - _one_hot(t, K))
    grad = np.where(np.isnan(loss)[..., None], np.nan, grad)
    up = _upstream(name, loss.shape, reduction, sample_weight, grad_output)
    d_scores = np.moveaxis(grad * up[..., None], -1, axis)
    return _select(name, ("scores", "target"), argnums, {"scores": d_scores})
