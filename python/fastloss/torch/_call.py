"""The path of every public call: the arguments checked and converted (traceably, for
torch.compile), whether autograd will need the gradient decided, then the loss's op run, as its
plain body through an autograd.Function in eager mode, as the custom op otherwise."""

import sys
from typing import Optional

import numpy as np
import torch
from torch import Tensor

from ._autograd import _InPlaceRowLoss, eager_loss
from ._errors import fail
from ._losses import LOSSES
from . import _all_grads
from ._ops import OPS, kernel_kwargs as _kernel_kwargs
from ._spec import TorchLoss
from ._tensors import FLOATS, check_device, class_dim, optional_tensor

_REDUCTIONS = ("mean", "sum", "none")

# The package, through which call asks eager(): tests replace fastloss.torch._eager to send eager
# calls through the custom op (see __init__).
_package = sys.modules[__package__]


def legacy_reduction(size_average, reduce, reduction: str) -> str:
    if size_average is not None or reduce is not None:
        return torch.nn._reduction.legacy_get_string(size_average, reduce)
    return reduction


def eager(input: Tensor) -> bool:
    """Whether to run an op's body through _EagerLoss: a plain tensor outside torch.compile
    and torch.func (which need the registered custom op)."""
    return (type(input) is Tensor and not torch.compiler.is_compiling()
            and not torch._C._functorch.is_functorch_wrapped_tensor(input))


def run(loss: TorchLoss, input, target, reduction, args: tuple, inplace_backward=False):
    """A public function's call: ``args`` are the op's arguments (after ``prepare``), checked
    (all of them first), then converted as their schema types say, before ``call``."""
    fn = loss.name
    checks, conversions = _ARGUMENT_HANDLING[fn]
    for i, check in checks:
        check(fn, loss.args[i], args[i])
    if conversions:
        args = list(args)
        for i, convert in conversions:
            args[i] = convert(fn, loss.args[i], args[i])
        args = tuple(args)
    return call(loss, input, target, reduction, args, inplace_backward)


def _check_int(fn: str, arg, value):
    if isinstance(value, bool) or not isinstance(value, int):
        fail(fn, f"{arg.parameter} must be an int, got {value!r}", TypeError)


def _check_bool(fn: str, arg, value):
    if not isinstance(value, bool):
        fail(fn, f"{arg.parameter} must be a bool, got {value!r}", TypeError)


def _check_choice(fn: str, arg, value):
    if value not in arg.choices:
        fail(fn, f"{arg.parameter} must be {' or '.join(map(repr, arg.choices))}, got {value!r}")


def _float(fn: str, arg, value) -> float:
    """A real number as the op's float: numbers and 0-d real tensors/arrays, never a string or a
    bool (float("0.5") would silently accept what PyTorch's own losses refuse)."""
    if type(value) is float:
        return value
    if not isinstance(value, (str, bytes, bytearray, bool, np.bool_)):
        try:
            return float(value)
        except (TypeError, ValueError, RuntimeError):
            pass
    fail(fn, f"{arg.parameter} must be a real number, got {value!r}", TypeError)


def _optional_float(fn: str, arg, value):
    return None if value is None else _float(fn, arg, value)


def _optional_tensor(fn: str, arg, value):
    return optional_tensor(value)


_CHECKS = {int: _check_int, bool: _check_bool}
_CONVERSIONS = {float: _float, Optional[float]: _optional_float,
                Optional[Tensor]: _optional_tensor}


def _handling(loss: TorchLoss):
    """(position, check) and (position, conversion) of the op arguments that have one."""
    checks = [(i, _check_choice if arg.choices else _CHECKS.get(arg.type))
              for i, arg in enumerate(loss.args)]
    conversions = [(i, _CONVERSIONS.get(arg.type)) for i, arg in enumerate(loss.args)]
    return ([(i, check) for i, check in checks if check is not None],
            [(i, convert) for i, convert in conversions if convert is not None])


# Per loss, worked out once rather than per call.
_ARGUMENT_HANDLING = {loss.name: _handling(loss) for loss in LOSSES}


def call(loss: TorchLoss, input, target, reduction, args: tuple, inplace_backward=False):
    """Validates what the op's fake implementation relies on, decides whether autograd will
    need the gradient, and runs the op. Tensor ``args`` are checked for layout, device and
    requires_grad. With ``inplace_backward`` (row losses) a call that needs the gradient writes
    it into ``input`` (in eager mode; under torch.compile the op computes it out of place)."""
    fn = loss.name
    if type(inplace_backward) is not bool:
        fail(fn, f"inplace_backward must be a bool, got {inplace_backward!r}", TypeError)
    if not isinstance(input, Tensor):
        fail(fn, f"input must be a torch.Tensor, got {type(input).__name__}", TypeError)
    if not isinstance(target, Tensor):
        fail(fn, f"target must be a torch.Tensor, got {type(target).__name__}", TypeError)
    compiling = torch.compiler.is_compiling()
    input = _readable(fn, "input", input, compiling)
    target = _readable(fn, "target", target, compiling)
    if target.dtype == torch.bool:  # as PyTorch and the NumPy API: labels are numbers
        fail(fn, "target must hold numbers (class indices, labels or probabilities), got a bool "
                 "tensor", TypeError)
    if input.dtype not in FLOATS:
        fail(fn, f"input must be float16, bfloat16, float32 or float64, got {input.dtype}",
             TypeError)
    if loss.float_target and not target.is_floating_point() and not target.is_complex():
        target = target.to(input.dtype)
    if reduction not in _REDUCTIONS and not (loss.batchmean and reduction == "batchmean"):
        choices = "'mean', 'sum', 'none' or 'batchmean'" if loss.batchmean else \
            "'mean', 'sum' or 'none'"
        fail(fn, f"reduction must be {choices}, got {reduction!r}")
    if loss.row and input.dim() == 0:
        fail(fn, "input must have a class dimension (dim >= 1), got a 0-d tensor")
    on_cpu = input.is_cpu
    if not (on_cpu and target.is_cpu):  # (the common case, checked in a tenth of the time)
        check_device(fn, "input", input, input)
        check_device(fn, "target", target, input)
    grad_mode = torch.is_grad_enabled()
    for i, value in enumerate(args):
        if isinstance(value, Tensor):
            name = loss.args[i].parameter
            readable = _readable(fn, name, value, compiling)
            if readable is not value:
                args = args[:i] + (readable,) + args[i + 1:]
            if not (on_cpu and value.is_cpu):
                check_device(fn, name, value, input)
            if grad_mode and value.requires_grad and not loss.all_gradients:
                fail(fn, f"{name} requires grad, but fastloss differentiates input only; pass "
                         f"{name}.detach()", RuntimeError)
    if loss.all_gradients and grad_mode and (target.requires_grad or any(
            isinstance(v, Tensor) and v.requires_grad for v in args)):
        if not _package._eager(input):
            fail(fn, "target and tensor arguments are differentiated in eager calls only, not "
                     "under torch.compile; detach them there", RuntimeError)
        if not (on_cpu and target.is_cpu):
            fail(fn, "target and tensor arguments are differentiated on the CPU only",
                 RuntimeError)
        return _all_grads.call(OPS[fn].kernel, loss.kernel, input, target, reduction,
                               _kernel_kwargs(loss, args))
    target_grad = loss.target_gradient
    if grad_mode and not target_grad and target.requires_grad:
        fail(fn, "target requires grad, but this loss is differentiated with respect to input "
                 "only; pass target.detach()", RuntimeError)
    need_grad = grad_mode and (input.requires_grad or (target_grad and target.requires_grad))
    if inplace_backward and need_grad:
        _check_in_place(fn, input)
    op = OPS[fn]
    if not _package._eager(input):
        return op.custom_op(input, target, reduction, need_grad, *args)[0]
    if not need_grad:
        return op.body(input, target, reduction, False, *args)[0]
    dim = class_dim(input, loss.classes_last) if loss.row else None
    if inplace_backward:
        return _InPlaceRowLoss.apply(input, target, op.body, reduction, dim, args)
    return eager_loss(input, target, op.body, reduction, dim, target_grad, args)


def _readable(fn: str, name: str, t: Tensor, compiling: bool) -> Tensor:
    """``t`` as the kernels can read it: strided, with PyTorch's lazy negation (z.conj().imag)
    resolved, through the differentiable resolve_neg (one copy), since torch's own losses read
    such tensors as their values. (Under torch.compile the traced graph has no such bits.)"""
    if t.layout is not torch.strided:
        fail(fn, f"{name} is a {t.layout} tensor: fastloss reads dense (strided) tensors only; "
                 f"pass {name}.to_dense()", TypeError)
    if not compiling and t.is_neg():
        return t.resolve_neg()
    return t


def _check_in_place(fn: str, input: Tensor):
    if input.dtype not in (torch.float32, torch.float64):
        fail(fn, f"inplace_backward=True needs a float32 or float64 input (got {input.dtype}: "
                 f"half precision is computed in a float32 copy)")
    if input.is_leaf:
        fail(fn, "inplace_backward=True overwrites input with its gradient, which is only "
                 "meaningful for an intermediate result (e.g. the logits of a linear layer); "
                 "input is a leaf tensor")
    # A view (w[:], w.view(...), w.expand(...)) is not a leaf, but writing into it overwrites
    # the memory of its base: refuse when that base is a leaf (a parameter, or user data).
    base = input._base
    if base is not None and base.is_leaf:
        fail(fn, "inplace_backward=True would overwrite input's base, a leaf tensor (input is "
                 "a view of it, e.g. a parameter's w[:] or w.view(...)); pass an intermediate "
                 "result, or w.clone()")
