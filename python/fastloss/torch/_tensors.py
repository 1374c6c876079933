"""Tensors to fastloss operands and back: zero-copy NumPy views of CPU tensors, DLPack views of
device tensors, and the op body that runs one fused fastloss kernel on them."""

import contextvars
import functools
from typing import Optional

import numpy as np
import torch
from torch import Tensor

from .._autodiff import value_and_grad


_HALF = (torch.float16, torch.bfloat16)
_FLOATS = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
_REDUCTIONS = ("mean", "sum", "none")


def _fail(fn: str, message: str, exc: type = ValueError):
    raise exc(f"[fastloss.torch.{fn}] {message}")


# ---- tensors -> NumPy views ------------------------------------------------------------------

def _as_numpy(t: Tensor) -> np.ndarray:
    """A NumPy array over the tensor's own memory (no copy) for every dtype NumPy has; float16
    and bfloat16 become a float32 copy (the compute dtype). ``t`` must be on the CPU."""
    t = t.detach()
    if t.dtype in _HALF:
        return t.float().numpy()
    if t.dtype == torch.bool:
        return t.to(torch.int8).numpy()
    return t.numpy()


def _as_target(t: Tensor, dtype: np.dtype) -> np.ndarray:
    """Float targets in the compute dtype ``dtype`` (zero-copy when they already are); integer
    targets (class indices, binary labels) as they are."""
    if t.dtype.is_floating_point:
        a = _as_numpy(t)
        return a if a.dtype == dtype else a.astype(dtype)
    return _as_numpy(t)


def _device_operands(input: Tensor, target: Tensor, kwargs: dict):
    """The operands of a call on a CUDA device: the tensors themselves, which the NumPy API
    routes through DLPack to the native dispatch (float targets in the compute dtype)."""
    compute = torch.float32 if input.dtype in _HALF else input.dtype
    y = target.detach()
    if y.dtype.is_floating_point and y.dtype != compute:
        y = y.to(compute)
    detached = {k: v.detach() if isinstance(v, Tensor) else v for k, v in kwargs.items()}
    return input.detach(), y, detached


def _through_device_path(input: Tensor) -> bool:
    return input.device.type != "cpu"


def _check_device(fn: str, name: str, t, input: Tensor) -> None:
    if not isinstance(t, Tensor):
        return
    if t.device.type not in ("cpu", "cuda"):
        _fail(fn, f"{name} is on device '{t.device}': fastloss reads CPU and CUDA tensors only",
              RuntimeError)
    if t.device != input.device:
        _fail(fn, f"{name} is on {t.device} but input is on {input.device}", RuntimeError)


def _class_dim(x: Tensor) -> int:
    return 1 if x.dim() >= 2 else 0


@functools.lru_cache(maxsize=None)
def _value_and_grad(loss):
    return value_and_grad(loss)


# ---- the op bodies: one fused kernel call ------------------------------------------------------

# The tensor the next op body writes its gradient into (inplace_backward), else None. A context
# variable rather than an argument: the bodies are also custom ops, whose schemas have no such
# argument (an op may not write into its input and still have an autograd formula).
_grad_into: contextvars.ContextVar[Optional[Tensor]] = contextvars.ContextVar(
    "fastloss_torch_grad_into", default=None)


def _evaluate(fn: str, loss, input: Tensor, target: Tensor, reduction: str, need_grad: bool,
              *, divisor: int = 1, mean_by_count: bool = False, **kwargs):
    """Runs the fastloss NumPy loss ``loss`` on views of the tensors and returns (loss, grad)
    tensors. ``divisor`` divides loss and gradient (multi_margin_loss's 1/C);
    ``mean_by_count`` makes ``mean`` sum/number-of-losses (PyTorch's weighted mean for huber
    and the binary cross-entropies) instead of fastloss's sum(w*l)/sum(w). The gradient goes
    into ``_grad_into`` when it is set (``input`` itself, for inplace_backward)."""
    grad_into = _grad_into.get()
    on_device = _through_device_path(input)  # (no CUDA kernels yet: the native dispatch says so)
    if on_device:
        x, y, kwargs = _device_operands(input, target, kwargs)
    else:
        x = _as_numpy(input)
        y = _as_target(target, x.dtype)
        kwargs = {k: _as_numpy(v) if isinstance(v, Tensor) else v for k, v in kwargs.items()}
    into = None if grad_into is None else grad_into.detach() if on_device else _as_numpy(grad_into)
    red = reduction
    if mean_by_count and reduction == "mean":
        axis = kwargs.get("axis")
        n = x.size if axis is None or x.shape[axis] == 0 else x.size // x.shape[axis]
        red, divisor = "sum", divisor * n
    scale = 1.0 / divisor if divisor else float("nan")
    if need_grad:
        value, grad = _value_and_grad(loss)(
            x, y, reduction=red, grad_output=None if scale == 1.0 else scale,
            grad_into=into, **kwargs)
        grad_t = grad_into if grad_into is not None else \
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
