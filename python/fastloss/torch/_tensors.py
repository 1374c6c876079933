"""Tensors in, arrays out: the operands a fastloss kernel reads, zero-copy where possible."""

import sys

import numpy as np
import torch
from torch import Tensor

from ._errors import fail

HALF = (torch.float16, torch.bfloat16)
FLOATS = (torch.float16, torch.bfloat16, torch.float32, torch.float64)

# The package, through which numpy_operands calls as_numpy: tests replace
# fastloss.torch._as_numpy to prove that a call took the device route (see __init__).
_package = sys.modules[__package__]


def as_numpy(t: Tensor) -> np.ndarray:
    """A NumPy array over the tensor's own memory (no copy) for every dtype NumPy has; float16
    and bfloat16 become a float32 copy (the compute dtype). ``t`` must be on the CPU."""
    t = t.detach()
    if t.dtype in HALF:
        return t.float().numpy()
    if t.dtype == torch.bool:
        return t.to(torch.int8).numpy()
    return t.numpy()


def numpy_operands(input: Tensor, target: Tensor, kwargs: dict):
    """The operands of a call on the CPU, as NumPy views: float targets in the compute dtype
    (zero-copy when they already are), integer targets (class indices, binary labels) as they
    are."""
    as_numpy = _package._as_numpy
    x = as_numpy(input)
    y = as_numpy(target)
    if target.dtype.is_floating_point and y.dtype != x.dtype:
        y = y.astype(x.dtype)
    arrays = {k: as_numpy(v) if isinstance(v, Tensor) else v for k, v in kwargs.items()}
    return x, y, arrays


def device_operands(input: Tensor, target: Tensor, kwargs: dict):
    """The operands of a call on a CUDA device: the tensors themselves, which the NumPy API
    routes through DLPack to the native dispatch (float targets in the compute dtype)."""
    compute = torch.float32 if input.dtype in HALF else input.dtype
    y = target.detach()
    if y.dtype.is_floating_point and y.dtype != compute:
        y = y.to(compute)
    detached = {k: v.detach() if isinstance(v, Tensor) else v for k, v in kwargs.items()}
    return input.detach(), y, detached


def through_device_path(input: Tensor) -> bool:
    return not input.is_cpu  # (a tenth of the time of input.device.type != "cpu")


def check_device(fn: str, name: str, t, input: Tensor) -> None:
    if not isinstance(t, Tensor):
        return
    if t.device.type not in ("cpu", "cuda"):
        fail(fn, f"{name} is on device '{t.device}': fastloss reads CPU and CUDA tensors only",
             RuntimeError)
    if t.device != input.device:
        fail(fn, f"{name} is on {t.device} but input is on {input.device}", RuntimeError)


def class_dim(x: Tensor, classes_last: bool = False) -> int:
    """The class dimension of a row loss's input: 1 (0 for a single row), as PyTorch's losses
    over classes, or the last one (multilabel_soft_margin_loss)."""
    if classes_last:
        return x.dim() - 1
    return 1 if x.dim() >= 2 else 0


def is_tensor_like(value) -> bool:
    """Whether a hyper-parameter that is a number or one value per position/class was given as
    the latter."""
    return isinstance(value, (Tensor, np.ndarray, list, tuple))


def optional_tensor(value):
    """Optional tensor arguments may be given as tensors, arrays or sequences."""
    if value is None or isinstance(value, Tensor):
        return value
    return torch.as_tensor(np.asarray(value))
