"""The likelihoods' target and var gradients in eager fastloss.torch (kl_div, poisson_nll_loss,
gaussian_nll_loss: PyTorch differentiates every argument of these).

A call in which ``target`` or a tensor argument (``var``) requires grad runs as one
autograd.Function: forward computes the loss, backward runs the NumPy API's ``value_and_grad``
once over every array argument autograd needs, with the upstream gradient passed to the kernel
(so a broadcast var's gradient is summed after the upstream is applied). That is a second kernel
pass, the price of the general case; the fused op (and torch.compile, where such a call is a
RuntimeError) differentiates ``input`` only.
"""

import numpy as np
import torch
from torch import Tensor

from .._autodiff import value_and_grad
from .._registry import REGISTRY
from ._tensors import as_numpy


def _operands(input: Tensor, arrays: tuple):
    """NumPy views (float ones in the input's compute dtype)."""
    x = as_numpy(input)
    out = []
    for t in arrays:
        a = as_numpy(t)
        out.append(a.astype(x.dtype) if t.dtype.is_floating_point and a.dtype != x.dtype else a)
    return x, out


class _AllGradients(torch.autograd.Function):
    @staticmethod
    def forward(ctx, fn, reduction, kwargs, names, input, target, *extra):
        x, (y, *rest) = _operands(input, (target, *extra))
        ctx.fn, ctx.reduction, ctx.kwargs, ctx.names = fn, reduction, kwargs, names
        ctx.save_for_backward(input, target, *extra)
        value = fn(x, y, reduction=reduction, **dict(zip(names, rest)), **kwargs)
        return torch.from_numpy(np.asarray(value)).to(
            torch.float32 if input.dtype in (torch.float16, torch.bfloat16) else input.dtype)

    @staticmethod
    def backward(ctx, grad_loss):
        if torch.is_grad_enabled():
            raise RuntimeError("[fastloss.torch] double backward is not supported: the fused "
                               "kernel computes the first derivative only")
        tensors = ctx.saved_tensors
        needs = ctx.needs_input_grad[4:]
        positions = tuple(i for i, need in enumerate(needs) if need)
        result = [None] * (4 + len(tensors))
        if not positions or grad_loss is None:
            return tuple(result)
        x, (y, *rest) = _operands(tensors[0], tensors[1:])
        upstream = grad_loss.detach().to(torch.float64 if x.dtype == np.float64 else
                                         torch.float32).numpy()
        _, grads = value_and_grad(ctx.fn, argnums=positions)(
            x, y, reduction=ctx.reduction, grad_output=upstream if upstream.ndim else
            float(upstream), **dict(zip(ctx.names, rest)), **ctx.kwargs)
        for position, g in zip(positions, grads):
            result[4 + position] = torch.from_numpy(np.asarray(g)).to(tensors[position].dtype)
        return tuple(result)


def call(fn, kernel: str, input: Tensor, target: Tensor, reduction: str, kwargs: dict):
    """The loss, differentiable in input, target and the array arguments after them (those of
    ``kwargs`` that are tensors, by the registry's argument order)."""
    names = tuple(n for n in REGISTRY[kernel].arrays[2:] if isinstance(kwargs.get(n), Tensor))
    rest = {k: v for k, v in kwargs.items() if k not in names}
    return _AllGradients.apply(fn, reduction, rest, names, input, target,
                               *(kwargs[n] for n in names))
