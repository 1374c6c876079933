"""The custom op ``fastloss::<name>`` of every loss in the table: its body runs the fused kernel
once, its fake gives the output shapes, its autograd formula reuses the kernel's gradient."""

import inspect
import sys
from typing import Callable, NamedTuple

import torch
from torch import Tensor

from .. import _classification, _divergence, _regression
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


def _body(loss: TorchLoss) -> Callable:
    """(input, target, reduction, need_grad, *args) -> (loss, grad), with the op's schema as its
    signature: the fastloss call with the entry's keywords, class axis, divisor and mean."""
    kernel = (getattr(_regression, loss.kernel, None) or getattr(_divergence, loss.kernel, None)
              or getattr(_classification, loss.kernel))
    # (keyword, op value -> fastloss value) per arg, worked out once rather than per call
    plan = [(arg.keyword, arg.to_kernel) for arg in loss.args]
    native, row = _native.CALLS[loss.name], loss.row

    def body(input, target, reduction, need_grad, *args):
        if not _package._through_device_path(input):  # CPU: one native call, unless it declines
            out = _native.evaluate(native, row, input, target, reduction, need_grad, args,
                                   grad_into.get())
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
            kwargs["axis"] = axis = class_dim(input)
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
    op.register_fake(fake(loss.row, loss.logits_target))
    op.register_autograd(backward, setup_context=setup_context(loss.row, loss.target_gradient))
    return Op(op, body)


OPS = {loss.name: _register(loss) for loss in LOSSES}
