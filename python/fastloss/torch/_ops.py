"""The custom op ``fastloss::<name>`` of every loss in the table: its body runs the fused kernel
once, its fake gives the output shapes, its autograd formula reuses the kernel's gradient."""

import inspect
import sys
from typing import Callable, NamedTuple

import torch
from torch import Tensor

from .. import (_classification, _divergence, _likelihood, _metric, _multilabel, _ranking,
               _regression)
from ._autograd import backward, fake, setup_context
from . import _native
from ._kernel import evaluate, grad_into
from ._losses import LOSSES
from ._spec import TorchLoss
from ._tensors import class_dim

_LIB = "fastloss::"

# The package, through which body asks _through_device_path: tests replace it to send CPU
# tensors down the CUDA tensors' route (see __init__).
_package = sys.modules[__package__]


class Op(NamedTuple):
    custom_op: Callable  # what torch.compile and torch.func call
    body: Callable       # the same computation, which eager calls run directly (see _call)
    kernel: Callable     # the NumPy API function it calls


def kernel_kwargs(loss: TorchLoss, args: tuple) -> dict:
    """The NumPy API keywords of the op's loss-specific arguments (as the body maps them)."""
    kwargs = {}
    for arg, value in zip(loss.args, args):
        if arg.to_kernel is not None:
            value = arg.to_kernel(value)
        if value is not None or arg.keyword not in kwargs:  # (see Arg: the tensor form wins)
            kwargs[arg.keyword] = value
    return kwargs


def _kernel_function(loss: TorchLoss) -> Callable:
    return (getattr(_regression, loss.kernel, None) or getattr(_likelihood, loss.kernel, None)
            or getattr(_multilabel, loss.kernel, None) or getattr(_divergence, loss.kernel, None)
            or getattr(_ranking, loss.kernel, None) or getattr(_metric, loss.kernel, None)
            or getattr(_classification, loss.kernel))


def _body(loss: TorchLoss) -> Callable:
    """(input, target, reduction, need_grad, *args) -> (loss, grad), with the op's schema as its
    signature: the fastloss call with the entry's keywords, class axis, divisor and mean."""
    kernel = _kernel_function(loss)
    # (keyword, op value -> fastloss value) per arg, worked out once rather than per call
    plan = [(arg.keyword, arg.to_kernel) for arg in loss.args]
    native, row = _native.CALLS[loss.name], loss.row

    def body(input, target, reduction, need_grad, *args):
        if not _package._through_device_path(input):  # CPU: one native call, unless it declines
            out = _native.evaluate(native, row, input, target, reduction, need_grad, args,
                                   grad_into.get(), classes_last=loss.classes_last)
            if out is not None:
                return out
        kwargs = {}
        for (keyword, to_kernel), value in zip(plan, args):
            if to_kernel is not None:
                value = to_kernel(value)
            if value is not None or keyword not in kwargs:  # (see Arg: the tensor form wins)
                kwargs[keyword] = value
        options = {}
        if loss.row:
            kwargs["axis"] = axis = class_dim(input, loss.classes_last)
            if loss.divide_by_classes:
                options["divisor"] = input.shape[axis]
        if loss.mean_by_count:  # only where there are weights: unweighted, the means agree
            options["mean_by_count"] = kwargs["sample_weight"] is not None
        if loss.logits_target:
            options["both_gradients"] = True
        return evaluate(kernel, input, target, reduction, need_grad, **options, **kwargs)

    positional = inspect.Parameter.POSITIONAL_OR_KEYWORD
    fixed = [("input", Tensor), ("target", Tensor), ("reduction", str), ("need_grad", bool)]
    # custom_op reads the op's schema from this signature (inspect.signature honours it)
    body.__signature__ = inspect.Signature(
        [inspect.Parameter(name, positional, annotation=type_) for name, type_ in fixed]
        + [inspect.Parameter(arg.name, positional, annotation=arg.type) for arg in loss.args],
        return_annotation=tuple[Tensor, Tensor])
    body.__name__ = body.__qualname__ = f"_{loss.name}_op"
    return body


def _register(loss: TorchLoss) -> Op:
    body = _body(loss)
    op = torch.library.custom_op(_LIB + loss.name, mutates_args=())(body)
    op.register_fake(fake(loss.row, loss.classes_last, loss.logits_target))
    op.register_autograd(backward, setup_context=setup_context(loss.row, loss.target_gradient,
                                                               loss.classes_last))
    return Op(op, body, _kernel_function(loss))


OPS = {loss.name: _register(loss) for loss in LOSSES}
