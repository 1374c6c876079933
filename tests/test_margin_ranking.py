"""margin_ranking against PyTorch's margin_ranking_loss (float64 oracle: values and both
gradients, every reduction, an upstream gradient other than ones, preferences +-1 and others),
its edge cases (infinite and NaN scores, y = 0, the kink's subgradient), the preference's
broadcasting and dtypes, and the torch and JAX forms. The registry-driven suites cover the
kernel against the reference, finite differences, threads and the error messages."""

from __future__ import annotations

import numpy as np
import pytest

import fastloss as fl
from helpers import assert_bitwise, assert_close, rng_for, tol, tolerance

torch = pytest.importorskip("torch")
F = torch.nn.functional
import fastloss.torch as flt  # noqa: E402

REDUCTIONS = ("mean", "sum", "none")
INF, NAN = np.inf, np.nan


def _inputs(rng, shape, any_y):
    x1, x2 = rng.standard_normal(shape) * 2, rng.standard_normal(shape) * 2
    y = rng.choice(np.array([-1.0, 1.0]), shape)
    if any_y:
        y = y * rng.uniform(0.0, 1.5, shape)
    return x1, x2, y


def _upstream(rng, reduction, shape):
    return rng.uniform(-2.0, 2.0, shape) if reduction == "none" else np.float64(-1.7)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("any_y", (False, True), ids=("pm1", "real"))
@pytest.mark.parametrize("margin", (0.0, 0.7))
@pytest.mark.parametrize("shape", ((9,), (3, 5)), ids=str)
def test_matches_torch_float64(reduction, any_y, margin, shape):
    rng = rng_for("margin_ranking_torch", reduction, any_y, margin, shape)
    x1, x2, y = _inputs(rng, shape, any_y)
    go = _upstream(rng, reduction, shape)
    a, b = torch.tensor(x1, requires_grad=True), torch.tensor(x2, requires_grad=True)
    t_loss = F.margin_ranking_loss(a, b, torch.tensor(y), margin=margin, reduction=reduction)
    t_loss.backward(torch.as_tensor(go).expand(t_loss.shape))
    loss, (g1, g2) = fl.value_and_grad(fl.margin_ranking, argnums=(0, 1))(
        x1, x2, y, margin=margin, grad_output=go, reduction=reduction)
    t = tolerance("torch_float64")
    np.testing.assert_allclose(loss, t_loss.detach().numpy(), **t)
    np.testing.assert_allclose(g1, a.grad.numpy(), **t)
    np.testing.assert_allclose(g2, b.grad.numpy(), **t)
    # the drop-in, through autograd, and its module
    fa, fb = torch.tensor(x1, requires_grad=True), torch.tensor(x2, requires_grad=True)
    f_loss = flt.margin_ranking_loss(fa, fb, torch.tensor(y), margin=margin, reduction=reduction)
    f_loss.backward(torch.as_tensor(go).expand(f_loss.shape))
    t = tolerance("torch_adapter_float64")
    np.testing.assert_allclose(f_loss.detach().numpy(), t_loss.detach().numpy(), **t)
    np.testing.assert_allclose(fa.grad.numpy(), a.grad.numpy(), **t)
    np.testing.assert_allclose(fb.grad.numpy(), b.grad.numpy(), **t)
    module = flt.MarginRankingLoss(margin=margin, reduction=reduction)
    np.testing.assert_allclose(module(fa, fb, torch.tensor(y)).detach().numpy(),
                               t_loss.detach().numpy(), **t)


@pytest.mark.parametrize("dtype", (np.float32, np.float64))
def test_infinities_nan_and_zero_preference(dtype):
    x1 = np.array([INF, INF, -INF, 1.0, NAN, 1.0, INF, 2.0], dtype)
    x2 = np.array([0.0, 0.0, 0.0, 1.0, 0.0, NAN, INF, -3.0], dtype)
    y = np.array([1.0, -1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0], dtype)
    loss, (g1, g2) = fl.value_and_grad(fl.margin_ranking, argnums=(0, 1))(
        x1, x2, y, margin=0.5, reduction="none")
    # ranked right by infinitely much: 0 and no gradient; wrong: inf with slope -y; x1 = x2 at
    # margin 0.5: 0.5, active; NaN or inf - inf: NaN in the loss and both gradients; y = 0:
    # max(0, margin) = 0.5 and no gradient (the slope is -y = 0)
    np.testing.assert_array_equal(loss[:4], np.array([0.0, INF, INF, 0.5], dtype))
    np.testing.assert_array_equal(g1[:4], np.array([0.0, 1.0, -1.0, -1.0], dtype))
    np.testing.assert_array_equal(g2[:4], -g1[:4])
    assert np.all(np.isnan(loss[4:7])) and np.all(np.isnan(g1[4:7])) and np.all(np.isnan(g2[4:7]))
    assert loss[7] == dtype(0.5) and g1[7] == 0 and g2[7] == 0


def test_subgradient_at_the_kink_is_zero():
    # -y (x1 - x2) + margin = 0 exactly: the loss is 0 and so is fastloss's subgradient
    x1, x2, y = np.array([1.5, 0.0]), np.array([1.0, 0.0]), np.array([1.0, 1.0])
    loss, (g1, g2) = fl.value_and_grad(fl.margin_ranking, argnums=(0, 1))(
        x1, x2, y, margin=np.array([0.5, 0.0])[0], reduction="none")
    np.testing.assert_array_equal(loss, [0.0, 0.5])
    np.testing.assert_array_equal(g1, [0.0, -1.0])


def test_broadcast_and_integer_preferences_equal_the_full_float_array():
    rng = rng_for("margin_ranking_broadcast")
    x1, x2, _ = _inputs(rng, (4, 6), False)
    y_row = rng.choice(np.array([-1, 1]), 6)
    full = np.broadcast_to(y_row.astype(np.float64), (4, 6)).copy()
    for reduction in REDUCTIONS:
        expected = fl.value_and_grad(fl.margin_ranking, argnums=(0, 1))(
            x1, x2, full, margin=0.3, reduction=reduction)
        for y in (y_row, y_row.astype(np.float64), y_row.astype(np.int8)):
            got = fl.value_and_grad(fl.margin_ranking, argnums=(0, 1))(
                x1, x2, y, margin=0.3, reduction=reduction)
            assert_bitwise(got[0], expected[0])
            assert_bitwise(got[1][0], expected[1][0])
            assert_bitwise(got[1][1], expected[1][1])
    # a scalar preference: "x1 first" everywhere
    np.testing.assert_array_equal(fl.margin_ranking(x1, x2, 1, reduction="none"),
                                  np.maximum(0.0, -(x1 - x2)))


def test_float32_inputs_stay_float32():
    rng = rng_for("margin_ranking_f32")
    x1, x2, y = (a.astype(np.float32) for a in _inputs(rng, (257,), False))
    loss, (g1, g2) = fl.value_and_grad(fl.margin_ranking, argnums=(0, 1))(x1, x2, y)
    assert loss.dtype == g1.dtype == g2.dtype == np.float32
    expected = fl.reference.margin_ranking(x1, x2, y)
    assert_close(loss, expected, **tol("margin_ranking", np.float32))


def test_jax_form_matches_the_numpy_api():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    import fastloss.jax as flj
    rng = rng_for("margin_ranking_jax")
    x1, x2, y = (a.astype(np.float32) for a in _inputs(rng, (5, 7), False))
    ours = jax.jit(jax.grad(lambda a, b: flj.margin_ranking(a, b, jnp.asarray(y), margin=0.4),
                            argnums=(0, 1)))(jnp.asarray(x1), jnp.asarray(x2))
    _, expected = fl.value_and_grad(fl.margin_ranking, argnums=(0, 1))(x1, x2, y, margin=0.4)
    np.testing.assert_array_equal(np.asarray(ours[0]), expected[0])
    np.testing.assert_array_equal(np.asarray(ours[1]), expected[1])
    # the preference may be negative (it is not a weight) and is not differentiable
    with pytest.raises(TypeError, match="y"):
        jax.grad(lambda t: flj.margin_ranking(jnp.asarray(x1), jnp.asarray(x2), t))(
            jnp.asarray(y))
