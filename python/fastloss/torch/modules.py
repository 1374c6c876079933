"""``torch.nn.Module`` wrappers of the functional API, as ``torch.nn``'s loss modules."""

import numpy as np
import torch
from torch import Tensor

from ._autograd import _legacy_reduction
from ._tensors import _fail
from .functional import (
    binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, hinge_loss,
    huber_loss, l1_loss, log_cosh_loss, mse_loss, multi_margin_loss, multiclass_hinge_loss,
    quantile_loss, sigmoid_focal_loss, smooth_l1_loss, softmax_focal_loss,
    squared_hinge_loss,
)


# ---- nn.Module classes ------------------------------------------------------------------------

class _Loss(torch.nn.Module):
    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__()
        self.reduction = _legacy_reduction(size_average, reduce, reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class _WeightedLoss(_Loss):
    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", None if weight is None else torch.as_tensor(weight))


class MSELoss(_Loss):
    """Module form of :func:`mse_loss` (``torch.nn.MSELoss``)."""

    def forward(self, input, target):
        return mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Module form of :func:`l1_loss` (``torch.nn.L1Loss``)."""

    def forward(self, input, target):
        return l1_loss(input, target, reduction=self.reduction)


class HuberLoss(_Loss):
    """Module form of :func:`huber_loss` (``torch.nn.HuberLoss``)."""

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input, target):
        return huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class SmoothL1Loss(_Loss):
    """Module form of :func:`smooth_l1_loss` (``torch.nn.SmoothL1Loss``)."""

    def __init__(self, size_average=None, reduce=None, reduction="mean", beta=1.0):
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input, target):
        return smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class BCELoss(_WeightedLoss):
    """Module form of :func:`binary_cross_entropy` (``torch.nn.BCELoss``)."""

    def forward(self, input, target):
        return binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Module form of :func:`binary_cross_entropy_with_logits` (``torch.nn.BCEWithLogitsLoss``)."""

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean",
                 pos_weight=None):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", None if weight is None else torch.as_tensor(weight))
        self.register_buffer("pos_weight",
                             None if pos_weight is None else torch.as_tensor(pos_weight))

    def forward(self, input, target):
        return binary_cross_entropy_with_logits(input, target, self.weight,
                                                pos_weight=self.pos_weight,
                                                reduction=self.reduction)


class CrossEntropyLoss(_WeightedLoss):
    """Module form of :func:`cross_entropy` (``torch.nn.CrossEntropyLoss``)."""

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction="mean", label_smoothing=0.0, *, inplace_backward=False):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing
        self.inplace_backward = inplace_backward

    def forward(self, input, target):
        return cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                             reduction=self.reduction, label_smoothing=self.label_smoothing,
                             inplace_backward=self.inplace_backward)


class MultiMarginLoss(_WeightedLoss):
    """Module form of :func:`multi_margin_loss` (``torch.nn.MultiMarginLoss``)."""

    def __init__(self, p=1, margin=1.0, weight=None, size_average=None, reduce=None,
                 reduction="mean"):
        super().__init__(weight, size_average, reduce, reduction)
        if p not in (1, 2):
            _fail("MultiMarginLoss", f"only p == 1 and p == 2 are supported, got {p!r}")
        self.p = p
        self.margin = margin

    def forward(self, input, target):
        return multi_margin_loss(input, target, p=self.p, margin=self.margin, weight=self.weight,
                                 reduction=self.reduction)


class QuantileLoss(_Loss):
    """Module form of :func:`quantile_loss`."""

    def __init__(self, tau=0.5, reduction="mean"):
        super().__init__(reduction=reduction)
        if isinstance(tau, (Tensor, np.ndarray, list, tuple)):
            self.register_buffer("tau", torch.as_tensor(tau))
        else:
            self.tau = tau

    def forward(self, input, target, sample_weight=None):
        return quantile_loss(input, target, tau=self.tau, reduction=self.reduction,
                             sample_weight=sample_weight)


class LogCoshLoss(_Loss):
    """Module form of :func:`log_cosh_loss`."""

    def __init__(self, reduction="mean"):
        super().__init__(reduction=reduction)

    def forward(self, input, target, sample_weight=None):
        return log_cosh_loss(input, target, reduction=self.reduction, sample_weight=sample_weight)


class HingeLoss(_Loss):
    """Module form of :func:`hinge_loss`."""

    def __init__(self, reduction="mean"):
        super().__init__(reduction=reduction)

    def forward(self, input, target, sample_weight=None):
        return hinge_loss(input, target, reduction=self.reduction, sample_weight=sample_weight)


class SquaredHingeLoss(_Loss):
    """Module form of :func:`squared_hinge_loss`."""

    def __init__(self, reduction="mean"):
        super().__init__(reduction=reduction)

    def forward(self, input, target, sample_weight=None):
        return squared_hinge_loss(input, target, reduction=self.reduction,
                                  sample_weight=sample_weight)


class SigmoidFocalLoss(_Loss):
    """Module form of :func:`sigmoid_focal_loss` (default reduction ``"none"``, as
    torchvision's function)."""

    def __init__(self, alpha=0.25, gamma=2.0, reduction="none"):
        super().__init__(reduction=reduction)
        self.alpha = alpha
        self.gamma = gamma

    def forward(self, input, target, sample_weight=None):
        return sigmoid_focal_loss(input, target, alpha=self.alpha, gamma=self.gamma,
                                  reduction=self.reduction, sample_weight=sample_weight)


class SoftmaxFocalLoss(_Loss):
    """Module form of :func:`softmax_focal_loss`."""

    def __init__(self, alpha=None, gamma=2.0, ignore_index=-100, reduction="mean"):
        super().__init__(reduction=reduction)
        if isinstance(alpha, (Tensor, np.ndarray, list, tuple)):
            self.register_buffer("alpha", torch.as_tensor(alpha))
        else:
            self.alpha = alpha
        self.gamma = gamma
        self.ignore_index = ignore_index

    def forward(self, input, target, sample_weight=None):
        return softmax_focal_loss(input, target, alpha=self.alpha, gamma=self.gamma,
                                  ignore_index=self.ignore_index, reduction=self.reduction,
                                  sample_weight=sample_weight)


class MulticlassHingeLoss(_WeightedLoss):
    """Module form of :func:`multiclass_hinge_loss`."""

    def __init__(self, margin=1.0, kind="weston_watkins", squared=False, weight=None,
                 reduction="mean"):
        super().__init__(weight, reduction=reduction)
        self.margin = margin
        self.kind = kind
        self.squared = squared

    def forward(self, input, target, sample_weight=None):
        return multiclass_hinge_loss(input, target, margin=self.margin, kind=self.kind,
                                     squared=self.squared, weight=self.weight,
                                     reduction=self.reduction, sample_weight=sample_weight)
