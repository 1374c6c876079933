"""value_and_grad(fn, argnums=...): the gradients of several array arguments from one kernel
pass, for every registered loss whose target is differentiable, against the float64 reference."""

from __future__ import annotations

import numpy as np
import pytest

import fastloss
from fastloss import _core
from helpers import REGISTRY, assert_bitwise, assert_close, make_inputs, rng_for, to_reference, variant_id

# The losses of pred - target and the divergences of two logits arrays.
DIFFERENTIABLE_TARGET = sorted(name for name, spec in REGISTRY.items()
                               if spec.target_differentiable)
REDUCTIONS = ("mean", "sum", "none")


def _upstream(rng, reduction, shape, dtype):
    if reduction == "none":
        return rng.uniform(-2.0, 2.0, shape).astype(dtype)
    return dtype(-1.75)


def test_the_kernel_table_marks_the_same_targets_differentiable():
    marked = {facts["stem"] for facts in _core.kernels().values() if facts["target_differentiable"]}
    assert set(DIFFERENTIABLE_TARGET) == marked


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", DIFFERENTIABLE_TARGET)
def test_both_gradients_match_the_reference(name, dtype, reduction):
    spec = REGISTRY[name]
    for variant in spec.variants:
        rng = rng_for("argnums", name, np.dtype(dtype).name, reduction, variant_id(variant))
        shape = (7, 33)
        args, kwargs = make_inputs(spec, variant, rng, shape, dtype)
        upstream = _upstream(rng, reduction, spec.loss_shape(args, kwargs), dtype)
        loss, (g_pred, g_target) = fastloss.value_and_grad(spec.fn, argnums=(0, 1))(
            *args, reduction=reduction, grad_output=upstream, **kwargs)
        ref_pred, ref_target = spec.reference_grad(
            *to_reference(args), argnums=(0, 1), grad_output=np.float64(upstream)
            if reduction != "none" else upstream.astype(np.float64), reduction=reduction,
            **kwargs)
        t = spec.tol(dtype)
        assert_close(g_pred, ref_pred, **t, what=f"{name} d/dpred")
        assert_close(g_target, ref_target, **t, what=f"{name} d/dtarget")
        # The same pass as argnums=0 and argnums=1 alone, bit for bit.
        _, alone = fastloss.value_and_grad(spec.fn)(*args, reduction=reduction,
                                                     grad_output=upstream, **kwargs)
        _, target_alone = fastloss.value_and_grad(spec.fn, argnums=1)(
            *args, reduction=reduction, grad_output=upstream, **kwargs)
        assert_bitwise(g_pred, alone, what=f"{name} argnums=(0, 1) vs 0")
        assert_bitwise(g_target, target_alone, what=f"{name} argnums=(0, 1) vs 1")
        assert_bitwise(loss, spec.fn(*args, reduction=reduction, **kwargs), what=name)


def test_one_kernel_call_computes_both(monkeypatch):
    calls = []
    run = _core.run

    def counting_run(*a):
        calls.append(a[0])
        return run(*a)

    monkeypatch.setattr(_core, "run", counting_run)
    x, y = np.linspace(-2, 2, 4096), np.zeros(4096)
    fastloss.value_and_grad(fastloss.huber, argnums=(0, 1))(x, y)
    assert len(calls) == 1


def test_strided_target_gradient_and_grad_into():
    x = np.arange(24.0).reshape(4, 6)
    y = np.ones((6, 4)).T  # a transposed target: the target's gradient buffer is written strided
    g_x, g_y = np.empty_like(x), np.empty((6, 4)).T
    loss, (a, b) = fastloss.value_and_grad(fastloss.mse, argnums=(1, 0))(
        x, y, grad_into=(g_y, g_x))
    assert a is g_y and b is g_x
    assert_bitwise(g_y, -g_x, what="d/dtarget = -d/dpred")
    assert_bitwise(g_x, fastloss.grad(fastloss.mse)(x, np.ascontiguousarray(y)), what="d/dpred")
    assert_close(g_x, 2 * (x - y) / x.size, **REGISTRY["mse"].tol(np.float64), what="d/dpred")


def test_tuple_argnums_of_one_position_returns_a_tuple():
    x, y = np.array([1.0, 2.0]), np.array([0.0, 0.0])
    loss, grads = fastloss.value_and_grad(fastloss.mse, argnums=(0,))(x, y)
    assert isinstance(grads, tuple) and len(grads) == 1
    assert grads[0].tolist() == [1.0, 2.0]
    assert fastloss.grad(fastloss.mae, argnums=1)(x, y).tolist() == [-0.5, -0.5]
