"""One fused kernel call: a fastloss NumPy-API loss run on views of the tensors, giving the loss
and, when autograd will need it, the gradient with respect to ``input``."""

import contextvars
import functools
import sys
from typing import Optional

import numpy as np
import torch
from torch import Tensor

from .._autodiff import value_and_grad
from ._tensors import device_operands, numpy_operands

# The package, through which evaluate calls through_device_path and value_and_grad_of: tests
# replace fastloss.torch._through_device_path and ._value_and_grad to force the device route
# or forbid the gradient (see __init__).
_package = sys.modules[__package__]

# The tensor the next kernel call writes its gradient into (inplace_backward), else None. A
# context variable rather than an argument: the op bodies are also custom ops, whose schemas
# have no such argument (an op may not write into its input and still have an autograd formula).
grad_into: contextvars.ContextVar[Optional[Tensor]] = contextvars.ContextVar(
    "fastloss_torch_grad_into", default=None)


@functools.lru_cache(maxsize=None)
def value_and_grad_of(loss):
    return value_and_grad(loss)


def evaluate(loss, input: Tensor, target: Tensor, reduction: str, need_grad: bool,
             *, divisor: int = 1, mean_by_count: bool = False, both_gradients: bool = False,
             **kwargs):
    """Runs the fastloss NumPy loss ``loss`` on views of the tensors and returns (loss, grad)
    tensors. ``divisor`` divides loss and gradient (multi_margin_loss's 1/C);
    ``mean_by_count`` makes ``mean`` sum/number-of-losses (PyTorch's weighted mean for huber
    and the binary cross-entropies) instead of fastloss's sum(w*l)/sum(w). The gradient goes
    into ``grad_into`` when it is set (``input`` itself, for inplace_backward). With
    ``both_gradients`` (a target of logits, the divergences) the gradient is those of ``input``
    and ``target`` stacked, ``(2, *input.shape)``, written by the kernel in place."""
    into_tensor = grad_into.get()
    on_device = _package._through_device_path(input)  # (no CUDA kernels yet: the native
    if on_device:                                     # dispatch says so)
        x, y, kwargs = device_operands(input, target, kwargs)
    else:
        x, y, kwargs = numpy_operands(input, target, kwargs)
    into = None if into_tensor is None else \
        into_tensor.detach() if on_device else _package._as_numpy(into_tensor)
    red = reduction
    if mean_by_count and reduction == "mean":
        axis = kwargs.get("axis")
        n = x.size if axis is None or x.shape[axis] == 0 else x.size // x.shape[axis]
        red, divisor = "sum", divisor * n
    scale = 1.0 / divisor if divisor else float("nan")
    if need_grad and both_gradients:
        if on_device:
            value, grads = value_and_grad(loss, argnums=(0, 1))(x, y, reduction=red, **kwargs)
            grad_t = torch.stack([grads[0], grads[1]])
        else:
            stacked = np.empty((2,) + x.shape, x.dtype)
            value, _ = value_and_grad(loss, argnums=(0, 1))(
                x, y, reduction=red, grad_output=None if scale == 1.0 else scale,
                grad_into=(stacked[0], stacked[1]), **kwargs)
            grad_t = torch.from_numpy(stacked)
        if grad_t.dtype != input.dtype:
            grad_t = grad_t.to(input.dtype)
    elif need_grad:
        value, grad = _package._value_and_grad(loss)(
            x, y, reduction=red, grad_output=None if scale == 1.0 else scale,
            grad_into=into, **kwargs)
        grad_t = into_tensor if into_tensor is not None else \
            torch.from_numpy(grad) if isinstance(grad, np.ndarray) else grad
        if grad_t.dtype != input.dtype:
            grad_t = grad_t.to(input.dtype)
    else:
        value = loss(x, y, reduction=red, **kwargs)
        grad_t = input.new_empty((0,))
    value_t = value if isinstance(value, Tensor) else torch.from_numpy(np.asarray(value))
    if divisor != 1:
        value_t = value_t / divisor if divisor else torch.full_like(value_t, float("nan"))
    return value_t, grad_t
