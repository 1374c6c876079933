"""Any array in, the caller's array type out.

Every public loss is wrapped by :func:`any_array`. NumPy arrays go straight through. Objects from
other libraries that implement ``__dlpack__`` (PyTorch, JAX, CuPy, ...) are read through DLPack
as zero-copy NumPy views (``np.from_dlpack`` negotiates a versioned DLPack 1.x capsule and falls
back to a legacy one for producers such as JAX), the loss runs on those views, and the results are
handed back to the library of the first array argument with its ``from_dlpack``, zero-copy where
that library allows. float16/bfloat16 inputs are computed in float32: the loss comes back in
float32 and the gradient in the input's dtype.

Arrays on another device (CUDA, ...) become :class:`~fastloss._device.DeviceArray` views of their
DLPack capsules, exported on the caller's current stream, and reach the native dispatch with their
device and stream; outputs are allocated on that device by the caller's library. A build without
kernels for the device says so in a ValueError.
"""

from __future__ import annotations

import functools
import importlib
import inspect

import numpy as np

from . import _device
from ._device import DeviceArray
from ._dispatch import _passed_dtypes, _request
from ._validate import fail

_HALF_DTYPES = ("float16", "bfloat16")
_FLOAT16 = np.dtype(np.float16)  # builtin dtypes are singletons: an identity test suffices


def _on_cpu(device) -> bool:
    """Whether arrays on `device` are read as NumPy views (else as DeviceArrays)."""
    return device[0] == _device.DLPACK_CPU


def _device_of(a):
    if hasattr(a, "__dlpack_device__"):
        kind, index = a.__dlpack_device__()
        return int(kind), int(index)
    return _device.DLPACK_CPU, 0


def _namespace(a):
    """The library whose ``from_dlpack``/``astype`` builds arrays like ``a``."""
    if hasattr(a, "__array_namespace__"):
        return a.__array_namespace__()
    return importlib.import_module(type(a).__module__.split(".")[0])


def _dtype_name(a) -> str:
    return str(getattr(a, "dtype", "")).rsplit(".", 1)[-1]


class _Caller:
    """Remembers what the caller passed so that results can be handed back in kind."""

    def __init__(self, fn: str, first, device=(_device.DLPACK_CPU, 0)):
        self.fn = fn
        self.device = device
        self.foreign = hasattr(first, "__dlpack__") and not isinstance(first, np.ndarray)
        self.namespace = _namespace(first) if self.foreign else None
        self.half = _dtype_name(first) in _HALF_DTYPES
        self.first_dtype = getattr(first, "dtype", None)
        self.halves = {}  # id(float32 copy) -> the half dtype the caller passed, for messages

    def convert(self, name: str, a):
        """`a` as the dispatcher reads it: a NumPy array (a zero-copy view of a CPU array), a
        DeviceArray (an array on another device), or unchanged (lists, scalars, None)."""
        if isinstance(a, np.ndarray):
            return self._widened(a, "float16") if a.dtype == np.float16 else a
        if not hasattr(a, "__dlpack__"):
            return a  # lists, scalars, None: the public function validates them
        if callable(getattr(a, "is_neg", None)) and a.is_neg():
            # PyTorch's lazy negation (z.conj().imag): its DLPack export ignores the bit, so the
            # kernel would read the values with the wrong sign.
            fail(self.fn, f"{name} is a torch tensor with a pending negation (its neg bit is "
                          f"set); pass {name}.resolve_neg()", TypeError)
        if getattr(a, "requires_grad", False) and hasattr(a, "detach"):
            a = a.detach()  # a torch tensor in a graph: read its values (use fastloss.torch for autograd)
        half = _dtype_name(a) if _dtype_name(a) in _HALF_DTYPES else None
        if half:
            # NumPy has no bfloat16: widen in the caller's library (one converted copy).
            a = a.float() if hasattr(a, "float") else _namespace(a).astype(a, "float32")
        if not _on_cpu(self.device):
            return _device.wrap(self.fn, name, a, _device.namespace(self.fn, name, a, self.device),
                                self.device)
        try:
            view = np.from_dlpack(a)
        except (BufferError, RuntimeError, TypeError, ValueError) as e:
            fail(self.fn, f"{name}: cannot read this {type(a).__name__} through DLPack ({e})",
                 TypeError)
        return self._widened(view, half) if half else view

    def _widened(self, a: np.ndarray, half: str) -> np.ndarray:
        """`a` in float32 (a copy unless it already is), remembered as `half` for messages."""
        out = a.astype(np.float32, copy=False)
        self.halves[id(out)] = half
        return out

    def back(self, out, *, is_grad: bool = False):
        if type(out) is tuple:  # a pair of unreduced losses (gan_discriminator's "none")
            return tuple(self.back(o, is_grad=is_grad) for o in out)
        if isinstance(out, DeviceArray) or not _on_cpu(self.device):
            # allocated by the caller's library on its device (a reduced loss: a 0-d array of it)
            result = out.source if isinstance(out, DeviceArray) else out
            if is_grad and self.half:
                xp = _device.namespace(self.fn, "result", result, self.device)
                result = xp.astype(result, self.first_dtype)
            return result
        if not self.foreign and not (self.half and is_grad):
            return out
        if not self.foreign:  # NumPy float16 input: gradient back in float16
            return out.astype(self.first_dtype)
        if not hasattr(self.namespace, "from_dlpack"):
            return out  # a bare DLPack producer with no array library behind it: NumPy results
        result = self.namespace.from_dlpack(out)
        if is_grad and self.half:
            result = result.to(self.first_dtype) if hasattr(result, "to") else \
                self.namespace.astype(result, self.first_dtype)
        return result


def _plain_numpy(args, kwargs) -> bool:
    """True when no argument needs converting (written as loops: this runs on every call)."""
    for a in args:
        if type(a) is not np.ndarray or a.dtype is _FLOAT16:
            return False
    for v in kwargs.values():
        if type(v) is not np.ndarray and hasattr(v, "__dlpack__"):
            return False
    return True


def _caller_buffer(name: str, caller, into):
    """A caller's grad_into as the array the kernel writes (None stays None)."""
    if into is None:
        return None
    if _dtype_name(into) in _HALF_DTYPES:  # would be a converted copy
        fail(name, "grad_into must be float32 or float64 (half-precision gradients are "
                   "computed in float32 and converted)", TypeError)
    return caller.convert("grad_into", into)


def _plain_request(request) -> bool:
    """True when value_and_grad's grad_into and grad_output need no converting either."""
    if request is None:
        return True
    for into in request.grad_into:
        if into is not None and type(into) is not np.ndarray:
            return False
    g = request.grad_output
    return type(g) is np.ndarray or not hasattr(g, "__dlpack__")


def _device_or_fail(fn: str, arg_name: str, a):
    """`a`'s DLPack device; a ValueError naming the argument where the producer cannot say
    (a torch meta tensor: shape and dtype without data)."""
    try:
        return _device_of(a)
    except (BufferError, RuntimeError, TypeError, ValueError) as e:
        if getattr(a, "is_meta", False):
            fail(fn, f"{arg_name} is a meta tensor (a shape and dtype without data): fastloss "
                     f"computes on arrays with data")
        fail(fn, f"{arg_name}: a {type(a).__name__} whose device DLPack cannot name ({e})")


def any_array(fn):
    """Wrap a public loss so it takes any DLPack array and returns the caller's array type."""
    params = list(inspect.signature(fn).parameters)
    name = fn.__name__

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        request = _request.get()
        if _plain_numpy(args, kwargs) and _plain_request(request):
            return fn(*args, **kwargs)  # the common NumPy call: nothing to convert
        arrays = [(params[i], a) for i, a in enumerate(args)] + list(kwargs.items())
        if request is not None:  # the arguments decide the device; these must be on it
            arrays += [("grad_output", request.grad_output)]
            arrays += [("grad_into", into) for into in request.grad_into]
        devices = {}
        for arg_name, a in arrays:
            if hasattr(a, "__dlpack_device__"):
                devices.setdefault(_device_or_fail(name, arg_name, a), arg_name)
        if len(devices) > 1:
            (d1, n1), (d2, n2) = list(devices.items())[:2]
            fail(name, f"arrays on different devices: {n1} on {_device.device_name(d1)}, "
                       f"{n2} on {_device.device_name(d2)}")
        device = next(iter(devices), (_device.DLPACK_CPU, 0))
        caller = _Caller(name, args[0] if args else None, device)
        converted_args = [caller.convert(params[i], a) for i, a in enumerate(args)]
        converted_kwargs = {k: caller.convert(k, v) for k, v in kwargs.items()}
        buffers = ()
        if request is not None:
            # A caller's grad_into of any DLPack library (a torch tensor with NumPy inputs, say)
            # is written through a NumPy view of its memory and handed back itself.
            buffers = request.grad_into
            request.grad_into = tuple(_caller_buffer(name, caller, into) for into in buffers)
            if _on_cpu(device):  # on a device, _dispatch wraps it like the inputs
                request.grad_output = caller.convert("grad_output", request.grad_output)
        token = _passed_dtypes.set(caller.halves) if caller.halves else None
        try:
            out = fn(*converted_args, **converted_kwargs)
        finally:
            if token is not None:
                _passed_dtypes.reset(token)
        if request is not None and request.grads is not None:
            request.grads = tuple(
                given if given is not None and _on_cpu(device) else caller.back(g, is_grad=True)
                for g, given in zip(request.grads, buffers))
        return caller.back(out)

    return wrapper
