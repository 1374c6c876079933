"""Arrays on an accelerator: metadata views over DLPack capsules.

NumPy cannot hold device memory, so an array on another device (CUDA, ...) travels through the
dispatcher as a :class:`DeviceArray`: the producer's DLPack capsule, exported on the caller's
current stream, plus the shape and byte strides that :meth:`~DeviceArray.broadcast_to` and
:meth:`~DeviceArray.moveaxis` change without touching the data. The native layer reads the
capsule's device and pointer and the stream, and hands the views to the backend of that device.
Outputs are allocated by the caller's own library on the same device (``xp.empty(...,
device=...)`` through ``array_api_compat``, which gives PyTorch and CuPy the standard's
signatures), so results are the caller's array type. Checks on values (weights >= 0) run in the
caller's library too.
"""

from __future__ import annotations

import array_api_compat
import numpy as np

from . import _core
from ._validate import fail

DLPACK_CPU, DLPACK_CUDA = 1, 2
_DEVICE_NAMES = {1: "cpu", 2: "cuda", 3: "cuda_host", 4: "opencl", 7: "vulkan", 8: "metal",
                 10: "rocm", 13: "cuda_managed", 14: "oneapi"}


class DeviceArray:
    """A view of a DLPack array: capsule, shape, byte strides, dtype, device and stream."""

    __slots__ = ("source", "xp", "capsule", "shape", "strides", "dtype", "device", "stream")

    def __init__(self, source, xp, capsule, shape, strides, dtype, device, stream):
        self.source, self.xp, self.capsule = source, xp, capsule
        self.shape, self.strides, self.dtype = tuple(shape), tuple(strides), dtype
        self.device, self.stream = device, stream

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def _fastloss_dlpack(self):
        """What the native bindings read (bindings/arrays.cc)."""
        return self.capsule, self.shape, self.strides, self.stream or 0

    def _with(self, shape, strides) -> DeviceArray:
        return DeviceArray(self.source, self.xp, self.capsule, shape, strides, self.dtype,
                           self.device, self.stream)

    def broadcast_to(self, shape) -> DeviceArray:
        """NumPy's broadcasting rules, as a view with zero strides; ValueError if incompatible."""
        shape = tuple(int(n) for n in shape)
        lead = len(shape) - self.ndim
        if lead < 0:
            raise ValueError(f"cannot broadcast shape {self.shape} to {shape}")
        strides = [0] * lead
        for n, have, stride in zip(shape[lead:], self.shape, self.strides):
            if have not in (1, n):
                raise ValueError(f"cannot broadcast shape {self.shape} to {shape}")
            strides.append(stride if have == n else 0)
        return self._with(shape, strides)

    def moveaxis(self, source: int, destination: int) -> DeviceArray:
        order = [d for d in range(self.ndim) if d != source % self.ndim]
        order.insert(destination % self.ndim, source % self.ndim)
        return self._with([self.shape[d] for d in order], [self.strides[d] for d in order])

    def __getitem__(self, index):
        """An element of the caller's array (for error messages; only valid before any
        broadcast_to or moveaxis)."""
        return self.source[index]


def consumer_stream(source, device) -> int | None:
    """The stream the caller's library is working on: DLPack's producer makes the array ready on
    it, and the kernel is ordered on it. None (the producer's choice) off CUDA."""
    kind, index = device
    if kind != DLPACK_CUDA:
        return None
    module = type(source).__module__.split(".")[0]
    if module == "torch":
        import torch
        return torch.cuda.current_stream(index).cuda_stream
    if module == "cupy":
        import cupy
        return cupy.cuda.get_current_stream().ptr
    return 1  # the legacy default stream: DLPack's convention when the consumer has no other


def _export(fn: str, name: str, source, stream):
    try:
        try:
            return source.__dlpack__(stream=stream, max_version=(1, 0))
        except TypeError:  # a producer that only knows legacy capsules
            return source.__dlpack__(stream=stream)
    except (BufferError, RuntimeError, TypeError, ValueError) as e:
        fail(fn, f"{name}: cannot read this {type(source).__name__} through DLPack ({e})", TypeError)


def namespace(fn: str, name: str, source, device):
    """The array-API namespace of `source`'s library (it allocates the results)."""
    try:
        return array_api_compat.array_namespace(source)
    except TypeError:
        fail(fn, f"{name}: a {type(source).__name__} on {device_name(device)} has no array library "
                 f"(__array_namespace__) that could allocate the results on its device", TypeError)


def device_name(device) -> str:
    kind, index = device
    return f"{_DEVICE_NAMES.get(kind, f'device type {kind}')}:{index}"


def wrap(fn: str, name: str, source, xp, device) -> DeviceArray:
    """A DeviceArray over `source`, exported on the caller's current stream."""
    stream = consumer_stream(source, device)
    capsule = _export(fn, name, source, stream)
    kind, index, dtype, shape, strides = _core.dlpack_info(capsule)
    if dtype in ("bfloat16", "vector", "unknown"):
        fail(fn, f"{name}: unsupported dtype {dtype}", TypeError)
    return DeviceArray(source, xp, capsule, shape, strides, np.dtype(dtype), (kind, index), stream)


def wrap_like(fn: str, name: str, source, like: DeviceArray) -> DeviceArray:
    return wrap(fn, name, source, like.xp, like.device)


def _library_device(like: DeviceArray):
    """The device object of `like`'s library (what its `empty(..., device=)` takes)."""
    return array_api_compat.device(like.source)


def empty(shape, dtype, like: DeviceArray) -> DeviceArray:
    """An output on `like`'s device, allocated by its library."""
    xp = like.xp
    out = xp.empty(tuple(shape), dtype=getattr(xp, np.dtype(dtype).name),
                   device=_library_device(like))
    return wrap("empty", "output", out, xp, like.device)


def constant(value, dtype, like: DeviceArray) -> DeviceArray:
    """A 0-d array holding `value` on `like`'s device."""
    xp = like.xp
    c = xp.full((), value, dtype=getattr(xp, np.dtype(dtype).name),
                device=_library_device(like))
    return wrap("constant", "constant", c, xp, like.device)


def astype(fn: str, name: str, a: DeviceArray, dtype) -> DeviceArray:
    """`a` converted to `dtype` by its library, on its device (a copy)."""
    xp = a.xp
    return wrap(fn, name, xp.astype(a.source, getattr(xp, np.dtype(dtype).name)), xp, a.device)


def scalar_result(value: float, dtype, like: DeviceArray):
    """A reduced loss as a 0-d array of the caller's library on its device."""
    xp = like.xp
    return xp.asarray(value, dtype=getattr(xp, np.dtype(dtype).name),
                      device=_library_device(like))


def check_weights(fn: str, name: str, w: DeviceArray, length: int | None) -> DeviceArray:
    """fastloss._validate.weights for a device array: the same rules, checked on the device."""
    if w.dtype.kind not in "fiu":
        fail(fn, f"{name} must be a real float32/float64 or integer array, got dtype {w.dtype}",
             TypeError)
    if length is not None and w.shape != (length,):
        fail(fn, f"{name} must have shape ({length},), got {w.shape}")
    xp, a = w.xp, w.source
    if w.size and w.dtype.kind == "f" and not bool(xp.all(xp.isfinite(a) & (a >= 0))):
        fail(fn, f"{name} must be finite and >= 0")
    if w.size and w.dtype.kind != "f" and not bool(xp.all(a >= 0)):
        fail(fn, f"{name} must be finite and >= 0")
    return w


def total(w: DeviceArray) -> float:
    """The sum of the (un-broadcast) weights, in float64, computed by the caller's library."""
    xp = w.xp
    return float(xp.sum(xp.astype(w.source, xp.float64)))
