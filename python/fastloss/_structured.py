"""Structured losses (the lecture's "Ranking and Structured Losses"): ``structured_hinge``, the
max-margin loss of structured prediction over K candidate outputs per sample.

Each sample has the scores f(y') of its candidates along ``axis``, the index of the true one and,
optionally, the task loss Delta(y, y') of every candidate: a (K, K) table shared by all samples
(row y for a sample whose target is y) or each sample's own costs in the scores' shape. Only the
scores have a gradient. ``reduction`` and ``sample_weight`` work as for the other row losses
(``mean`` divides by the number of samples, or their weights).
"""

from __future__ import annotations

import numpy as np

from ._arrays import any_array
from ._dispatch import all_elements, as_array, class_axis, converted, float_input, rows
from . import _samplers as S
from ._registry import LossSpec, register
from ._validate import choice, fail

# The names fastloss re-exports (its package __init__ adds each module's __all__).
__all__ = ["structured_hinge"]


def _cost_arrays(fn: str, cost, scores, axis, cost_per_sample):
    """(per-sample costs, table): the one that `cost` is, checked, the other None."""
    c = as_array(fn, "cost", cost)
    if c.dtype.kind not in "fiu" or c.dtype == np.float16:
        fail(fn, f"cost must be a real array (float32/float64 or integer), got dtype {c.dtype}",
             TypeError)
    K = scores.shape[class_axis(fn, scores, axis)]
    as_table, as_rows = c.shape == (K, K), c.shape == scores.shape
    if cost_per_sample is None:
        if as_table and as_rows:
            fail(fn, f"a cost of shape {c.shape} is ambiguous for scores of that shape: pass "
                     f"cost_per_sample=True (each sample's costs) or False (a table indexed by "
                     f"the target)")
        per_sample = as_rows
    elif isinstance(cost_per_sample, (bool, np.bool_)):
        per_sample = bool(cost_per_sample)
    else:
        fail(fn, f"cost_per_sample must be None or a bool, got {cost_per_sample!r}", TypeError)
    if not (as_rows if per_sample else as_table):
        fail(fn, f"cost must have shape ({K}, {K}) (a table whose row y is Delta(y, .)) or the "
                 f"scores' shape {scores.shape} (each sample's costs), got {c.shape}")
    if per_sample and c.dtype != scores.dtype:
        # (a table is small: it is converted; per-sample costs are as large as the scores)
        fail(fn, f"per-sample cost must have the scores' dtype ({scores.dtype}), got {c.dtype}",
             TypeError)
    if not per_sample:
        c = converted(fn, "cost", c, scores.dtype)
    if not all_elements(c, lambda a: (a >= 0) & (a < np.inf)):
        fail(fn, "cost must be finite and >= 0 (a task loss)")
    return (c, None) if per_sample else (None, c)


@any_array
def structured_hinge(scores, target, *, cost=None, rescaling="margin", cost_per_sample=None,
                     axis=-1, reduction="mean", sample_weight=None):
    r"""Structured hinge loss over K candidate outputs.

    .. math:: \text{margin: } \ell = \max_{y'} \big[\Delta(y, y') + f(y') - f(y)\big], \qquad
       \text{slack: } \ell = \max_{y'} \Delta(y, y')\,\big(1 + f(y') - f(y)\big)

    The lecture's structured hinge (margin rescaling) and its slack-rescaled form, from
    Tsochantaridis, Joachims, Hofmann and Altun (2005), "Large Margin Methods for Structured and
    Interdependent Output Variables". The max runs over every candidate, :math:`y' = y` included,
    whose term is :math:`\Delta(y, y)` exactly (0 for a task loss, so :math:`\ell \ge 0`). With
    ``cost=None`` (0/1 costs) both forms are Crammer and Singer's multi-class hinge with margin 1
    (``multiclass_hinge(kind="crammer_singer")``). The subgradient: :math:`y` wins ties (gradient
    0); otherwise the first maximising candidate :math:`y^*` in class order gets
    :math:`\partial\ell/\partial f(y^*) = 1` (margin) or :math:`\Delta(y, y^*)` (slack) and
    :math:`f(y)` minus that. A NaN score makes the sample's loss and gradient row NaN;
    infinities follow IEEE rules (:math:`+\infty` for a competitor scored :math:`+\infty`).

    Args:
      scores: float32/float64 scores of the K candidates along ``axis``; differentiable.
      target: integer indices of the true candidates, the scores' shape without ``axis``.
      cost: None (0/1 costs), a (K, K) table whose row :math:`y` holds :math:`\Delta(y, \cdot)`
        (real; converted to the scores' dtype), or each sample's costs, of the scores' shape and
        dtype. Finite and :math:`\ge 0`.
      rescaling: ``"margin"`` (default, the lecture's form) or ``"slack"``.
      cost_per_sample: which of the two a ``cost`` is when its shape fits both (scores of shape
        (K, K)); None infers it from the shape, and refuses that ambiguous case.

    >>> import numpy as np, fastloss
    >>> f, cost = np.array([[1.0, 2.0, 0.5]]), np.array([[0.0, 1.0, 3.0]])
    >>> float(fastloss.structured_hinge(f, np.array([0]), cost=cost))  # max(0, 2, 2.5)
    2.5
    """
    fn = "structured_hinge"
    x = float_input(fn, "scores", scores)
    rescaling = choice(fn, "rescaling", rescaling, ("margin", "slack"))
    per_sample, table = (None, None) if cost is None else _cost_arrays(fn, cost, x, axis,
                                                                       cost_per_sample)
    return rows(fn, fn, x, target, axis=axis, params=(float(rescaling == "slack"),),
                cost_rows=per_sample, cost_table=table, reduction=reduction,
                sample_weight=sample_weight, x_name="scores")


register(LossSpec("structured_hinge", "ranking", "row", structured_hinge, S.multiclass_hinge,
                  variants=({}, {"rescaling": "slack"},
                            {"cost": "table", "cost_per_sample": False},
                            {"cost": "table", "cost_per_sample": False, "rescaling": "slack"},
                            {"cost": "per_sample", "cost_per_sample": True},
                            {"cost": "per_sample", "cost_per_sample": True,
                             "rescaling": "slack"}),
                  differentiable=("scores",), kinks=S.structured_kinks, convex=True))
