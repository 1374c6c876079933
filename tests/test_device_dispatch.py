"""Arrays on another device reach the native dispatch with their device and stream.

There is no GPU here, so two stand-ins cover the path a CUDA array takes:

* ``fake_device.FakeCudaArray``: host memory exporting DLPack capsules that say kDLCUDA. Every
  loss must get as far as the native dispatch (outputs allocated through the caller's namespace,
  weights checked on the "device") and stop there with the no-CUDA error naming the device and
  the stream, never crash.
* CPU tensors forced through the device path (``_arrays._on_cpu`` patched): the same
  DeviceArray views, capsule parsing, broadcasting, moved axes and output allocation, but the
  CPU backend computes, so the results must equal the NumPy path's bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest

import fastloss as fl
from fastloss import _arrays, _core
from fastloss._registry import REGISTRY, make_inputs
from fake_device import FakeCudaArray

SPECS = list(REGISTRY.values())
NO_CUDA = r"no CUDA kernel" if fl.cuda.is_built() else r"built without CUDA"


def _device_like(value, index):
    return FakeCudaArray(value, index) if isinstance(value, np.ndarray) else value


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_every_loss_reaches_the_native_dispatch_with_device_and_stream(spec, reduction):
    rng = np.random.default_rng(0)
    for variant in spec.variants:
        args, kwargs = make_inputs(spec, variant, rng, (6, 5), np.float32)
        args = [_device_like(a, 1) for a in args]
        kwargs = {k: _device_like(v, 1) for k, v in kwargs.items()}
        kwargs["reduction"] = reduction
        grad_output = FakeCudaArray(np.ones(6 if spec.kind in ("row", "embedding") else (6, 5), np.float32), 1) \
            if reduction == "none" else 2.0
        if spec.kind == "pair" and reduction == "none":  # one upstream per array (GAN)
            grad_output = tuple(FakeCudaArray(np.ones(a.shape, np.float32), 1) for a in args)
        for call in (spec.fn, lambda *a, **k: fl.value_and_grad(spec.fn)(*a, grad_output=grad_output, **k)):
            with pytest.raises(ValueError, match=rf"\[fastloss.{spec.name}\] arrays on cuda:1 "
                                                 rf"\(stream 1\) cannot be computed: .*{NO_CUDA}"):
                call(*args, **kwargs)
        assert args[0].streams and all(s == 1 for s in args[0].streams)  # exported on the stream


def test_legacy_capsules_on_a_device_are_read():
    x = FakeCudaArray(np.zeros(4, np.float32), legacy_only=True)
    with pytest.raises(ValueError, match="arrays on cuda:0"):
        fl.mse(x, FakeCudaArray(np.zeros(4, np.float32)))


def test_device_weights_are_checked_on_the_device():
    x, y = FakeCudaArray(np.zeros(4, np.float32)), FakeCudaArray(np.zeros(4, np.float32))
    with pytest.raises(ValueError, match=r"\[fastloss.mse\] sample_weight must be finite and >= 0"):
        fl.mse(x, y, sample_weight=FakeCudaArray(np.array([1.0, -1.0, 1.0, 1.0], np.float32)))
    with pytest.raises(ValueError, match=r"does not broadcast"):
        fl.mse(x, y, sample_weight=FakeCudaArray(np.ones(3, np.float32)))


def test_a_device_array_with_a_host_array_is_an_error_naming_both():
    with pytest.raises(ValueError, match=r"pred on cuda:0, target on cpu:0"):
        fl.mse(FakeCudaArray(np.zeros(4, np.float32)), _Cpu(np.zeros(4, np.float32)))


class _Cpu:
    def __init__(self, a):
        self.a = a

    def __dlpack_device__(self):
        return (1, 0)

    def __dlpack__(self, **kwargs):
        return self.a.__dlpack__()


def test_dlpack_info_reads_shape_strides_dtype_and_device():
    torch = pytest.importorskip("torch")
    t = torch.arange(24, dtype=torch.float64).reshape(4, 6)[1:, ::2]
    for capsule in (t.__dlpack__(), t.__dlpack__(max_version=(1, 0))):
        assert _core.dlpack_info(capsule) == (1, 0, "float64", (3, 3), (48, 16))
    assert _core.dlpack_info(np.zeros((2, 3), np.int32).__dlpack__())[2:] == ("int32", (2, 3), (12, 4))
    with pytest.raises(TypeError, match="DLPack capsule"):
        _core.dlpack_info(object())


# ---- the device path computing on the CPU ------------------------------------------------------

@pytest.fixture
def through_device_path(monkeypatch):
    monkeypatch.setattr(_arrays, "_on_cpu", lambda device: False)


def _torch_args(torch, value):
    if not isinstance(value, np.ndarray):
        return value
    if value.ndim == 2:  # a strided (transposed) view
        return torch.from_numpy(np.ascontiguousarray(value.T)).T
    return torch.from_numpy(value)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_device_path_on_cpu_equals_the_numpy_path(spec, reduction, through_device_path):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    for variant in spec.variants:
        for dtype in (np.float32, np.float64):
            args, kwargs = make_inputs(spec, variant, rng, (7, 5), dtype)
            kwargs["reduction"] = reduction
            per_row = spec.kind in ("row", "embedding")
            if per_row and "target" not in variant:
                kwargs["sample_weight"] = rng.uniform(0.5, 2.0, 7)
            upstream = rng.standard_normal(7 if per_row else (7, 5)) \
                if reduction == "none" else 0.5
            pair_none = spec.kind == "pair" and reduction == "none"  # GAN: a pair of terms
            if pair_none:
                upstream = tuple(rng.standard_normal(a.shape) for a in args)
            want_loss, want_grad = fl.value_and_grad(spec.fn)(*args, grad_output=upstream, **kwargs)
            t_args = [_torch_args(torch, a) for a in args]
            t_kwargs = {k: _torch_args(torch, v) for k, v in kwargs.items()}
            if pair_none:
                t_upstream = tuple(torch.from_numpy(u) for u in upstream)
            else:
                t_upstream = torch.from_numpy(upstream) if reduction == "none" else upstream
            loss, grad = fl.value_and_grad(spec.fn)(*t_args, grad_output=t_upstream, **t_kwargs)
            losses, want_losses = (loss, want_loss) if pair_none else ((loss,), (want_loss,))
            assert isinstance(grad, torch.Tensor)
            for got, want in zip(losses, want_losses):
                assert isinstance(got, torch.Tensor)
                np.testing.assert_array_equal(got.numpy(), want)
            np.testing.assert_array_equal(grad.numpy(), want_grad)


def test_device_path_moves_the_class_axis(through_device_path):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 5, 4))
    y = rng.integers(0, 5, (3, 4))
    want = fl.value_and_grad(fl.cross_entropy)(x, y, axis=1, reduction="none")
    got = fl.value_and_grad(fl.cross_entropy)(torch.from_numpy(x), torch.from_numpy(y), axis=1,
                                              reduction="none")
    for w, g in zip(want, got):
        np.testing.assert_array_equal(g.numpy(), w)
