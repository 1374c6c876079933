"""Any array in, the caller's array out: DLPack producers, zero-copy reads, half precision,
devices (issue: DLPack interop)."""

from __future__ import annotations

import numpy as np
import pytest

import fastloss as fl
from fastloss import _regression
from helpers import assert_close, tolerance


def _inputs(rng, kind):
    if kind == "pointwise":
        return rng.standard_normal((6, 9)).astype(np.float32), rng.standard_normal((6, 9)).astype(np.float32)
    return rng.standard_normal((6, 9)).astype(np.float32), rng.integers(0, 9, 6)


CASES = [(fl.mse, "pointwise"), (fl.huber, "pointwise"), (fl.log_cosh, "pointwise"),
         (fl.cross_entropy, "row"), (fl.softmax_focal, "row")]


@pytest.mark.parametrize("fn,kind", CASES, ids=lambda c: getattr(c, "__name__", c))
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_torch_in_torch_out(fn, kind, reduction):
    torch = pytest.importorskip("torch")
    x, y = _inputs(np.random.default_rng(0), kind)
    want_loss, want_grad = fl.value_and_grad(fn)(x, y, reduction=reduction)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    loss, grad = fl.value_and_grad(fn)(tx, ty, reduction=reduction)
    assert isinstance(loss, torch.Tensor) and isinstance(grad, torch.Tensor)
    assert loss.dtype == torch.float32 and grad.dtype == torch.float32
    assert grad.shape == tx.shape and loss.device == tx.device
    np.testing.assert_array_equal(loss.numpy(), want_loss)
    np.testing.assert_array_equal(grad.numpy(), want_grad)
    assert isinstance(fn(tx, ty, reduction=reduction), torch.Tensor)


def test_torch_tensor_that_requires_grad_is_read_not_rejected():
    torch = pytest.importorskip("torch")
    x = torch.randn(4, 5, requires_grad=True)
    y = torch.randn(4, 5)
    loss = fl.mse(x, y)
    assert float(loss) == pytest.approx(float(torch.nn.functional.mse_loss(x.detach(), y)), rel=1e-6)


@pytest.mark.parametrize("fn,kind", CASES, ids=lambda c: getattr(c, "__name__", c))
def test_jax_in_jax_out(fn, kind):
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    x, y = _inputs(np.random.default_rng(1), kind)
    want_loss, want_grad = fl.value_and_grad(fn)(x, y)
    loss, grad = fl.value_and_grad(fn)(jnp.asarray(x), jnp.asarray(y))
    assert isinstance(loss, jax.Array) and isinstance(grad, jax.Array)
    np.testing.assert_array_equal(np.asarray(loss), want_loss)
    np.testing.assert_array_equal(np.asarray(grad), want_grad)


def _spy_pointer(monkeypatch):
    """Records the data pointer of the first array each pointwise kernel call receives."""
    seen = []
    original = _regression.pointwise

    def spy(fn, kernel, x, *args, **kwargs):
        seen.append(x.__array_interface__["data"][0])
        return original(fn, kernel, x, *args, **kwargs)

    monkeypatch.setattr(_regression, "pointwise", spy)
    return seen


def test_contiguous_torch_input_is_read_in_place(monkeypatch):
    torch = pytest.importorskip("torch")
    seen = _spy_pointer(monkeypatch)
    x, y = torch.randn(1000), torch.randn(1000)
    fl.mse(x, y)
    assert seen == [x.data_ptr()]


def test_contiguous_jax_input_is_read_in_place(monkeypatch):
    jax = pytest.importorskip("jax")
    seen = _spy_pointer(monkeypatch)
    x = jax.numpy.arange(1000, dtype=jax.numpy.float32)
    fl.mse(x, x)
    assert seen == [x.unsafe_buffer_pointer()]


def test_numpy_input_is_read_in_place(monkeypatch):
    seen = _spy_pointer(monkeypatch)
    x = np.random.default_rng(2).standard_normal(100)
    fl.mse.__wrapped__(x, x)  # the general path (the small-call path reads array headers in C++)
    assert seen == [x.__array_interface__["data"][0]]


@pytest.mark.parametrize("half", ["float16", "bfloat16"])
@pytest.mark.parametrize("fn,kind", CASES, ids=lambda c: getattr(c, "__name__", c))
def test_half_precision_torch(fn, kind, half):
    torch = pytest.importorskip("torch")
    dtype = getattr(torch, half)
    x, y = _inputs(np.random.default_rng(3), kind)
    tx = torch.from_numpy(x).to(dtype)
    ty = torch.from_numpy(y).to(dtype) if kind == "pointwise" else torch.from_numpy(y)
    loss, grad = fl.value_and_grad(fn)(tx, ty)
    assert loss.dtype == torch.float32 and grad.dtype == dtype and grad.shape == tx.shape
    # The half input widened exactly to float32 gives the float32 result.
    x32 = tx.float().numpy()
    y32 = ty.float().numpy() if kind == "pointwise" else y
    want_loss, want_grad = fl.value_and_grad(fn)(x32, y32)
    assert float(loss) == float(want_loss)
    assert_close(grad.float().numpy(), want_grad.astype(dtype == torch.float16 and np.float16 or np.float32)
                 .astype(np.float32), **tolerance("half_precision"))


def test_numpy_float16_gives_float32_loss_and_float16_gradient():
    x = np.linspace(-2, 2, 11).astype(np.float16)
    y = np.zeros(11, np.float16)
    loss, grad = fl.value_and_grad(fl.mse)(x, y)
    assert loss.dtype == np.float32 and grad.dtype == np.float16
    want_loss, want_grad = fl.value_and_grad(fl.mse)(x.astype(np.float32), y.astype(np.float32))
    assert loss == want_loss
    np.testing.assert_array_equal(grad, want_grad.astype(np.float16))


@pytest.mark.parametrize("label_dtype", ["int32", "int64"])
def test_torch_integer_labels(label_dtype):
    torch = pytest.importorskip("torch")
    x = torch.randn(8, 5)
    y = torch.randint(0, 5, (8,), dtype=getattr(torch, label_dtype))
    want = torch.nn.functional.cross_entropy(x, y.long())  # torch wants int64 labels
    assert float(fl.cross_entropy(x, y)) == pytest.approx(float(want), rel=1e-6)


class _Producer:
    """A minimal DLPack producer wrapping a NumPy array, with a chosen device and protocol."""

    def __init__(self, array, device=(1, 0), legacy_only=False):
        self.array, self.device, self.legacy_only = array, device, legacy_only
        self.calls = []

    def __dlpack_device__(self):
        return self.device

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        self.calls.append(max_version)
        if self.legacy_only and max_version is not None:
            raise TypeError("this producer only exports legacy capsules")
        if max_version is None:
            return self.array.__dlpack__(stream=stream)
        return self.array.__dlpack__(stream=stream, max_version=max_version)


def test_versioned_capsules_are_negotiated_and_legacy_ones_accepted():
    x = np.arange(6, dtype=np.float64)
    versioned, legacy = _Producer(x), _Producer(x, legacy_only=True)
    assert float(fl.mse(versioned, np.zeros(6))) == float(fl.mse(x, np.zeros(6)))
    assert versioned.calls and versioned.calls[0] is not None  # asked for DLPack >= 1.0 first
    assert float(fl.mse(legacy, np.zeros(6))) == float(fl.mse(x, np.zeros(6)))
    assert None in legacy.calls  # fell back to a legacy capsule


def test_a_bare_producer_on_a_device_gets_a_clear_error_not_a_crash():
    # (arrays of a library on a device: tests/test_device_dispatch.py)
    cuda = _Producer(np.zeros(4, np.float32), device=(2, 0))
    with pytest.raises(TypeError, match=r"\[fastloss.mse\] pred: a _Producer on cuda:0 has no array "
                                        r"library"):
        fl.mse(cuda, cuda)


def test_mixed_devices_name_both():
    cpu = _Producer(np.zeros(4, np.float32))
    cuda = _Producer(np.zeros(4, np.float32), device=(2, 1))
    with pytest.raises(ValueError, match=r"pred on cpu:0, target on cuda:1"):
        fl.mse(cpu, cuda)
