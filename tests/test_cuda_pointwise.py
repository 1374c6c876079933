"""The CUDA pointwise driver (cuda/pointwise.cu) against the CPU kernels, on a real device.

The driver has been compiled but not yet run on a GPU, so it is off unless the process starts
with ``FASTLOSS_CUDA_UNVERIFIED=1``; these tests need that, a CUDA device, and a library that
allocates CUDA arrays (PyTorch with CUDA, or CuPy). ``bench/gpu_check.sh`` runs them. Without
them every test here is skipped, saying which is missing.

Each case runs ``value_and_grad`` on the device and on the host with the same inputs: the
element-wise values and gradients come from the same functors (``-fmad=false`` on the device,
``-ffp-contract=off`` on the host), so they are compared at the registry's kernel tolerance, and
a reduced value (a different but fixed summation order) likewise; two device calls must agree
bit for bit, which is the driver's determinism contract.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import fastloss
from fastloss import _core
from helpers import POINTWISE, REGISTRY, assert_bitwise, assert_close, make_inputs, rng_for


def _device_library():
    """(to_device, to_host) for a library with CUDA arrays here, or None."""
    try:
        import torch
        if torch.cuda.is_available():
            return (lambda a: torch.from_numpy(np.ascontiguousarray(a)).cuda(),
                    lambda t: t.detach().cpu().numpy())
    except ImportError:
        pass
    try:
        import cupy
        if cupy.cuda.runtime.getDeviceCount() > 0:
            return cupy.asarray, cupy.asnumpy
    except Exception:  # no CuPy, or no device for it
        pass
    return None


def _skip_reason():
    if os.environ.get("FASTLOSS_CUDA_UNVERIFIED") != "1":
        return "the CUDA driver is off (FASTLOSS_CUDA_UNVERIFIED=1 turns it on)"
    if not fastloss.cuda.is_available():
        return "no CUDA device (or fastloss built without CUDA)"
    if _device_library() is None:
        return "no library with CUDA arrays (PyTorch with CUDA, or CuPy)"
    return None


pytestmark = pytest.mark.skipif(_skip_reason() is not None, reason=str(_skip_reason()))

# The pointwise losses the driver runs: not those whose functors write their own target and
# operand gradients (the likelihoods), which keep the clear "no CUDA kernel" error.
_KERNELS = _core.kernels()
DRIVEN = [name for name in POINTWISE
          if not any(k["stem"] == name and k["target"] == "differentiable" for k in
                     _KERNELS.values())]
SHAPES = [(7,), (3, 1000), (2049,), (64, 33, 5)]  # below, at and across tile boundaries


def _on(to_device, values):
    return [to_device(v) if isinstance(v, np.ndarray) else v for v in values]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", DRIVEN)
def test_device_matches_host(name, shape, dtype, reduction):
    to_device, to_host = _device_library()
    spec = REGISTRY[name]
    rng = rng_for("cuda", name, shape, np.dtype(dtype).name, reduction)
    args, kwargs = make_inputs(spec, {}, rng, shape, dtype)
    grad_output = (rng.uniform(-1.5, 1.5, shape).astype(dtype) if reduction == "none"
                   else 0.75)
    host = fastloss.value_and_grad(spec.fn)(*args, grad_output=grad_output,
                                            reduction=reduction, **kwargs)
    dev_args = _on(to_device, args)
    dev_kwargs = dict(kwargs, grad_output=(to_device(grad_output) if reduction == "none"
                                           else grad_output), reduction=reduction)
    first = fastloss.value_and_grad(spec.fn)(*dev_args, **dev_kwargs)
    second = fastloss.value_and_grad(spec.fn)(*dev_args, **dev_kwargs)
    t = spec.tol(dtype)
    for what, h, d in zip(("loss", "gradient"), host, first):
        d = np.asarray(to_host(d))
        assert d.dtype == np.dtype(dtype) and d.shape == np.shape(h)
        assert_close(d, h, t["rtol"], t["atol"], what=f"{name} {what} ({reduction}) on CUDA")
    for a, b in zip(first, second):
        assert_bitwise(np.asarray(to_host(a)), np.asarray(to_host(b)))


@pytest.mark.parametrize("name", DRIVEN)
def test_strided_device_inputs(name):
    """A transposed (non-contiguous) input and a broadcast weight go through the strided path."""
    to_device, to_host = _device_library()
    spec = REGISTRY[name]
    rng = rng_for("cuda-strided", name)
    args, kwargs = make_inputs(spec, {}, rng, (40, 30), np.float32)
    weight = rng.uniform(0.5, 2.0, (30, 1)).astype(np.float32)
    host_args = [a.T if isinstance(a, np.ndarray) and a.ndim == 2 else a for a in args]
    host = fastloss.value_and_grad(spec.fn)(*host_args, sample_weight=weight, **kwargs)
    dev_args = [to_device(a).T if isinstance(a, np.ndarray) and a.ndim == 2 else a
                for a in args]
    dev = fastloss.value_and_grad(spec.fn)(*dev_args, sample_weight=to_device(weight),
                                           **kwargs)
    t = spec.tol(np.float32)
    for h, d in zip(host, dev):
        assert_close(np.asarray(to_host(d)), h, t["rtol"], t["atol"], what=f"{name} strided")


def test_likelihoods_keep_the_clear_error():
    to_device, _ = _device_library()
    x = to_device(np.full(4, 0.5))
    with pytest.raises(ValueError, match=r"\[fastloss.kl_div\] .*no CUDA kernel"):
        fastloss.kl_div(x, x)
