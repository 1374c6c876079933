"""hinge_embedding against PyTorch's hinge_embedding_loss (float64 oracle: values and gradients,
every reduction, an upstream gradient other than ones, labels +-1 and others), its edge cases
(infinite and NaN distances, the kink's subgradient) and the torch and JAX forms. The
registry-driven suites cover the kernel against the reference, finite differences, threads and
the error messages."""

from __future__ import annotations

import numpy as np
import pytest

import fastloss as fl
from helpers import rng_for, tolerance

torch = pytest.importorskip("torch")
F = torch.nn.functional
import fastloss.torch as flt  # noqa: E402

REDUCTIONS = ("mean", "sum", "none")
INF, NAN = np.inf, np.nan


def _inputs(rng, shape, other_labels):
    x = np.abs(rng.standard_normal(shape)) * 1.5
    y = rng.choice(np.array([-1.0, 1.0]), shape)
    if other_labels:
        y = np.where(rng.random(shape) < 0.3, rng.choice([0.0, 2.0, -0.5], shape), y)
    return x, y


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("other_labels", (False, True), ids=("pm1", "other"))
@pytest.mark.parametrize("margin", (1.0, 0.4, -0.5))
@pytest.mark.parametrize("shape", ((9,), (3, 5)), ids=str)
def test_matches_torch_float64(reduction, other_labels, margin, shape):
    rng = rng_for("hinge_embedding_torch", reduction, other_labels, margin, shape)
    x, y = _inputs(rng, shape, other_labels)
    go = rng.uniform(-2.0, 2.0, shape) if reduction == "none" else np.float64(-1.7)
    a = torch.tensor(x, requires_grad=True)
    t_loss = F.hinge_embedding_loss(a, torch.tensor(y), margin=margin, reduction=reduction)
    t_loss.backward(torch.as_tensor(go).expand(t_loss.shape))
    loss, g = fl.value_and_grad(fl.hinge_embedding)(x, y, margin=margin, grad_output=go,
                                                    reduction=reduction)
    t = tolerance("torch_float64")
    np.testing.assert_allclose(loss, t_loss.detach().numpy(), **t)
    np.testing.assert_allclose(g, a.grad.numpy(), **t)
    # the drop-in, through autograd, and its module
    b = torch.tensor(x, requires_grad=True)
    f_loss = flt.hinge_embedding_loss(b, torch.tensor(y), margin=margin, reduction=reduction)
    f_loss.backward(torch.as_tensor(go).expand(f_loss.shape))
    t = tolerance("torch_adapter_float64")
    np.testing.assert_allclose(f_loss.detach().numpy(), t_loss.detach().numpy(), **t)
    np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), **t)
    module = flt.HingeEmbeddingLoss(margin=margin, reduction=reduction)
    theirs = torch.nn.HingeEmbeddingLoss(margin=margin, reduction=reduction)
    np.testing.assert_allclose(module(b, torch.tensor(y)).detach().numpy(),
                               theirs(a, torch.tensor(y)).detach().numpy(), **t)


@pytest.mark.parametrize("dtype", (np.float32, np.float64))
def test_infinities_nan_and_the_kink(dtype):
    x = np.array([INF, INF, -INF, -INF, NAN, NAN, 1.0, 1.0], dtype)
    y = np.array([1, -1, 1, -1, 1, -1, -1, 0])
    loss, g = fl.value_and_grad(fl.hinge_embedding)(x, y, reduction="none")
    # +inf: itself where similar, 0 past the margin; -inf: -inf where similar (x itself), inf
    # below the margin; NaN: NaN loss and gradient; x = margin: 0, subgradient 0 (PyTorch -1);
    # a label 0 counts both terms: x + max(0, 1 - x) = 1, slope 1
    np.testing.assert_array_equal(loss[:4], np.array([INF, 0.0, -INF, INF], dtype))
    np.testing.assert_array_equal(g[:4], np.array([1.0, 0.0, 1.0, -1.0], dtype))
    assert np.all(np.isnan(loss[4:6])) and np.all(np.isnan(g[4:6]))
    np.testing.assert_array_equal(loss[6:], np.array([0.0, 1.0], dtype))
    np.testing.assert_array_equal(g[6:], np.array([0.0, 1.0], dtype))


def test_jax_form_matches_the_numpy_api():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    import fastloss.jax as flj
    rng = rng_for("hinge_embedding_jax")
    x, y = _inputs(rng, (5, 7), True)
    x = x.astype(np.float32)
    ours = jax.jit(jax.value_and_grad(lambda a: flj.hinge_embedding(a, jnp.asarray(y),
                                                                    margin=0.6)))(jnp.asarray(x))
    expected = fl.value_and_grad(fl.hinge_embedding)(x, y, margin=0.6)
    np.testing.assert_array_equal(np.asarray(ours[0]), expected[0])
    np.testing.assert_array_equal(np.asarray(ours[1]), expected[1])
