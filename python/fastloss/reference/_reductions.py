"""Reductions and upstream gradients shared by every reference.

``_reduce`` applies ``sample_weight`` s and the reduction to the unreduced loss l; ``_upstream``
is its derivative: d sum(grad_output * reduced) / d l, one value per unreduced loss element.
"""

from __future__ import annotations

import numpy as np

from ._checks import _as_float, _fail, _sample_weight

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(name, reduction):
    if not isinstance(reduction, str) or reduction not in _REDUCTIONS:
        _fail(name, f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _reduce(name, loss, reduction, sample_weight, norm=None):
    """Apply sample_weight s and reduce: none -> s*l, sum -> sum(s*l), mean -> sum(s*l)/sum(s*n)."""
    _check_reduction(name, reduction)
    s = _sample_weight(name, sample_weight, loss.shape)
    weighted = loss if s is None else s * loss
    if reduction == "none":
        return np.asarray(weighted, dtype=np.float64)
    total = np.sum(weighted)
    if reduction == "sum":
        return np.asarray(total, dtype=np.float64)
    if norm is None:
        norm = np.ones(loss.shape)
    denominator = np.sum(norm if s is None else s * norm)
    if denominator == 0:
        # Empty, all ignored, or zero total weight: nan, as PyTorch, also where label smoothing
        # leaves a non-zero numerator (total / 0 would be inf).
        return np.asarray(np.nan)
    return np.asarray(total / denominator, dtype=np.float64)


def _upstream(name, shape, reduction, sample_weight, grad_output, norm=None):
    """d sum(grad_output * reduced loss) / d l, one value per unreduced loss element."""
    _check_reduction(name, reduction)
    s = _sample_weight(name, sample_weight, shape)
    s = np.ones(shape) if s is None else s
    if reduction == "none":
        g = np.ones(shape) if grad_output is None else _as_float(grad_output)
        try:
            g = np.broadcast_to(g, shape)
        except ValueError:
            _fail(name, f"grad_output of shape {g.shape} is not broadcastable to the loss shape "
                        f"{shape}")
        return g * s
    g = 1.0 if grad_output is None else grad_output
    if np.ndim(g) != 0:
        _fail(name, f"grad_output must be a scalar for reduction={reduction!r}, "
                    f"got shape {np.shape(g)}")
    g = float(g)
    if reduction == "sum":
        return g * s
    if norm is None:
        norm = np.ones(shape)
    denominator = np.sum(s * norm)
    if denominator == 0:  # the mean is nan (see _reduce), and so is its gradient
        return np.full(shape, np.nan)
    return g * s / denominator

