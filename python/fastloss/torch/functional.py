"""The functional API, mirroring ``torch.nn.functional`` (same names, arguments, defaults and
layouts) plus fastloss's own losses: argument checks that torch.compile can trace, then one op
call."""

import numpy as np
from torch import Tensor

from ._autograd import _call, _legacy_reduction, _tensor_or_none
from ._ops import (
    _binary_cross_entropy_op, _binary_cross_entropy_with_logits_op, _cross_entropy_op,
    _hinge_loss_op, _huber_loss_op, _l1_loss_op, _log_cosh_loss_op, _mse_loss_op,
    _multi_margin_loss_op, _multiclass_hinge_loss_op, _quantile_loss_op,
    _sigmoid_focal_loss_op, _smooth_l1_loss_op, _softmax_focal_loss_op,
    _squared_hinge_loss_op,
)
from ._tensors import _fail


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    r"""Mean squared error, as ``torch.nn.functional.mse_loss``: :math:`(x - y)^2`.

    ``weight`` (broadcastable to ``input``) multiplies each element; a weighted ``mean`` is
    ``sum(w*l)/sum(w)`` as in PyTorch. Differentiable with respect to ``input`` and ``target``.
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _call("mse_loss", _mse_loss_op, input, target, reduction, target_grad=True,
                 weight=_tensor_or_none("mse_loss", "weight", weight, input))


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    r"""Mean absolute error, as ``torch.nn.functional.l1_loss``: :math:`|x - y|` (subgradient 0
    at 0). A weighted ``mean`` is ``sum(w*l)/sum(w)`` as in PyTorch."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _call("l1_loss", _l1_loss_op, input, target, reduction, target_grad=True,
                 weight=_tensor_or_none("l1_loss", "weight", weight, input))


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    r"""Huber loss, as ``torch.nn.functional.huber_loss`` (``delta`` > 0). A weighted ``mean``
    divides by the number of elements, as in PyTorch."""
    return _call("huber_loss", _huber_loss_op, input, target, reduction, float(delta),
                 target_grad=True,
                 weight=_tensor_or_none("huber_loss", "weight", weight, input))


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    r"""Smooth L1 loss, as ``torch.nn.functional.smooth_l1_loss`` (``beta`` >= 0)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _call("smooth_l1_loss", _smooth_l1_loss_op, input, target, reduction, float(beta),
                 target_grad=True)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    r"""Binary cross-entropy on probabilities, as ``torch.nn.functional.binary_cross_entropy``
    (log terms clamped at -100). ``weight`` broadcasts to ``input``; a weighted ``mean`` divides
    by the number of elements, as in PyTorch. Differentiable with respect to ``input`` only."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _call("binary_cross_entropy", _binary_cross_entropy_op, input, target, reduction,
                 weight=_tensor_or_none("binary_cross_entropy", "weight", weight, input))


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    r"""Binary cross-entropy on logits, as
    ``torch.nn.functional.binary_cross_entropy_with_logits``, stable for any logit (infinite
    logits give the finite limits). ``weight`` and ``pos_weight`` (>= 0) broadcast to ``input``;
    a weighted ``mean`` divides by the number of elements, as in PyTorch."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    fn = "binary_cross_entropy_with_logits"
    return _call(fn, _binary_cross_entropy_with_logits_op, input, target, reduction,
                 weight=_tensor_or_none(fn, "weight", weight, input),
                 pos_weight=_tensor_or_none(fn, "pos_weight", pos_weight, input))


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0, *, inplace_backward=False):
    r"""Softmax cross-entropy, as ``torch.nn.functional.cross_entropy``, in one online-softmax
    pass.

    ``input`` is ``(C,)``, ``(N, C)`` or ``(N, C, d1, ...)`` (classes at dimension 1);
    ``target`` holds class indices of the input's shape without the class dimension (any
    integer dtype), or probabilities of the input's shape. ``weight`` (``(C,)``, >= 0),
    ``ignore_index`` and ``label_smoothing`` follow PyTorch, including its ``mean`` (divided by
    the summed weights of the non-ignored targets for class indices, by the number of samples
    for probabilities). Differentiable with respect to ``input`` only.

    ``inplace_backward=True`` (keyword-only, a fastloss extension; also on the other row losses)
    writes the gradient into ``input`` instead of a new tensor, saving one logits-sized buffer
    (for a language model's logits, gigabytes): ``input`` must be an intermediate float32/float64
    result that nothing else reads afterwards, such as the output of the last linear layer. Its
    values are gone after the call (an op that saved it for its own backward raises PyTorch's
    in-place modification error). Under ``torch.compile`` the gradient is computed out of place.
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, int):
        _fail("cross_entropy", f"ignore_index must be an int, got {ignore_index!r}", TypeError)
    return _call("cross_entropy", _cross_entropy_op, input, target, reduction, row=True,
                 inplace_backward=inplace_backward,
                 weight=_tensor_or_none("cross_entropy", "weight", weight, input),
                 ignore_index=ignore_index, label_smoothing=float(label_smoothing))


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None, reduce=None,
                      reduction="mean", *, inplace_backward=False):
    r"""Multi-class margin loss, as ``torch.nn.functional.multi_margin_loss``:
    :math:`\frac{1}{C}\sum_{j\ne y} w_y \max(0, \text{margin} - x_y + x_j)^p` for ``p`` in
    {1, 2}, on ``(C,)`` or ``(N, C)`` input. (:func:`multiclass_hinge_loss` is the same without
    the division by C.)"""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if p not in (1, 2) or isinstance(p, bool):
        _fail("multi_margin_loss", f"only p == 1 and p == 2 are supported, got {p!r}")
    if isinstance(input, Tensor) and input.dim() not in (1, 2):
        _fail("multi_margin_loss", f"input must be 1-D or 2-D, got {input.dim()}-D")
    return _call("multi_margin_loss", _multi_margin_loss_op, input, target, reduction, int(p),
                 float(margin), row=True, inplace_backward=inplace_backward,
                 weight=_tensor_or_none("multi_margin_loss", "weight", weight, input))


def quantile_loss(input, target, tau=0.5, reduction="mean", sample_weight=None):
    r"""Quantile (pinball) loss :math:`\max(\tau u, (\tau - 1)u)`, :math:`u = y - x`, as
    :func:`fastloss.quantile`. ``tau`` is a number in (0, 1) or a 1-D tensor with one quantile
    per position of the last dimension. ``sample_weight``: fastloss semantics
    (``mean = sum(w*l)/sum(w)``). Differentiable with respect to ``input`` and ``target``."""
    per_position = None
    if isinstance(tau, (Tensor, np.ndarray, list, tuple)):
        per_position = _tensor_or_none("quantile_loss", "tau", tau, input)
        tau = 0.5
    return _call("quantile_loss", _quantile_loss_op, input, target, reduction, float(tau),
                 target_grad=True, tau=per_position,
                 sample_weight=_tensor_or_none("quantile_loss", "sample_weight", sample_weight,
                                               input))


def log_cosh_loss(input, target, reduction="mean", sample_weight=None):
    r"""Log-cosh loss :math:`\log\cosh(x - y)`, as :func:`fastloss.log_cosh` (fastloss
    ``sample_weight`` semantics). Differentiable with respect to ``input`` and ``target``."""
    return _call("log_cosh_loss", _log_cosh_loss_op, input, target, reduction, target_grad=True,
                 sample_weight=_tensor_or_none("log_cosh_loss", "sample_weight", sample_weight,
                                               input))


def hinge_loss(input, target, reduction="mean", sample_weight=None):
    r"""Hinge loss :math:`\max(0, 1 - y x)` for labels in {-1, 1} (or {0, 1}), as
    :func:`fastloss.hinge` (fastloss ``sample_weight`` semantics)."""
    return _call("hinge_loss", _hinge_loss_op, input, target, reduction,
                 sample_weight=_tensor_or_none("hinge_loss", "sample_weight", sample_weight,
                                               input))


def squared_hinge_loss(input, target, reduction="mean", sample_weight=None):
    r"""Squared hinge loss :math:`\max(0, 1 - y x)^2`, labels as :func:`hinge_loss`."""
    return _call("squared_hinge_loss", _squared_hinge_loss_op, input, target, reduction,
                 sample_weight=_tensor_or_none("squared_hinge_loss", "sample_weight",
                                               sample_weight, input))


def sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2, reduction="none", *,
                       sample_weight=None):
    r"""Binary focal loss on logits with ``torchvision.ops.sigmoid_focal_loss``'s signature and
    semantics: ``alpha`` in [0, 1] weights the positives (``alpha < 0`` disables the weighting),
    ``gamma >= 0``, default reduction ``"none"``. ``sample_weight`` (keyword-only, fastloss
    semantics) is an extension."""
    return _call("sigmoid_focal_loss", _sigmoid_focal_loss_op, inputs, targets, reduction,
                 float(alpha), float(gamma),
                 sample_weight=_tensor_or_none("sigmoid_focal_loss", "sample_weight",
                                               sample_weight, inputs))


def softmax_focal_loss(input, target, alpha=None, gamma=2.0, ignore_index=-100, reduction="mean",
                       sample_weight=None, *, inplace_backward=False):
    r"""Multi-class focal loss :math:`-\alpha_t (1 - p_t)^\gamma \log p_t`, as
    :func:`fastloss.softmax_focal` with the classes at dimension 1 (``(C,)``, ``(N, C)`` or
    ``(N, C, d1, ...)`` input). ``alpha``: None, a number >= 0, or one weight per class.
    ``mean`` divides by the number of non-ignored samples (or their sample weights)."""
    alpha_scalar, alpha_per_class = alpha, None
    if isinstance(alpha, (Tensor, np.ndarray, list, tuple)):
        alpha_scalar = None
        alpha_per_class = _tensor_or_none("softmax_focal_loss", "alpha", alpha, input)
    elif alpha is not None:
        alpha_scalar = float(alpha)
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, int):
        _fail("softmax_focal_loss", f"ignore_index must be an int, got {ignore_index!r}", TypeError)
    return _call("softmax_focal_loss", _softmax_focal_loss_op, input, target, reduction,
                 alpha_scalar, row=True, inplace_backward=inplace_backward,
                 alpha=alpha_per_class, gamma=float(gamma),
                 ignore_index=ignore_index,
                 sample_weight=_tensor_or_none("softmax_focal_loss", "sample_weight",
                                               sample_weight, input))


def multiclass_hinge_loss(input, target, margin=1.0, kind="weston_watkins", squared=False,
                          weight=None, reduction="mean", sample_weight=None, *,
                          inplace_backward=False):
    r"""Multi-class hinge loss, as :func:`fastloss.multiclass_hinge` with the classes at
    dimension 1: Weston-Watkins :math:`w_y\sum_{j\ne y}\max(0, m + x_j - x_y)^p` (not divided
    by C, unlike :func:`multi_margin_loss`) or Crammer-Singer (the max instead of the sum).
    ``weight``: one factor per class (of the target class), as PyTorch's ``weight``."""
    if kind not in ("weston_watkins", "crammer_singer"):
        _fail("multiclass_hinge_loss",
              f"kind must be 'weston_watkins' or 'crammer_singer', got {kind!r}")
    if not isinstance(squared, bool):
        _fail("multiclass_hinge_loss", f"squared must be a bool, got {squared!r}", TypeError)
    return _call("multiclass_hinge_loss", _multiclass_hinge_loss_op, input, target, reduction,
                 float(margin), kind, squared, row=True, inplace_backward=inplace_backward,
                 weight=_tensor_or_none("multiclass_hinge_loss", "weight", weight, input),
                 sample_weight=_tensor_or_none("multiclass_hinge_loss", "sample_weight",
                                               sample_weight, input))
