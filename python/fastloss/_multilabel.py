"""Multi-label classification losses: rows of scores over a class axis, several correct classes
per row (row kernels, as the multi-class losses of :mod:`fastloss._classification`).

``reduction`` and ``sample_weight`` work as there: the weights broadcast to the per-sample loss
shape (the logits' shape without the class axis) and ``mean = sum(s l) / sum(s)``. The class
axis is ``axis`` (default last); the target has the logits' shape.
"""

from __future__ import annotations

from ._arrays import any_array
from ._dispatch import float_input, rows
from . import _samplers as S
from ._registry import LossSpec, register

# The names fastloss re-exports (its package __init__ adds each module's __all__).
__all__ = [
    "multilabel_margin",
    "multilabel_soft_margin",
]


@any_array
def multilabel_soft_margin(logits, target, *, axis=-1, class_weight=None, reduction="mean",
                           sample_weight=None):
    r"""Multi-label soft margin loss: one binary cross-entropy on logits per class, averaged.

    .. math:: \ell_i = \frac{1}{C}\sum_j c_j \big[(1-y_{ij})\,\mathrm{softplus}(x_{ij})
       + y_{ij}\,\mathrm{softplus}(-x_{ij})\big], \qquad
       \partial\ell_i/\partial x_{ij} = \frac{c_j}{C}\big(\sigma(x_{ij}) - y_{ij}\big)

    PyTorch's ``multilabel_soft_margin_loss``: the lecture's one-vs-all binary cross-entropy
    with a sigmoid per class. Each term is the stable form of
    :func:`binary_cross_entropy_with_logits`, exact for any finite logit; a term whose
    coefficient (:math:`1 - y` or :math:`y`) is exactly 0 contributes 0, so infinite logits give
    the finite limits where PyTorch's formula gives nan.

    Args:
      logits: float32/float64 logits with the classes along ``axis``.
      target: targets in [0, 1] (0/1 labels or soft ones) of the logits' shape and dtype.
      axis: the class axis (default -1; PyTorch's is the last dimension too).
      class_weight: optional non-negative weights :math:`c`, one per class.

    ``mean`` divides by the number of rows (or their sample weights), as PyTorch.

    >>> import numpy as np, fastloss
    >>> x, y = np.array([[0.0, 0.0]]), np.array([[1.0, 0.0]])
    >>> round(float(fastloss.multilabel_soft_margin(x, y)), 12)
    0.69314718056
    """
    fn = "multilabel_soft_margin"
    x = float_input(fn, "logits", logits)
    return rows(fn, fn, x, target, axis=axis, class_weight=class_weight, reduction=reduction,
                sample_weight=sample_weight)


@any_array
def multilabel_margin(logits, target, *, axis=-1, reduction="mean", sample_weight=None):
    r"""Multi-label margin loss: a hinge between every correct class and every other class.

    .. math:: \ell_i = \frac{1}{C}\sum_{k} \sum_{j \notin T_i}
       \max\big(0,\ 1 - (x_{i t_{ik}} - x_{ij})\big)

    PyTorch's ``multilabel_margin_loss``. The target has the logits' shape: each row lists its
    correct classes :math:`T_i = \{t_{i1}, t_{i2}, \dots\}` before its first -1 (the rest is
    ignored, but every entry must be in [-1, C); a class listed twice counts twice, as in
    PyTorch). The subgradient at a kink is 0. A NaN in a row (or an ``inf - inf`` term) makes its
    loss and gradient row NaN, where PyTorch drops such terms.

    Args:
      logits: float32/float64 scores with the classes along ``axis``.
      target: integer class indices (any integer dtype) of the logits' shape, each row ended by
        -1 unless it lists C classes.
      axis: the class axis (default -1; PyTorch's is the last dimension too).

    ``mean`` divides by the number of rows (or their sample weights), as PyTorch.

    >>> import numpy as np, fastloss
    >>> x, t = np.array([[0.1, 0.2, 0.4, 0.8]]), np.array([[3, 0, -1, 1]])
    >>> round(float(fastloss.multilabel_margin(x, t)), 12)
    0.85
    """
    fn = "multilabel_margin"
    x = float_input(fn, "logits", logits)
    return rows(fn, fn, x, target, axis=axis, reduction=reduction, sample_weight=sample_weight)

# ---- registry entries: what the tests and benchmarks know about each loss ---------------------

register(LossSpec("multilabel_soft_margin", "classification", "row", multilabel_soft_margin,
                  S.multilabel_soft_margin, variants=({}, {"class_weight": "per_class"}),
                  differentiable=("logits",), domain={"target": (0.0, 1.0)}, convex=True))
register(LossSpec("multilabel_margin", "classification", "row", multilabel_margin,
                  S.multilabel_margin, differentiable=("logits",),
                  kinks=S.multilabel_margin_kinks, convex=True))
