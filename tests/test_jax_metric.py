"""fastloss.jax's metric-learning losses (the jax.pure_callback path, jax/_metric.py): the NumPy
API's bits under jit, grad and vmap, every reduction, and the trace-time errors."""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402

import fastloss  # noqa: E402
import fastloss.jax as flj  # noqa: E402
from helpers import rng_for  # noqa: E402


def _triplets(rng, shape=(6, 5)):
    return tuple(rng.normal(size=shape).astype(np.float32) for _ in range(3))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_triplet_same_bits_as_the_numpy_api_under_jit_and_grad(reduction):
    rng = rng_for("jax triplet", reduction)
    args = _triplets(rng)
    up = rng.uniform(-2, 2, 6).astype(np.float32) if reduction == "none" else np.float32(1.5)
    kw = dict(p=1.0, swap=True, reduction=reduction)
    f = jax.jit(jax.value_and_grad(lambda *a: (flj.triplet(*a, **kw) * up).sum(),
                                   argnums=(0, 1, 2)))
    value, grads = f(*args)
    want, want_grads = fastloss.value_and_grad(fastloss.triplet, argnums=(0, 1, 2))(
        *args, grad_output=up if reduction == "none" else float(up), **kw)
    np.testing.assert_array_equal(np.asarray(flj.triplet(*args, **kw)), want)
    for g, w in zip(grads, want_grads):
        np.testing.assert_array_equal(np.asarray(g), w)


def test_contrastive_grad_and_vmap():
    rng = rng_for("jax contrastive")
    x1, x2, _ = _triplets(rng)
    y = rng.integers(0, 2, 6)
    g = jax.jit(jax.grad(lambda a, b: flj.contrastive(a, b, y, margin=2.0), argnums=(0, 1)))(
        x1, x2)
    _, want = fastloss.value_and_grad(fastloss.contrastive, argnums=(0, 1))(x1, x2, y,
                                                                            margin=2.0)
    for a, b in zip(g, want):
        np.testing.assert_array_equal(np.asarray(a), b)
    batched = jax.vmap(lambda a: flj.contrastive(a, x2, y))(jnp.stack([x1, x2]))
    np.testing.assert_array_equal(np.asarray(batched),
                                  [fastloss.contrastive(x1, x2, y), fastloss.contrastive(x2, x2, y)])


@pytest.mark.parametrize("call, exc, match", [
    (lambda x: flj.triplet(x, x, x[:, :2]), ValueError,
     r"\[fastloss.jax.triplet\] negative must have the shape"),
    (lambda x: flj.triplet(x, x, x, margin=-1.0), ValueError, r"\[fastloss.jax.triplet\] margin"),
    (lambda x: flj.triplet(x, x, x, p=0.5), ValueError, r"\[fastloss.jax.triplet\] p must"),
    (lambda x: flj.contrastive(x, x, jnp.zeros(2)), ValueError, "similar must have the row shape"),
    (lambda x: flj.contrastive(x.astype(jnp.int32), x, jnp.zeros(4)), TypeError, "x1 must be"),
])
def test_trace_time_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call(jnp.ones((4, 3)))
