"""The CPU path of every op body: the tensors go to one native call, ``_core.run_tensors``
(``bindings/raw_entry.cc``), as (data pointer, dtype code, shape, strides), with the loss's
hyper-parameters checked here as the NumPy API checks them.

Nothing is re-validated that the native entry or ``ops.cc`` checks anyway, and nothing is
converted: no NumPy views, no broadcasting in Python, no argument dictionaries. The native entry
builds the same request the general path (``_kernel.evaluate`` through the NumPy API) would, or
declines; so does this module for whatever it does not handle (half-precision inputs, per-position
``tau``, integer or half weights, an invalid hyper-parameter). A declined call takes the general
path, which computes the same or raises its documented error: this path changes speed only
(tests/test_torch_native.py checks it bit for bit against the general one).
"""

import math
import sys
from typing import Callable, Optional

import numpy as np
import torch
from torch import Tensor

from ._tensors import class_dim

from .. import _core
from .._dispatch import KERNELS

# The package, through which the call is made: tests replace fastloss.torch._run_tensors to see
# what reaches the native entry (see __init__).
_package = sys.modules[__package__]

# torch dtype -> fastloss::DType code (fastloss/tensor.h); bool and half precision are left to
# the general path (bool weights count as 0/1 there; half inputs are computed in a float copy).
_CODES = {torch.float32: 0, torch.float64: 1, torch.int8: 2, torch.int16: 3, torch.int32: 4,
          torch.int64: 5, torch.uint8: 6, torch.uint16: 7, torch.uint32: 8, torch.uint64: 9}
_FLOATS = (torch.float32, torch.float64)
_REDUCTION_CODES = {"none": 0, "mean": 1, "sum": 2}
_INT64 = (-2**63, 2**63)


def describe(t: Optional[Tensor]):
    """What the native entry reads of a tensor (None stays None); KeyError for a dtype it does
    not take."""
    if t is None:
        return None
    return (t.data_ptr(), _CODES[t.dtype], t.shape, t.stride())


class Call:
    """One loss call's native arguments, from the op's loss-specific arguments."""

    __slots__ = ("kernel", "params", "ignore_index", "aux0_constant", "aux0", "aux1", "weight",
                 "mean_by_count", "divisor")

    def __init__(self, kernel, params=(), *, ignore_index=None, aux0_constant=None, aux0=None,
                 aux1=None, weight=None, mean_by_count=False, divisor=1):
        self.kernel = KERNELS[kernel]["id"] if isinstance(kernel, str) else kernel
        self.params, self.ignore_index = params, ignore_index
        self.aux0_constant, self.aux0, self.aux1, self.weight = aux0_constant, aux0, aux1, weight
        self.mean_by_count, self.divisor = mean_by_count, divisor


# ---- hyper-parameters, as fastloss._validate accepts them (else: decline) ----------------------

def _finite(v) -> bool:
    return type(v) is float and math.isfinite(v)


def _integer(v) -> bool:
    return type(v) is int and _INT64[0] <= v < _INT64[1]


def _ids(*names):
    return [KERNELS[n]["id"] for n in names]


# ---- the losses: op arguments (after the entry's to_kernel) -> Call, or None ------------------
# (x is the input, for the row losses' class count; the row losses also get whether the target
# holds probabilities. Every function mirrors the NumPy API's checks.)

def _plain(kernel: str, mean_by_count=False) -> Callable:
    kid = KERNELS[kernel]["id"]

    def call(x, weight):
        return Call(kid, weight=weight, mean_by_count=mean_by_count and weight is not None)
    return call


def _without_arguments(kernel: str) -> Callable:
    kid = KERNELS[kernel]["id"]

    def call(x):
        return Call(kid)
    return call


def _huber(x, delta, weight):
    if _finite(delta) and delta > 0:
        return Call(_HUBER, (delta,), weight=weight, mean_by_count=weight is not None)
    return None


def _smooth_l1(x, beta):
    return Call(_SMOOTH_L1, (beta,)) if _finite(beta) and beta >= 0 else None


def _quantile(x, tau, tau_per_last_dim, sample_weight):
    if tau_per_last_dim is not None or not (_finite(tau) and 0 < tau < 1):
        return None  # (per-position quantiles: the general path checks and broadcasts them)
    return Call(_QUANTILE, aux0_constant=tau, weight=sample_weight)


def _bce_with_logits(x, weight, pos_weight):
    return Call(_BCE_LOGITS, aux0=pos_weight, aux0_constant=1.0 if pos_weight is None else None,
                weight=weight, mean_by_count=weight is not None)


def _sigmoid_focal(x, alpha, gamma, sample_weight):
    if alpha < 0:  # torchvision's "no class weighting" (the entry's to_kernel)
        alpha = -1.0
    elif not (_finite(alpha) and alpha <= 1):
        return None
    if not (_finite(gamma) and gamma >= 0):
        return None
    return Call(_SIGMOID_FOCAL, (alpha, gamma), weight=sample_weight)


def _hinge_embedding(x, margin):
    return Call(_HINGE_EMBEDDING, (margin,)) if _finite(margin) else None


def _poisson_nll(x, log_input, full, eps):
    if type(log_input) is not bool or type(full) is not bool or not (_finite(eps) and eps > 0):
        return None
    return Call(_POISSON_NLL, (float(log_input), float(full), eps))


def _kl_div(x, log_target):
    return Call(_KL_DIV, (float(log_target),)) if type(log_target) is bool else None


def _gaussian_nll(x, var, full, eps):
    return None  # (var's layouts and its >= 0 check: the general path)


def _cross_entropy(x, weight, ignore_index, label_smoothing, dense):
    if not (_finite(label_smoothing) and 0 <= label_smoothing <= 1 and _integer(ignore_index)):
        return None
    return Call(_CE_DENSE if dense else _CE_SPARSE, (label_smoothing,),
                ignore_index=ignore_index, aux0=weight)


def _multi_margin(x, p, margin, weight, dense):
    if dense or x.dim() == 0 or not (_finite(margin) and margin >= 0):
        return None
    return Call(_WESTON_WATKINS, (margin, float(p == 2)), aux0=weight,
                divisor=x.shape[1 if x.dim() >= 2 else 0])


def _softmax_focal(x, alpha, alpha_per_class, gamma, ignore_index, sample_weight, dense):
    if dense or not (_finite(gamma) and gamma >= 0 and _integer(ignore_index)):
        return None
    if alpha_per_class is not None:
        alpha = -1.0
    elif alpha is None:
        alpha = -1.0
    elif not (_finite(alpha) and alpha >= 0):
        return None
    return Call(_SOFTMAX_FOCAL, (gamma, alpha), ignore_index=ignore_index, aux1=alpha_per_class,
                weight=sample_weight)


def _multiclass_hinge(x, margin, kind, squared, weight, sample_weight, dense):
    kid = _HINGE_KINDS.get(kind)
    if dense or kid is None or not (_finite(margin) and margin >= 0) or type(squared) is not bool:
        return None
    return Call(kid, (margin, float(squared)), aux0=weight, weight=sample_weight)


def _nll(x, weight, ignore_index, dense):
    if dense or not _integer(ignore_index):
        return None
    return Call(_NLL, ignore_index=ignore_index, aux0=weight)


def _multilabel_soft_margin(x, weight, dense):
    return Call(_MULTILABEL_SOFT_MARGIN, aux0=weight) if dense else None


def _multilabel_margin(x, dense):
    return None if dense else Call(_MULTILABEL_MARGIN)


(_NLL, _MULTILABEL_SOFT_MARGIN, _MULTILABEL_MARGIN, _HINGE_EMBEDDING) = _ids(
    "nll", "multilabel_soft_margin", "multilabel_margin", "hinge_embedding")
(_HUBER, _SMOOTH_L1, _QUANTILE, _BCE_LOGITS, _SIGMOID_FOCAL, _POISSON_NLL, _KL_DIV, _CE_SPARSE,
 _CE_DENSE, _WESTON_WATKINS, _SOFTMAX_FOCAL) = _ids(
    "huber", "smooth_l1", "quantile", "binary_cross_entropy_with_logits", "sigmoid_focal",
    "poisson_nll", "kl_div", "cross_entropy_sparse", "cross_entropy_dense",
    "multiclass_hinge_weston_watkins", "softmax_focal")
_HINGE_KINDS = dict(zip(("weston_watkins", "crammer_singer"),
                        _ids("multiclass_hinge_weston_watkins", "multiclass_hinge_crammer_singer")))

# torch function name -> its Call maker (the loss table's entries, by name)
CALLS = {
    "mse_loss": _plain("mse"), "l1_loss": _plain("mae"), "huber_loss": _huber,
    "smooth_l1_loss": _smooth_l1, "quantile_loss": _quantile, "log_cosh_loss": _plain("log_cosh"),
    "binary_cross_entropy": _plain("binary_cross_entropy", mean_by_count=True),
    "binary_cross_entropy_with_logits": _bce_with_logits,
    "hinge_loss": _plain("hinge"), "squared_hinge_loss": _plain("squared_hinge"),
    "sigmoid_focal_loss": _sigmoid_focal, "soft_margin_loss": _without_arguments("soft_margin"),
    "poisson_nll_loss": _poisson_nll, "kl_div": _kl_div, "gaussian_nll_loss": _gaussian_nll,
    "cross_entropy": _cross_entropy,
    "multi_margin_loss": _multi_margin, "softmax_focal_loss": _softmax_focal,
    "multiclass_hinge_loss": _multiclass_hinge, "nll_loss": _nll,
    "multilabel_soft_margin_loss": _multilabel_soft_margin,
    "multilabel_margin_loss": _multilabel_margin,
    # Its per-element preference may be negative, which the native entry reads as a weight and
    # declines: the general path.
    "margin_ranking_loss": lambda *args: None,
    "hinge_embedding_loss": _hinge_embedding,
    # A target of logits, with a gradient of its own: the general path (run_tensors computes
    # one gradient).
    "kl_divergence": lambda *args: None, "js_divergence": lambda *args: None,
    "distillation": lambda *args: None,
}


# ---- the call ----------------------------------------------------------------------------------

def evaluate(make_call: Callable, row: bool, input: Tensor, target: Tensor, reduction: str,
             need_grad: bool, args: tuple, grad_into: Optional[Tensor], *,
             classes_last: bool = False):
    """(loss, grad) tensors of the loss ``make_call`` describes, computed natively, or None when
    this path declines the call. ``grad_into`` receives the gradient (inplace_backward); a row
    loss's classes are at dimension 1, or the last with ``classes_last``."""
    if input.dtype not in _FLOATS:
        return None
    dense = False
    if target.dtype.is_floating_point:
        if target.dtype is not input.dtype:  # as the general path: in the input's dtype
            target = target.to(input.dtype)
        dense = row
    if row:
        call = make_call(input, *args, dense)
    else:
        call = make_call(input, *args)
    code = _REDUCTION_CODES.get(reduction)
    if call is None or code is None:
        return None
    divisor = call.divisor
    if call.mean_by_count and code == 1:  # PyTorch's weighted mean: sum / number of losses
        code, divisor = 2, divisor * input.numel()
    scale = 1.0 / divisor if divisor else math.nan
    weight_total = 0.0
    if code == 1 and call.weight is not None and not row:
        weight_total = _weight_total(call.weight, input)
        if weight_total is None:
            return None
    aux0, aux1, weight = call.aux0, call.aux1, call.weight
    try:  # (the optional ones inline: most calls have none)
        described = (describe(input), describe(target),
                     None if aux0 is None else describe(aux0),
                     None if aux1 is None else describe(aux1),
                     None if weight is None else describe(weight),
                     None if grad_into is None else describe(grad_into))
    except KeyError:  # a dtype the native entry does not read
        return None
    axis = class_dim(input, classes_last) if row else -1
    out = _package._run_tensors(call.kernel, code, call.params, call.ignore_index, scale,
                                weight_total, axis, call.aux0_constant,
                                need_grad and grad_into is None, *described)
    if out is None:
        return None
    value, grad = out
    value_t = torch.from_numpy(value)
    if divisor != 1:
        value_t = value_t / divisor if divisor else torch.full_like(value_t, math.nan)
    if grad_into is not None:
        return value_t, grad_into
    return value_t, torch.from_numpy(grad) if need_grad else input.new_empty((0,))


def _weight_total(weight: Tensor, input: Tensor):
    """The sum of the weights broadcast to the input's shape exactly as the general path computes
    it (its mean's denominator: the native weight scan, in its fixed order), or None for weights
    it would convert."""
    if weight.dtype not in _FLOATS:
        return None
    try:
        view = np.broadcast_to(weight.detach().numpy(), tuple(input.shape))
    except ValueError:
        return 0.0  # the native entry declines weights that do not broadcast
    # Invalid values: the native entry checks them again and declines the call.
    return _core.scan_weights("fastloss.torch", view)[0]
