"""Ranking losses (the lecture's "Ranking Losses"): scores of items to order.

``margin_ranking`` is the pairwise hinge of PyTorch's ``margin_ranking_loss``, a pointwise kernel
on the pair of scores with the preference as its per-element operand. ``reduction`` and
``sample_weight`` work as in :mod:`fastloss._regression`.

``listnet`` and ``listmle`` are listwise row kernels: each list of items (along ``axis``) has
scores, relevance labels of the scores' shape and dtype, and an optional boolean ``mask``
(False: padding). The kernel sees each list compacted to its valid items, so padding is excluded
from loss and gradient (its gradient is 0). ``sample_weight`` holds one weight per list;
``mean = sum(s l) / sum(s)`` over the lists with at least one valid item, and is 0 (with zero
gradients) when there is none, as rax's safe reduction: a batch of padding trains nothing rather
than poisoning the step with NaN.
"""

from __future__ import annotations

import numpy as np

from ._arrays import any_array
from ._dispatch import as_array, float_input, pointwise, rows
from . import _samplers as S
from ._divergence import ABS_FLOOR_DIVERGENCE
from ._registry import LossSpec, register
from ._validate import fail, non_negative

# The names fastloss re-exports (its package __init__ adds each module's __all__).
__all__ = [
    "listmle",
    "listnet",
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



@any_array
def listnet(scores, relevance, *, axis=-1, mask=None, reduction="mean", sample_weight=None):
    r"""ListNet: the cross-entropy between the top-one probabilities of the labels and the scores.

    .. math:: q = \mathrm{softmax}(r), \quad p = \mathrm{softmax}(s), \qquad
       \ell = -\sum_j q_j \log p_j, \qquad \partial\ell/\partial s_j = p_j - q_j

    Cao et al. (2007), "Learning to Rank: From Pairwise Approach to Listwise Approach", with the
    exponential as the top-one probability's increasing function. The lecture's listwise loss
    :math:`-\sum_i p_i \log p_i` is the case :math:`r = s`. The target is the softmax of the
    labels (as the paper and allRank); rax and optax use the raw labels, TF-Ranking labels over
    their sum: pass ``log(relevance)`` for that one (softmax(log r) = r / sum r; a label of 0
    becomes -inf, whose :math:`q_j = 0` term contributes 0). One pass for the two normalisers,
    one for the gradient; NaN, a +inf score or label, or a list whose valid labels or scores are
    all -inf give that list a NaN loss and gradient.

    Args:
      scores: float32/float64 scores, the items of each list along ``axis``; differentiable.
      relevance: the items' relevance labels, of the scores' shape and dtype (no gradient).
      axis: the item axis (default -1).
      mask: optional boolean array of the scores' shape; False marks padding, left out of the
        list (loss and gradient). A list with no valid item has loss 0 and is not counted in
        the mean, and a mean over no list is 0 (see this module's doc).

    >>> import numpy as np, fastloss
    >>> s, r = np.array([[2.0, 1.0, 0.0]]), np.array([[2.0, 1.0, 0.0]])
    >>> round(float(fastloss.listnet(s, r)), 12)  # the entropy of softmax(s)
    0.83239558184
    """
    fn = "listnet"
    x = float_input(fn, "scores", scores)
    return rows(fn, fn, x, relevance, axis=axis, reduction=reduction,
                sample_weight=sample_weight, x_name="scores", target_name="relevance", mask=mask)


@any_array
def listmle(scores, relevance, *, axis=-1, mask=None, reduction="mean", sample_weight=None):
    r"""ListMLE: the Plackett-Luce negative log-likelihood of the order by relevance.

    .. math:: \ell = \sum_{k=1}^{n} \Big[\log \sum_{l \ge k} e^{s_{\pi(l)}} - s_{\pi(k)}\Big],
       \qquad \partial\ell/\partial s_{\pi(m)} = \sum_{k \le m}
       \frac{e^{s_{\pi(m)}}}{\sum_{l \ge k} e^{s_{\pi(l)}}} - 1

    Xia et al. (2008), "Listwise Approach to Learning to Rank: Theory and Algorithm". :math:`\pi`
    orders each list's valid items by decreasing relevance; ties keep the list order (a stable
    sort, as rax without a PRNG key: deterministic, where TF-Ranking and allRank shuffle ties
    at random). O(n log n) per list for the sort, O(n) for the loss and gradient, each term
    formed without cancellation. NaN anywhere or an infinite score gives the list a NaN loss
    and gradient; infinite labels only order it.

    Args:
      scores: float32/float64 scores, the items of each list along ``axis``; differentiable.
      relevance: the items' relevance labels, of the scores' shape and dtype (no gradient):
        only their order matters.
      axis: the item axis (default -1).
      mask: optional boolean array of the scores' shape; False marks padding, as in
        :func:`listnet`.

    >>> import numpy as np, fastloss
    >>> s, r = np.array([[0.0, 0.0]]), np.array([[1.0, 0.0]])
    >>> round(float(fastloss.listmle(s, r)), 12)  # log 2: either order is as likely
    0.69314718056
    """
    fn = "listmle"
    x = float_input(fn, "scores", scores)
    return rows(fn, fn, x, relevance, axis=axis, reduction=reduction,
                sample_weight=sample_weight, x_name="scores", target_name="relevance", mask=mask)

# ---- registry entries: what the tests and benchmarks know about each loss ---------------------

register(LossSpec("margin_ranking", "ranking", "pointwise", margin_ranking, S.ranking_pairs,
                  variants=({}, {"margin": 0.5}, {"margin": 2.0}),
                  differentiable=("x1", "x2"), kinks=S.ranking_kinks, convex=True))
# ListNet's value and gradient entries p_j - q_j are formed from two softmaxes whose normalisers
# carry a rounding of a few eps of the dtype each: when p is close to q that rounding is the
# whole error, however small the result (the divergences' floor, for the same reason).
register(LossSpec("listnet", "ranking", "row", listnet, S.ranked_lists,
                  variants=({}, {"mask": "per_element"}), tolerance=ABS_FLOOR_DIVERGENCE,
                  differentiable=("scores",), mean_count="valid_lists", convex=True))
register(LossSpec("listmle", "ranking", "row", listmle, S.ranked_lists,
                  variants=({}, {"mask": "per_element"}), differentiable=("scores",),
                  mean_count="valid_lists", convex=True))
