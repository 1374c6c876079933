"""A fake accelerator for machines without a GPU: host memory that says it lives on cuda:N.

``FakeCudaArray`` wraps a NumPy array. Its DLPack capsules (built here with ctypes, versioned or
legacy) report device type kDLCUDA, so fastloss routes it exactly as it routes a CUDA tensor:
through ``DeviceArray`` views to the native dispatch, with outputs allocated by this module's
array-API namespace. The memory behind the pointer is real host memory, so even a wrong
dereference could not crash a test; it can only fail one.
"""

from __future__ import annotations

import ctypes
import types
from ctypes import POINTER, c_char_p, c_int32, c_int64, c_uint8, c_uint16, c_uint32, c_uint64, c_void_p

import numpy as np

KDL_CUDA = 2
_CODES = {"f": 2, "i": 0, "u": 1, "b": 6}


class _Device(ctypes.Structure):
    _fields_ = [("device_type", c_int32), ("device_id", c_int32)]


class _DataType(ctypes.Structure):
    _fields_ = [("code", c_uint8), ("bits", c_uint8), ("lanes", c_uint16)]


class _Tensor(ctypes.Structure):
    _fields_ = [("data", c_void_p), ("device", _Device), ("ndim", c_int32), ("dtype", _DataType),
                ("shape", POINTER(c_int64)), ("strides", POINTER(c_int64)), ("byte_offset", c_uint64)]


class _Managed(ctypes.Structure):
    _fields_ = [("dl_tensor", _Tensor), ("manager_ctx", c_void_p), ("deleter", c_void_p)]


class _Version(ctypes.Structure):
    _fields_ = [("major", c_uint32), ("minor", c_uint32)]


class _ManagedVersioned(ctypes.Structure):
    _fields_ = [("version", _Version), ("manager_ctx", c_void_p), ("deleter", c_void_p),
                ("flags", c_uint64), ("dl_tensor", _Tensor)]


_capsule_new = ctypes.pythonapi.PyCapsule_New
_capsule_new.restype = ctypes.py_object
_capsule_new.argtypes = [c_void_p, c_char_p, c_void_p]
_NAMES = {True: b"dltensor_versioned", False: b"dltensor"}  # alive as long as the module


class FakeDevice:
    def __init__(self, index: int):
        self.index = index

    def __eq__(self, other):
        return isinstance(other, FakeDevice) and other.index == self.index

    def __hash__(self):
        return hash(self.index)

    def __repr__(self):
        return f"fakecuda:{self.index}"


class FakeCudaArray:
    """A NumPy array presented as a CUDA array of device `index`."""

    def __init__(self, array, index: int = 0, legacy_only: bool = False):
        self._array = np.asarray(array)
        self.device = FakeDevice(index)
        self.legacy_only = legacy_only
        self.streams = []   # the stream of every export
        self._keep = []     # the ctypes structs behind the capsules

    shape = property(lambda self: self._array.shape)
    dtype = property(lambda self: self._array.dtype)
    ndim = property(lambda self: self._array.ndim)
    size = property(lambda self: self._array.size)

    def __array_namespace__(self, api_version=None):
        return namespace

    def __dlpack_device__(self):
        return (KDL_CUDA, self.device.index)

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        versioned = max_version is not None and max_version[0] >= 1
        if self.legacy_only and versioned:
            raise TypeError("this producer only exports legacy capsules")
        self.streams.append(stream)
        a = self._array
        shape = (c_int64 * a.ndim)(*a.shape)
        strides = (c_int64 * a.ndim)(*(s // a.itemsize for s in a.strides))
        tensor = _Tensor(a.ctypes.data, _Device(KDL_CUDA, self.device.index), a.ndim,
                         _DataType(_CODES[a.dtype.kind], a.itemsize * 8, 1), shape, strides, 0)
        managed = _ManagedVersioned(_Version(1, 0), None, None, 0, tensor) if versioned \
            else _Managed(tensor, None, None)
        self._keep.append((shape, strides, managed))
        return _capsule_new(ctypes.addressof(managed), _NAMES[versioned], None)

    # What fastloss's checks on values use: comparisons, &, all(), indexing, item().
    def _wrap(self, result):
        return FakeCudaArray(result, self.device.index)

    def __ge__(self, other):
        return self._wrap(self._array >= other)

    def __gt__(self, other):
        return self._wrap(self._array > other)

    def __lt__(self, other):
        return self._wrap(self._array < other)

    def __and__(self, other):
        return self._wrap(self._array & other._array)

    def __getitem__(self, index):
        return self._wrap(self._array[index])

    def all(self):
        return self._wrap(self._array.all())

    def item(self):
        return self._array.item()

    def __bool__(self):
        return bool(self._array)


def _new(array, device):
    return FakeCudaArray(array, device.index if device is not None else 0)


namespace = types.ModuleType("fake_device_namespace")  # array_api_compat wants a module's __name__
vars(namespace).update(
    float32=np.float32, float64=np.float64, int32=np.int32, int64=np.int64, bool=np.bool_,
    empty=lambda shape, dtype=None, device=None: _new(np.empty(shape, dtype), device),
    full=lambda shape, value, dtype=None, device=None: _new(np.full(shape, value, dtype), device),
    asarray=lambda value, dtype=None, device=None: _new(np.asarray(value, dtype), device),
    astype=lambda a, dtype: FakeCudaArray(a._array.astype(dtype), a.device.index),
    isfinite=lambda a: FakeCudaArray(np.isfinite(a._array), a.device.index),
    all=lambda a: FakeCudaArray(np.all(a._array), a.device.index),
    sum=lambda a: FakeCudaArray(np.sum(a._array), a.device.index),
)
