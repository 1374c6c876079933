"""Metric-learning losses (the lecture's "Metric Learning Losses"): losses of distances between
embeddings, or of the embeddings themselves, and whether pairs are similar.

``hinge_embedding`` takes the distances (or any score) and a similar/dissimilar label per
element; only the distances have a gradient.
"""

from __future__ import annotations

import numpy as np

from ._argnums import _select
from ._checks import _fail, _fmt, _pair, _real
from ._reductions import _reduce, _upstream

# The names fastloss re-exports (its package __init__ adds each module's __all__).
__all__ = [
    "hinge_embedding",
    "hinge_embedding_grad",
]


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
