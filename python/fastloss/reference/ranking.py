"""Ranking losses (the lecture's "Ranking Losses": pairwise, listwise): scores of the items to
order and what says how they should be ordered.

``margin_ranking`` is the pairwise hinge on two scores; both scores have a gradient, the
preference has none.
"""

from __future__ import annotations

import numpy as np

from ._argnums import _select
from ._checks import _fail, _fmt, _pair, _real
from ._reductions import _reduce, _upstream

# The names fastloss re-exports (its package __init__ adds each module's __all__).
__all__ = [
    "margin_ranking",
    "margin_ranking_grad",
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
