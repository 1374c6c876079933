"""Ranking losses (the lecture's "Ranking Losses"): scores of items to order.

``margin_ranking`` is the pairwise hinge of PyTorch's ``margin_ranking_loss``, a pointwise kernel
on the pair of scores with the preference as its per-element operand. ``reduction`` and
``sample_weight`` work as in :mod:`fastloss._regression`.
"""

from __future__ import annotations

import numpy as np

from ._arrays import any_array
from ._dispatch import as_array, float_input, pointwise
from . import _samplers as S
from ._registry import LossSpec, register
from ._validate import fail, non_negative

# The names fastloss re-exports (its package __init__ adds each module's __all__).
__all__ = [
    "margin_ranking",
]


def _preference(fn: str, y, like: np.ndarray):
    """The preference as an array of the scores' dtype: a real array of another dtype (integer
    labels, usually) is converted, which copies it (it is read once per score pair)."""
    y = as_array(fn, "y", y)
    if y.dtype.kind not in "fiu" or y.dtype == np.float16 or not y.dtype.isnative:
        fail(fn, f"y must be a real array (float32/float64 or integer), got dtype {y.dtype}",
             TypeError)
    return y if y.dtype == like.dtype else y.astype(like.dtype)


@any_array
def margin_ranking(x1, x2, y, *, margin=0.0, reduction="mean", sample_weight=None):
    r"""Margin ranking loss: a hinge on the difference of two scores, for a preference :math:`y`.

    .. math:: \ell = \max\big(0,\ -y\,(x_1 - x_2) + m\big), \qquad
       \partial\ell/\partial x_1 = -\partial\ell/\partial x_2 = -y\ \text{where}\ \ell > 0

    As ``torch.nn.functional.margin_ranking_loss``: :math:`y = 1` says that ``x1`` should score
    higher than ``x2`` by at least the margin, :math:`y = -1` the opposite; like PyTorch, any real
    :math:`y` is accepted (:math:`y = 0` gives :math:`\max(0, m)`). The subgradient at the kink
    (:math:`\ell = 0` exactly) is 0, as fastloss's other hinges, where PyTorch's clamp passes
    :math:`-y`. NaN propagates to the loss and both gradients.

    Args:
      x1, x2: float32/float64 scores of one shape, both differentiable
        (``value_and_grad(margin_ranking, argnums=(0, 1))``).
      y: the preferences, broadcastable to the scores' shape (a scalar 1 says "x1 first"
        everywhere, as a stride-0 view); float32/float64 or integer, converted to the scores'
        dtype (a copy) when it differs. It has no gradient. PyTorch requires its shape to equal
        the scores'; fastloss also broadcasts it.
      margin: :math:`m \ge 0` (default 0, as PyTorch).

    >>> import numpy as np, fastloss
    >>> x1, x2 = np.array([2.0, 0.5]), np.array([1.0, 1.0])
    >>> fastloss.margin_ranking(x1, x2, np.array([1.0, 1.0]), margin=1.0, reduction="none").tolist()
    [0.0, 1.5]
    """
    fn = "margin_ranking"
    m = non_negative(fn, "margin", margin)
    a = float_input(fn, "x1", x1)
    return pointwise(fn, fn, a, x2, x_name="x1", target_name="x2", param=_preference(fn, y, a),
                     param_name="y", param_positional=True, params=(m,), reduction=reduction,
                     sample_weight=sample_weight)

# ---- registry entries: what the tests and benchmarks know about each loss ---------------------

register(LossSpec("margin_ranking", "ranking", "pointwise", margin_ranking, S.ranking_pairs,
                  variants=({}, {"margin": 0.5}, {"margin": 2.0}),
                  differentiable=("x1", "x2"), kinks=S.ranking_kinks, convex=True))
