"""Metric-learning losses: rows of D features along the last axis of two or three embedding
arrays of one shape and dtype, one loss per row (the embedding driver, ``cpp/src/cpu/
embedding.cc``). Every embedding array is differentiable (``argnums`` any of its positions);
a row label (contrastive's ``similar``) is not.

``reduction`` is ``"mean"`` (over rows), ``"sum"`` or ``"none"`` (the row shape: the arrays'
shape without the feature axis); ``sample_weight`` broadcasts to the row shape and
``mean = sum(s l) / sum(s)``.
"""

from __future__ import annotations

import numpy as np

from ._arrays import any_array
from ._dispatch import float_input
from ._dispatch_embedding import embedding
from ._registry import LossSpec, register
from ._validate import fail, real_scalar

__all__ = ["contrastive"]


def _margin(fn: str, margin) -> float:
    m = real_scalar(fn, "margin", margin)
    if not (m >= 0 and np.isfinite(m)):
        fail(fn, f"margin must be a finite number >= 0, got {margin!r}")
    return m


@any_array
def contrastive(x1, x2, similar, *, margin=1.0, reduction="mean", sample_weight=None):
    r"""Contrastive loss of pairs of embeddings: pull similar pairs together, push dissimilar
    ones at least ``margin`` apart.

    .. math:: \ell_i = \tfrac12\big[y_i d_i^2 + (1 - y_i)\max(0, m - d_i)^2\big], \qquad
       d_i = \lVert x_{1,i} - x_{2,i} \rVert_2

    per row of the last axis (the features), with :math:`y_i = 1` for a similar pair and 0
    for a dissimilar one (the lecture's form). Gradients:
    :math:`\partial\ell/\partial x_1 = c\,(x_1 - x_2) = -\partial\ell/\partial x_2` with
    :math:`c = y - (1 - y)\max(0, m - d)/d`. The distance is exact (no eps): at :math:`d = 0`
    (coincident embeddings) the hinge term's gradient is taken as 0, a subgradient, never NaN.

    Conventions differ: Hadsell, Chopra and LeCun's paper writes :math:`Y = 0` for *similar*
    pairs (the opposite polarity: pass ``1 - y``), and pytorch-metric-learning's
    ``ContrastiveLoss`` uses unsquared, unhalved terms :math:`d` and :math:`\max(0, m - d)`.

    Edge cases: a dissimilar pair at an infinite distance gives 0 with gradient 0, a similar
    one +inf; NaN in a row makes its loss NaN, and every gradient entry of a dissimilar pair
    (of a similar pair, whose gradient is :math:`\pm(x_1 - x_2)`, the NaN coordinates).

    Args:
      x1: float32/float64 embeddings of shape ``(..., D)``.
      x2: embeddings of the shape and dtype of ``x1``.
      similar: labels of the row shape ``x1.shape[:-1]``, any real dtype, each 0 or 1
        (1 = similar); anything else is a ``ValueError``.
      margin: m >= 0 (default 1.0).

    >>> import numpy as np, fastloss
    >>> x1, x2 = np.array([[0.0, 0.0], [0.0, 0.0]]), np.array([[0.3, 0.4], [0.3, 0.4]])
    >>> fastloss.contrastive(x1, x2, np.array([1, 0]), reduction="none").round(12).tolist()
    [0.125, 0.125]

    Reference: R. Hadsell, S. Chopra and Y. LeCun, "Dimensionality Reduction by Learning an
    Invariant Mapping", 2006.
    """
    fn = "contrastive"
    x = float_input(fn, "x1", x1)
    m = _margin(fn, margin)
    return embedding(fn, "contrastive", (x, x2), names=("x1", "x2"), label=similar,
                     label_name="similar", label_rule="0 or 1", params=(m,),
                     reduction=reduction, sample_weight=sample_weight)


def _pair_sample(rng, shape, dtype):
    """Pairs at distances around the default margin (x2 = x1 + noise of scale 1/sqrt(D)) and
    half of them similar; labels as int64 (any real dtype is accepted)."""
    x1 = rng.normal(0.0, 1.0, shape)
    d = shape[-1] if shape else 1
    x2 = x1 + rng.normal(0.0, 1.0 / np.sqrt(max(d, 1)), shape)
    similar = rng.integers(0, 2, shape[:-1]).astype(np.int64)
    return (x1.astype(dtype), x2.astype(dtype)), {"similar": similar}


def _contrastive_kinks(args, kwargs):
    """Dissimilar pairs: the hinge's end at d = m and the distance's cone at d = 0."""
    x1, x2 = (np.asarray(a, np.float64) for a in args[:2])
    d = np.sqrt(np.sum((x1 - x2) ** 2, axis=-1))
    similar = np.asarray(kwargs["similar"]) == 1
    return np.where(similar, np.inf, np.minimum(np.abs(d - kwargs["margin"]), d))


register(LossSpec("contrastive", "metric", "embedding", contrastive, _pair_sample,
                  variants=({}, {"margin": 0.0}, {"margin": 2.5}),
                  differentiable=("x1", "x2"), kinks=_contrastive_kinks, growth="quadratic"))
