"""Classification losses: binary (pointwise kernels) and multi-class (row kernels over a class axis).

``reduction`` and ``sample_weight`` work as in :mod:`fastloss._regression`; for the multi-class
losses the weights broadcast to the per-sample loss shape (the logits' shape without the class
axis). The class axis is ``axis`` (default last), where PyTorch puts it at dimension 1.
"""

from __future__ import annotations

import numpy as np

from ._arrays import any_array
from ._small_call import small_call
from ._dispatch import (as_array, checked_weights, class_axis, constant, float_input, pointwise,
                        rows)
from . import _samplers as S
from ._registry import LossSpec, register
from ._validate import choice, fail, in_unit_interval, integer, non_negative

# The names fastloss re-exports (its package __init__ adds each module's __all__).
__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "hinge",
    "squared_hinge",
    "sigmoid_focal",
    "soft_margin",
    "cross_entropy",
    "multiclass_hinge",
    "nll",
    "softmax_focal",
]


@small_call("binary_cross_entropy")
@any_array
def binary_cross_entropy(prob, target, *, reduction="mean", sample_weight=None):
    r"""Binary cross-entropy on probabilities.

    .. math:: \ell = -\left(y \max(\log p, -100) + (1-y)\max(\log(1-p), -100)\right)

    The log terms are clamped at -100 as in ``torch.nn.functional.binary_cross_entropy``, so
    p = 0 or 1 gives a finite loss; the gradient is PyTorch's,
    :math:`(p - y)/\max(p(1-p), 10^{-12})`. Prefer :func:`binary_cross_entropy_with_logits`,
    which is exact for any logit.

    Args:
      prob: float32/float64 probabilities in [0, 1] (anything else is a ValueError; NaN propagates).
      target: targets in [0, 1], same shape and dtype.

    >>> import numpy as np, fastloss
    >>> round(float(fastloss.binary_cross_entropy(np.array([0.8]), np.array([1.0]))), 12)
    0.223143551314
    """
    x = float_input("binary_cross_entropy", "prob", prob)
    return pointwise("binary_cross_entropy", "binary_cross_entropy", x, target, x_name="prob",
                     reduction=reduction, sample_weight=sample_weight,
                     domain_error=lambda p, y: f"prob must be in [0, 1], got {p!r}")


@any_array
def binary_cross_entropy_with_logits(logits, target, *, pos_weight=None, reduction="mean",
                                     sample_weight=None):
    r"""Binary cross-entropy on logits, stable for every logit including +-inf.

    .. math:: \ell = (1-y)\,\mathrm{softplus}(x) + w_+\, y\,\mathrm{softplus}(-x), \qquad
       \partial\ell/\partial x = (1-y)\sigma(x) - w_+ y\,\sigma(-x)

    (:math:`= \sigma(x) - y` without ``pos_weight``). A term whose coefficient is exactly zero
    contributes zero, so ``x = +inf, y = 1`` gives 0 where PyTorch's formula gives nan.

    Args:
      logits: float32/float64 logits :math:`x`.
      target: targets :math:`y` in [0, 1], same shape and dtype.
      pos_weight: optional non-negative weight of the positive term, broadcastable to the shape
        (typically one per class on the last axis), as PyTorch's ``pos_weight``.

    >>> import numpy as np, fastloss
    >>> round(float(fastloss.binary_cross_entropy_with_logits(np.array([0.0]), np.array([1.0]))), 12)
    0.69314718056
    """
    fn = "binary_cross_entropy_with_logits"
    x = float_input(fn, "logits", logits)
    pw = (constant(1.0, like=x) if pos_weight is None
          else checked_weights(fn, "pos_weight", as_array(fn, "pos_weight", pos_weight)))
    return pointwise(fn, fn, x, target, x_name="logits", param=pw, param_name="pos_weight",
                     reduction=reduction, sample_weight=sample_weight)


def _binary_label_error(value, label):
    return f"target must be -1, 0 or 1, got {label!r}"


@small_call("hinge")
@any_array
def hinge(pred, target, *, reduction="mean", sample_weight=None):
    r"""Hinge (SVM) loss for binary labels.

    .. math:: \ell = \max(0, 1 - y f), \qquad \partial\ell/\partial f = -y\ [1 - yf > 0]

    Args:
      pred: float32/float64 scores :math:`f`.
      target: labels in {-1, +1}, or {0, 1} with 0 read as -1 (any real or integer dtype);
        other values are a ValueError.

    >>> import numpy as np, fastloss
    >>> fastloss.hinge(np.array([0.5, 2.0, 0.5]), np.array([1, 1, 0]), reduction="none").tolist()
    [0.5, 0.0, 1.5]
    """
    x = float_input("hinge", "pred", pred)
    return pointwise("hinge", "hinge", x, target, x_name="pred", labels=True,
                     reduction=reduction, sample_weight=sample_weight,
                     domain_error=_binary_label_error)


@small_call("squared_hinge")
@any_array
def squared_hinge(pred, target, *, reduction="mean", sample_weight=None):
    r"""Squared hinge loss, differentiable everywhere.

    .. math:: \ell = \max(0, 1 - y f)^2, \qquad \partial\ell/\partial f = -2y\max(0, 1 - y f)

    Args:
      pred: float32/float64 scores :math:`f`.
      target: labels in {-1, +1}, or {0, 1} with 0 read as -1 (any real or integer dtype).

    >>> import numpy as np, fastloss
    >>> fastloss.squared_hinge(np.array([0.5, 2.0, 0.5]), np.array([1, 1, -1]), reduction="none").tolist()
    [0.25, 0.0, 2.25]
    """
    x = float_input("squared_hinge", "pred", pred)
    return pointwise("squared_hinge", "squared_hinge", x, target, x_name="pred", labels=True,
                     reduction=reduction, sample_weight=sample_weight,
                     domain_error=_binary_label_error)


@small_call("sigmoid_focal", "alpha", "gamma")
@any_array
def sigmoid_focal(logits, target, *, alpha=0.25, gamma=2.0, reduction="mean", sample_weight=None):
    r"""Binary focal loss on logits (per-element values of ``torchvision.ops.sigmoid_focal_loss``).

    .. math:: \ell = \alpha_t (1 - p_t)^\gamma\,\mathrm{BCE}(x, y), \quad p = \sigma(x),\
       p_t = p y + (1-p)(1-y),\ \alpha_t = \alpha y + (1-\alpha)(1-y)

    Args:
      logits: float32/float64 logits.
      target: targets in [0, 1] (soft targets allowed), same shape and dtype.
      alpha: weight of the positive class in [0, 1], or None for no class weighting
        (torchvision's ``alpha=-1``).
      gamma: focusing exponent >= 0; gamma = 0 with alpha=None is
        :func:`binary_cross_entropy_with_logits`.

    Deviation: the default reduction is ``"mean"`` (torchvision's is ``"none"``).

    >>> import numpy as np, fastloss
    >>> round(float(fastloss.sigmoid_focal(np.array([0.0]), np.array([1.0]))), 12)
    0.043321698785
    """
    fn = "sigmoid_focal"
    a = -1.0 if alpha is None else in_unit_interval(fn, "alpha", alpha)
    g = non_negative(fn, "gamma", gamma)
    x = float_input(fn, "logits", logits)
    return pointwise(fn, fn, x, target, x_name="logits", params=(a, g), reduction=reduction,
                     sample_weight=sample_weight)


@small_call("soft_margin")
@any_array
def soft_margin(input, target, *, reduction="mean", sample_weight=None):
    r"""Soft margin (logistic) loss of a margin, stable for every score.

    .. math:: \ell = \log(1 + e^{-y x}) = \mathrm{softplus}(-y x), \qquad
       \partial\ell/\partial x = -y\,\sigma(-y x)

    As ``torch.nn.functional.soft_margin_loss``: labels :math:`y` in {-1, 1}, but any real
    target is accepted (it scales the margin). Written as a softplus, it is exact for every
    :math:`|x|`, where PyTorch's :math:`\log(1 + \exp(-yx))` overflows to inf (and its gradient
    to nan) once :math:`-yx` exceeds ~709 in float64 (~88 in float32); the loss then is
    :math:`-yx`. Differentiable with respect to ``input`` only (as in PyTorch).

    Args:
      input: float32/float64 scores :math:`x`.
      target: labels :math:`y`, usually -1 or 1, of the input's shape and dtype.

    >>> import numpy as np, fastloss
    >>> round(float(fastloss.soft_margin(np.array([0.0, 2.0]), np.array([1.0, -1.0]),
    ...                                  reduction="sum")), 12)
    2.820075191603
    """
    x = float_input("soft_margin", "input", input)
    return pointwise("soft_margin", "soft_margin", x, target, x_name="input",
                     reduction=reduction, sample_weight=sample_weight)


@any_array
def cross_entropy(logits, target, *, axis=-1, class_weight=None, ignore_index=-100,
                  label_smoothing=0.0, reduction="mean", sample_weight=None):
    r"""Softmax cross-entropy with class indices or probability targets, label smoothing and
    class weights, in one online-softmax pass (one exponential per logit).

    .. math:: \ell_i = \sum_j c_j q_{ij} (\operatorname{lse}(x_i) - x_{ij}), \qquad
       \partial\ell_i/\partial x_{ij} = \Big(\sum_k c_k q_{ik}\Big)\operatorname{softmax}(x_i)_j - c_j q_{ij}

    where :math:`q_i = (1-\varepsilon)\,\mathrm{onehot}(t_i) + \varepsilon/C` for a class index
    :math:`t_i` (the lecture's sparse cross-entropy), or :math:`(1-\varepsilon) y_i + \varepsilon/C`
    for a probability target, and :math:`c` are the class weights.

    Args:
      logits: float32/float64 logits with the classes along ``axis``.
      target: integer class indices of the logits' shape without ``axis`` (any integer dtype), or
        float probabilities of the logits' shape and dtype.
      axis: the class axis (default -1; PyTorch's layout is ``axis=1``).
      class_weight: optional non-negative weights, one per class.
      ignore_index: class-index targets equal to it contribute 0 and are left out of the mean.
      label_smoothing: :math:`\varepsilon` in [0, 1].

    Reductions follow ``torch.nn.functional.cross_entropy``: with class indices, ``mean``
    divides by the sum of the (sample weight times) class weight of the non-ignored targets
    (nan when that sum is 0, with a nan gradient on the kept rows: every target ignored, or of
    class weight 0, also with label smoothing); with probabilities it divides by the number of
    rows.

    >>> import numpy as np, fastloss
    >>> round(float(fastloss.cross_entropy(np.array([[2.0, 0.0, 0.0]]), np.array([0]))), 12)
    0.239544766222
    """
    fn = "cross_entropy"
    x = float_input(fn, "logits", logits)
    eps = in_unit_interval(fn, "label_smoothing", label_smoothing)
    ignore = integer(fn, "ignore_index", ignore_index)
    return rows(fn, "cross_entropy", x, target, axis=axis, dense_ok=True,
                class_weight=class_weight, params=(eps,), ignore_index=ignore,
                reduction=reduction, sample_weight=sample_weight)


@any_array
def nll(log_probs, target, *, axis=-1, class_weight=None, ignore_index=-100, reduction="mean",
        sample_weight=None):
    r"""Negative log-likelihood of log-probabilities (PyTorch's ``nll_loss``).

    .. math:: \ell_i = -c_{t_i}\, x_{i t_i}, \qquad
       \partial\ell_i/\partial x_{ij} = -c_{t_i} [j = t_i]

    The second half of the cross-entropy (``cross_entropy(x) == nll(log_softmax(x))``): the
    lecture's negative log-likelihood of the target class, for log-probabilities computed
    elsewhere. ``x_t = -inf`` gives ``+inf`` with the finite gradient :math:`-c_t`; a NaN anywhere
    in a row makes its loss and gradient row NaN (PyTorch reads only :math:`x_t`).

    Args:
      log_probs: float32/float64 log-probabilities with the classes along ``axis``.
      target: integer class indices of the input's shape without ``axis`` (any integer dtype).
      axis: the class axis (default -1; PyTorch's layout is ``axis=1``).
      class_weight: optional non-negative weights :math:`c`, one per class.
      ignore_index: targets equal to it contribute 0 and are left out of the mean.

    ``mean`` divides by the summed (sample weight times) class weight of the non-ignored targets,
    as ``torch.nn.functional.nll_loss`` (nan when that sum is 0: every target ignored).

    >>> import numpy as np, fastloss
    >>> float(fastloss.nll(np.log(np.array([[0.5, 0.25, 0.25]])), np.array([1])))
    1.3862943611198906
    """
    fn = "nll"
    x = float_input(fn, "log_probs", log_probs)
    ignore = integer(fn, "ignore_index", ignore_index)
    return rows(fn, "nll", x, target, axis=axis, class_weight=class_weight,
                ignore_index=ignore, reduction=reduction, sample_weight=sample_weight,
                x_name="log_probs")


@any_array
def multiclass_hinge(logits, target, *, margin=1.0, kind="weston_watkins", squared=False, axis=-1,
                     class_weight=None, reduction="mean", sample_weight=None):
    r"""Multi-class hinge loss.

    .. math:: \text{weston\_watkins: } \ell = c_t \sum_{j\ne t} \max(0, m + x_j - x_t)^p, \qquad
       \text{crammer\_singer: } \ell = c_t \max_{j\ne t} \max(0, m + x_j - x_t)^p

    with :math:`p = 2` when ``squared``. Weston-Watkins is the lecture's one-vs-all sum; PyTorch's
    ``multi_margin_loss`` divides it by the number of classes, fastloss does not.

    Args:
      logits: float32/float64 scores with classes along ``axis``.
      target: integer class indices of the logits' shape without ``axis``.
      margin: a finite margin >= 0.
      kind: ``"weston_watkins"`` or ``"crammer_singer"``.
      squared: square each hinge term.
      class_weight: optional per-class factor :math:`c_t` of each sample's loss (as PyTorch's
        ``weight``; ``mean`` still divides by the number of samples, or the sample weights).

    >>> import numpy as np, fastloss
    >>> float(fastloss.multiclass_hinge(np.array([[1.0, 0.5, 2.0]]), np.array([0])))
    2.5
    """
    fn = "multiclass_hinge"
    x = float_input(fn, "logits", logits)
    m = non_negative(fn, "margin", margin)
    kind = choice(fn, "kind", kind, ("weston_watkins", "crammer_singer"))
    if not isinstance(squared, (bool, np.bool_)):
        fail(fn, f"squared must be a bool, got {squared!r}", TypeError)
    return rows(fn, f"multiclass_hinge_{kind}", x, target, axis=axis, class_weight=class_weight,
                params=(m, float(bool(squared))), reduction=reduction,
                sample_weight=sample_weight)


@any_array
def softmax_focal(logits, target, *, alpha=None, gamma=2.0, axis=-1, ignore_index=-100,
                  reduction="mean", sample_weight=None):
    r"""Multi-class (softmax) focal loss.

    .. math:: \ell = -\alpha_t (1 - p_t)^\gamma \log p_t, \quad p_t = \operatorname{softmax}(x)_t

    With gamma = 0 it is the cross-entropy weighted by :math:`\alpha_t` (equal for reductions
    ``none`` and ``sum``; ``mean`` divides by the number of non-ignored samples, not by the sum
    of the alphas).

    Args:
      logits: float32/float64 logits with classes along ``axis``.
      target: integer class indices of the logits' shape without ``axis``.
      alpha: None (no weighting), a scalar >= 0, or one non-negative weight per class.
      gamma: focusing exponent >= 0.
      ignore_index: targets equal to it contribute 0 and are left out of the mean.

    >>> import numpy as np, fastloss
    >>> round(float(fastloss.softmax_focal(np.array([[0.0, 0.0]]), np.array([1]))), 12)
    0.17328679514
    """
    fn = "softmax_focal"
    x = float_input(fn, "logits", logits)
    g = non_negative(fn, "gamma", gamma)
    ignore = integer(fn, "ignore_index", ignore_index)
    alpha_scalar, alpha_array = -1.0, None
    if alpha is not None:
        if np.ndim(alpha) == 0:
            alpha_scalar = non_negative(fn, "alpha", alpha)
        else:
            classes = x.shape[class_axis(fn, x, axis)]
            alpha_array = checked_weights(fn, "alpha", alpha, length=classes)
    return rows(fn, "softmax_focal", x, target, axis=axis, params=(g, alpha_scalar),
                alpha_array=alpha_array, ignore_index=ignore, reduction=reduction,
                sample_weight=sample_weight)

# ---- registry entries: what the tests and benchmarks know about each loss ---------------------

register(LossSpec("binary_cross_entropy", "classification", "pointwise",
                  binary_cross_entropy, S.probabilities,
                  differentiable=("prob",), domain={"prob": (0.0, 1.0), "target": (0.0, 1.0)},
                  convex=False))  # -log p is, but PyTorch's clamp at -100 flattens it near 0
register(LossSpec("binary_cross_entropy_with_logits", "classification", "pointwise",
                  binary_cross_entropy_with_logits, S.logits_binary,
                  variants=({}, {"pos_weight": "per_last_axis"}),
                  differentiable=("logits",), domain={"target": (0.0, 1.0)}, convex=True))
register(LossSpec("hinge", "classification", "pointwise", hinge, S.binary_labels,
                  differentiable=("pred",), kinks=S.margin_kinks, convex=True))
register(LossSpec("squared_hinge", "classification", "pointwise", squared_hinge,
                  S.binary_labels,
                  differentiable=("pred",), kinks=S.margin_kinks, growth="quadratic",
                  convex=True))
register(LossSpec("sigmoid_focal", "classification", "pointwise", sigmoid_focal,
                  S.logits_binary,
                  variants=({}, {"alpha": None, "gamma": 0.0}, {"gamma": 1.0},
                            {"alpha": 0.5, "gamma": 1.5}),
                  differentiable=("logits",), domain={"target": (0.0, 1.0)}))
register(LossSpec("soft_margin", "classification", "pointwise", soft_margin, S.signed_margins,
                  differentiable=("input",), convex=True))
register(LossSpec("cross_entropy", "classification", "row", cross_entropy, S.cross_entropy,
                  variants=({}, {"label_smoothing": 0.1}, {"class_weight": "per_class"},
                            {"class_weight": "per_class", "label_smoothing": 0.2},
                            {"target": "dense"},
                            {"target": "dense", "class_weight": "per_class",
                              "label_smoothing": 0.1}),
                  differentiable=("logits",), mean_count="kept_rows_class_weighted",
                  convex=True))
register(LossSpec("multiclass_hinge", "classification", "row", multiclass_hinge,
                  S.multiclass_hinge,
                  variants=({}, {"squared": True}, {"kind": "crammer_singer"},
                            {"kind": "crammer_singer", "squared": True, "margin": 0.5},
                            {"class_weight": "per_class"}),
                  differentiable=("logits",), kinks=S.multiclass_margin_kinks,
                  growth="quadratic",  # when squared
                  convex=True))
register(LossSpec("nll", "classification", "row", nll, S.nll,
                  variants=({}, {"class_weight": "per_class"}),
                  differentiable=("log_probs",), mean_count="kept_rows_class_weighted",
                  # log-probabilities are <= 0 (any value is computed; the tests draw from
                  # [-2^100, 0], where sums of weighted losses stay far from float32's max)
                  domain={"log_probs": (-2.0**100, 0.0)},
                  convex=True))  # linear in the log-probabilities
register(LossSpec("softmax_focal", "classification", "row", softmax_focal, S.softmax_focal,
                  variants=({}, {"gamma": 0.0}, {"gamma": 0.5, "alpha": 0.25},
                            {"alpha": "per_class"}),
                  differentiable=("logits",), mean_count="kept_rows"))
