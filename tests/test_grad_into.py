"""value_and_grad(..., grad_into=buffer): the gradient written into the caller's array, and for
the row losses into the logits themselves (what fastloss.torch's inplace_backward uses)."""

from __future__ import annotations

import numpy as np
import pytest

import fastloss as fl
from fastloss._registry import REGISTRY, make_inputs

# The divergences' kernels read both logits rows again after writing the gradient rows, so they
# refuse in-place gradients (tested below) and take caller buffers for both arrays instead.
DIVERGENCE_SPECS = [s for s in REGISTRY.values() if s.family == "divergence"]
ROW_SPECS = [s for s in REGISTRY.values() if s.kind == "row" and s not in DIVERGENCE_SPECS]
POINTWISE_SPECS = [s for s in REGISTRY.values() if s.kind == "pointwise"]


def _cases(spec, rng, dtype):
    # class counts around the kernels' 1024-logit tile, and a strided class axis (axis=0)
    for shape in [(6, 5), (3, 1024), (2, 2500)]:
        for variant in spec.variants:
            args, kwargs = make_inputs(spec, variant, rng, shape, dtype)
            yield args, kwargs
    args, kwargs = make_inputs(spec, spec.variants[0], rng, (4, 9), dtype)
    if args[1].dtype.kind in "iu":  # class indices: move the class axis to the front
        # (with a target of the logits' shape, an index list: the same transpose)
        target = np.ascontiguousarray(args[1].T) if args[1].shape == args[0].shape else args[1]
        yield [np.ascontiguousarray(args[0].T), target], dict(kwargs, axis=0)


@pytest.mark.parametrize("spec", ROW_SPECS, ids=lambda s: s.name)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_row_losses_overwrite_the_logits_with_the_same_gradient(spec, dtype, reduction):
    rng = np.random.default_rng(3)
    for args, kwargs in _cases(spec, rng, dtype):
        kwargs["reduction"] = reduction
        outer = args[0].shape[:kwargs.get("axis", -1) % args[0].ndim]
        upstream = rng.standard_normal(args[1].shape[:len(outer)] if args[1].dtype.kind in "iu"
                                       else outer) if reduction == "none" else 0.75
        want_loss, want_grad = fl.value_and_grad(spec.fn)(*args, grad_output=upstream, **kwargs)
        logits = args[0].copy()
        loss, grad = fl.value_and_grad(spec.fn)(logits, *args[1:], grad_output=upstream,
                                                grad_into=logits, **kwargs)
        assert grad is logits
        np.testing.assert_array_equal(loss, want_loss)
        np.testing.assert_array_equal(logits, want_grad)


@pytest.mark.parametrize("spec", DIVERGENCE_SPECS, ids=lambda s: s.name)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_divergences_write_both_gradients_into_caller_buffers(spec, dtype):
    rng = np.random.default_rng(5)
    for args, kwargs in _cases(spec, rng, dtype):
        want_loss, want = fl.value_and_grad(spec.fn, argnums=(0, 1))(*args, **kwargs)
        buffers = (np.full_like(args[0], np.nan), np.full_like(args[1], np.nan))
        loss, got = fl.value_and_grad(spec.fn, argnums=(0, 1))(*args, grad_into=buffers,
                                                                **kwargs)
        assert got[0] is buffers[0] and got[1] is buffers[1]
        np.testing.assert_array_equal(loss, want_loss)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
        for position in (0, 1):
            logits = args[position].copy()
            inputs = list(args)
            inputs[position] = logits
            with pytest.raises(ValueError, match="must not be the input itself"):
                fl.value_and_grad(spec.fn, argnums=position)(*inputs, grad_into=logits, **kwargs)


def test_ignored_rows_get_a_zero_gradient_in_place():
    x = np.random.default_rng(0).standard_normal((4, 6))
    y = np.array([1, -100, 3, -100])
    want = fl.grad(fl.cross_entropy)(x, y)
    fl.value_and_grad(fl.cross_entropy)(x, y, grad_into=x)
    np.testing.assert_array_equal(x, want)
    assert not x[1].any() and not x[3].any()


@pytest.mark.parametrize("spec", POINTWISE_SPECS, ids=lambda s: s.name)
def test_pointwise_gradient_into_a_caller_buffer(spec):
    rng = np.random.default_rng(4)
    args, kwargs = make_inputs(spec, spec.variants[0], rng, (5, 7), np.float32)
    want = fl.grad(spec.fn)(*args, **kwargs)
    buffer = np.full(args[0].shape, np.nan, np.float32)
    _, grad = fl.value_and_grad(spec.fn)(*args, grad_into=buffer, **kwargs)
    assert grad is buffer
    np.testing.assert_array_equal(buffer, want)
    with pytest.raises(ValueError, match=rf"\[fastloss.{spec.name}\] grad_into must not be the input"):
        fl.value_and_grad(spec.fn)(*args, grad_into=args[0], **kwargs)


def test_grad_into_is_checked():
    x, y = np.zeros((3, 4)), np.zeros((3, 4))
    vg = fl.value_and_grad(fl.mse)
    with pytest.raises(ValueError, match=r"\[fastloss.mse\] grad_into must have the input's shape"):
        vg(x, y, grad_into=np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"grad_into must have the input's shape \(3, 4\) and dtype float64"):
        vg(x, y, grad_into=np.zeros((3, 4), np.float32))
    with pytest.raises(ValueError, match=r"grad_into overlaps target"):
        vg(x, y, grad_into=y)
    with pytest.raises(ValueError, match=r"grad_into overlaps the input"):
        big = np.zeros(13)
        vg(big[:12].reshape(3, 4), y, grad_into=big[1:].reshape(3, 4))
    read_only = np.zeros((3, 4))
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match=r"grad_into is read-only"):
        vg(x, y, grad_into=read_only)
    with pytest.raises(TypeError, match=r"grad_into must be an array"):
        vg(x, y, grad_into=[[0.0] * 4] * 3)
    with pytest.raises(TypeError, match=r"grad_into must be float32 or float64"):
        vg(x.astype(np.float16), y.astype(np.float16), grad_into=np.zeros((3, 4), np.float16))
    logits = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"\[fastloss.cross_entropy\] grad_into overlaps the input"):
        fl.value_and_grad(fl.cross_entropy)(logits[:, :3], np.zeros(3, int), grad_into=logits[:, 1:])


def test_torch_buffer_receives_the_gradient():
    torch = pytest.importorskip("torch")
    x, y = torch.randn(5, 3), torch.randn(5, 3)
    buffer = torch.empty(5, 3)
    _, grad = fl.value_and_grad(fl.mse)(x, y, grad_into=buffer)
    np.testing.assert_array_equal(buffer.numpy(), fl.grad(fl.mse)(x.numpy(), y.numpy()))
    assert grad.data_ptr() == buffer.data_ptr()
