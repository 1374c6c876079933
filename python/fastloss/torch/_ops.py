"""The custom op of each loss: its schema (tensor and hyper-parameter arguments) and the fastloss
function its body runs, with PyTorch's semantics where they differ (PyTorch's weighted mean,
multi_margin_loss's 1/C)."""

# No ``from __future__ import annotations`` here: torch.library.custom_op reads the operator
# schema from the annotations of the op functions.
from typing import Optional

from torch import Tensor

from .. import _classification as _cls
from .. import _regression as _reg
from ._autograd import _op
from ._tensors import _class_dim, _evaluate


@_op("mse_loss", target_grad=True)
def _mse_loss_op(input: Tensor, target: Tensor, reduction: str, need_grad: bool,
                 weight: Optional[Tensor]) -> tuple[Tensor, Tensor]:
    return _evaluate("mse_loss", _reg.mse, input, target, reduction, need_grad,
                     sample_weight=weight)


@_op("l1_loss", target_grad=True)
def _l1_loss_op(input: Tensor, target: Tensor, reduction: str, need_grad: bool,
                weight: Optional[Tensor]) -> tuple[Tensor, Tensor]:
    return _evaluate("l1_loss", _reg.mae, input, target, reduction, need_grad,
                     sample_weight=weight)


@_op("huber_loss", target_grad=True)
def _huber_loss_op(input: Tensor, target: Tensor, reduction: str, need_grad: bool, delta: float,
                   weight: Optional[Tensor]) -> tuple[Tensor, Tensor]:
    return _evaluate("huber_loss", _reg.huber, input, target, reduction, need_grad, delta=delta,
                     sample_weight=weight, mean_by_count=weight is not None)


@_op("smooth_l1_loss", target_grad=True)
def _smooth_l1_loss_op(input: Tensor, target: Tensor, reduction: str, need_grad: bool,
                       beta: float) -> tuple[Tensor, Tensor]:
    return _evaluate("smooth_l1_loss", _reg.smooth_l1, input, target, reduction, need_grad,
                     beta=beta)


@_op("quantile_loss", target_grad=True)
def _quantile_loss_op(input: Tensor, target: Tensor, reduction: str, need_grad: bool, tau: float,
                      tau_per_last_dim: Optional[Tensor],
                      sample_weight: Optional[Tensor]) -> tuple[Tensor, Tensor]:
    return _evaluate("quantile_loss", _reg.quantile, input, target, reduction, need_grad,
                     tau=tau if tau_per_last_dim is None else tau_per_last_dim,
                     sample_weight=sample_weight)


@_op("log_cosh_loss", target_grad=True)
def _log_cosh_loss_op(input: Tensor, target: Tensor, reduction: str, need_grad: bool,
                      sample_weight: Optional[Tensor]) -> tuple[Tensor, Tensor]:
    return _evaluate("log_cosh_loss", _reg.log_cosh, input, target, reduction, need_grad,
                     sample_weight=sample_weight)


@_op("binary_cross_entropy")
def _binary_cross_entropy_op(input: Tensor, target: Tensor, reduction: str, need_grad: bool,
                             weight: Optional[Tensor]) -> tuple[Tensor, Tensor]:
    return _evaluate("binary_cross_entropy", _cls.binary_cross_entropy, input, target, reduction,
                     need_grad, sample_weight=weight, mean_by_count=weight is not None)


@_op("binary_cross_entropy_with_logits")
def _binary_cross_entropy_with_logits_op(input: Tensor, target: Tensor, reduction: str,
                                         need_grad: bool, weight: Optional[Tensor],
                                         pos_weight: Optional[Tensor]) -> tuple[Tensor, Tensor]:
    return _evaluate("binary_cross_entropy_with_logits", _cls.binary_cross_entropy_with_logits,
                     input, target, reduction, need_grad, sample_weight=weight,
                     pos_weight=pos_weight, mean_by_count=weight is not None)


@_op("hinge_loss")
def _hinge_loss_op(input: Tensor, target: Tensor, reduction: str, need_grad: bool,
                   sample_weight: Optional[Tensor]) -> tuple[Tensor, Tensor]:
    return _evaluate("hinge_loss", _cls.hinge, input, target, reduction, need_grad,
                     sample_weight=sample_weight)


@_op("squared_hinge_loss")
def _squared_hinge_loss_op(input: Tensor, target: Tensor, reduction: str, need_grad: bool,
                           sample_weight: Optional[Tensor]) -> tuple[Tensor, Tensor]:
    return _evaluate("squared_hinge_loss", _cls.squared_hinge, input, target, reduction, need_grad,
                     sample_weight=sample_weight)


@_op("sigmoid_focal_loss")
def _sigmoid_focal_loss_op(input: Tensor, target: Tensor, reduction: str, need_grad: bool,
                           alpha: float, gamma: float,
                           sample_weight: Optional[Tensor]) -> tuple[Tensor, Tensor]:
    return _evaluate("sigmoid_focal_loss", _cls.sigmoid_focal, input, target, reduction, need_grad,
                     alpha=None if alpha < 0 else alpha, gamma=gamma, sample_weight=sample_weight)


@_op("cross_entropy", row=True)
def _cross_entropy_op(input: Tensor, target: Tensor, reduction: str, need_grad: bool,
                      weight: Optional[Tensor], ignore_index: int,
                      label_smoothing: float) -> tuple[Tensor, Tensor]:
    return _evaluate("cross_entropy", _cls.cross_entropy, input, target, reduction, need_grad,
                     axis=_class_dim(input), class_weight=weight, ignore_index=ignore_index,
                     label_smoothing=label_smoothing)


@_op("multi_margin_loss", row=True)
def _multi_margin_loss_op(input: Tensor, target: Tensor, reduction: str, need_grad: bool, p: int,
                          margin: float, weight: Optional[Tensor]) -> tuple[Tensor, Tensor]:
    axis = _class_dim(input)
    return _evaluate("multi_margin_loss", _cls.multiclass_hinge, input, target, reduction,
                     need_grad, axis=axis, margin=margin, squared=p == 2, class_weight=weight,
                     divisor=input.shape[axis])


@_op("softmax_focal_loss", row=True)
def _softmax_focal_loss_op(input: Tensor, target: Tensor, reduction: str, need_grad: bool,
                           alpha: Optional[float], alpha_per_class: Optional[Tensor],
                           gamma: float, ignore_index: int,
                           sample_weight: Optional[Tensor]) -> tuple[Tensor, Tensor]:
    return _evaluate("softmax_focal_loss", _cls.softmax_focal, input, target, reduction, need_grad,
                     axis=_class_dim(input),
                     alpha=alpha if alpha_per_class is None else alpha_per_class, gamma=gamma,
                     ignore_index=ignore_index, sample_weight=sample_weight)


@_op("multiclass_hinge_loss", row=True)
def _multiclass_hinge_loss_op(input: Tensor, target: Tensor, reduction: str, need_grad: bool,
                              margin: float, kind: str, squared: bool, weight: Optional[Tensor],
                              sample_weight: Optional[Tensor]) -> tuple[Tensor, Tensor]:
    return _evaluate("multiclass_hinge_loss", _cls.multiclass_hinge, input, target, reduction,
                     need_grad, axis=_class_dim(input), margin=margin, kind=kind, squared=squared,
                     class_weight=weight, sample_weight=sample_weight)
