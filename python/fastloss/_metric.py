"""Metric-learning losses (the lecture's "Metric Learning Losses"): losses of the distances
between embeddings and of whether pairs are similar.

``hinge_embedding`` is PyTorch's ``hinge_embedding_loss``, a pointwise kernel on the distances
with the similar/dissimilar labels as its target. ``reduction`` and ``sample_weight`` work as in
:mod:`fastloss._regression`.
"""

from __future__ import annotations

from ._arrays import any_array
from ._dispatch import float_input, pointwise
from ._small_call import small_call
from . import _samplers as S
from ._registry import LossSpec, register
from ._validate import real_scalar

# The names fastloss re-exports (its package __init__ adds each module's __all__).
__all__ = [
    "hinge_embedding",
]


@small_call("hinge_embedding", "margin")
@any_array
def hinge_embedding(input, target, *, margin=1.0, reduction="mean", sample_weight=None):
    r"""Hinge embedding loss: pull similar pairs together, push dissimilar ones past a margin.

    .. math:: \ell = \begin{cases} x & y = 1 \\ \max(0,\ m - x) & y = -1 \end{cases}, \qquad
       \partial\ell/\partial x = 1\ (y = 1),\ -[m - x > 0]\ (y = -1)

    As ``torch.nn.functional.hinge_embedding_loss``: ``input`` is usually the distance of a pair
    of embeddings (PyTorch's docs suggest the L1 pairwise distance) and ``target`` says whether
    the pair is similar (1) or dissimilar (-1); for any other label both terms count, as in
    PyTorch's formula. The subgradient at the kink (:math:`m - x = 0` exactly) is 0, as
    fastloss's other hinges, where PyTorch's clamp passes -1. NaN propagates to the loss and
    the gradient.

    Args:
      input: float32/float64 distances or scores :math:`x` (the only differentiable array).
      target: labels :math:`y`, 1 or -1, of the input's shape (any real or integer dtype).
      margin: :math:`m` (default 1.0, as PyTorch; any finite number).

    >>> import numpy as np, fastloss
    >>> d, y = np.array([0.3, 0.3, 1.5]), np.array([1, -1, -1])
    >>> fastloss.hinge_embedding(d, y, reduction="none").tolist()
    [0.3, 0.7, 0.0]
    """
    fn = "hinge_embedding"
    m = real_scalar(fn, "margin", margin)
    x = float_input(fn, "input", input)
    return pointwise(fn, fn, x, target, x_name="input", labels=True, params=(m,),
                     reduction=reduction, sample_weight=sample_weight)

# ---- registry entries: what the tests and benchmarks know about each loss ---------------------

register(LossSpec("hinge_embedding", "metric", "pointwise", hinge_embedding,
                  S.distances_and_pair_labels,
                  variants=({}, {"margin": 0.5}, {"margin": 2.0}),
                  differentiable=("input",), kinks=S.hinge_embedding_kinks, convex=True,
                  # x itself where y = 1: negative for a negative input (a distance is not)
                  nonnegative=False))
