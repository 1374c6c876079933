"""fastloss.jax's loss combinations against the NumPy API (fastloss._combine): under jax.jit and
jax.grad the values and gradients equal the NumPy ones; the pytree weightings carry their state
through jitted steps; errors name ``fastloss.jax.<function>`` at trace time."""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
import fastloss  # noqa: E402
import fastloss.jax as flj  # noqa: E402  (after the importorskip above)
from helpers import rng_for, tolerance  # noqa: E402

F32 = tolerance("jax_float32")


def test_exported():
    for name in fastloss._combine.__all__:
        assert name in flj.__all__ and callable(getattr(flj, name))


def test_weighted_sum_under_jit_and_grad():
    rng = rng_for("jax weighted_sum")
    L, w = rng.uniform(0.1, 4.0, 6), rng.uniform(0.0, 2.0, 6)
    value, (gL, gw) = jax.jit(jax.value_and_grad(flj.weighted_sum, argnums=(0, 1)))(
        jnp.asarray(L, jnp.float32), jnp.asarray(w, jnp.float32))
    expected, (eL, ew) = fastloss.value_and_grad(fastloss.weighted_sum, argnums=(0, 1))(L, w)
    np.testing.assert_allclose(value, expected, **F32)
    np.testing.assert_allclose(gL, eL, **F32)
    np.testing.assert_allclose(gw, ew, **F32)


@pytest.mark.parametrize("kind", ["regression", "classification",
                                  ["regression", "classification", "regression", "regression"]],
                         ids=str)
def test_uncertainty_weighting_under_jit_and_grad(kind):
    rng = rng_for("jax uncertainty", str(kind))
    L, s = rng.uniform(0.1, 4.0, 4), rng.uniform(-1.0, 1.0, 4)
    f = jax.jit(jax.value_and_grad(lambda a, b: 1.5 * flj.uncertainty_weighting(a, b, kind=kind),
                                   argnums=(0, 1)))
    value, (gL, gs) = f(jnp.asarray(L, jnp.float32), jnp.asarray(s, jnp.float32))
    expected, (eL, es) = fastloss.value_and_grad(fastloss.uncertainty_weighting, argnums=(0, 1))(
        L, s, kind=kind, grad_output=1.5)
    np.testing.assert_allclose(value, 1.5 * expected, **F32)
    np.testing.assert_allclose(gL, eL, **F32)
    np.testing.assert_allclose(gs, es, **F32)


def test_uncertainty_pytree_trains_s_to_log_of_the_loss():
    L = jnp.array([0.5, 2.0, 5.0])
    uw = flj.UncertaintyWeighting.create(3)

    @jax.jit
    def step(uw):
        g = jax.grad(lambda u: u(L))(uw)
        return jax.tree_util.tree_map(lambda p, d: p - 0.5 * d, uw, g)

    for _ in range(300):
        uw = step(uw)
    np.testing.assert_allclose(uw.log_vars, np.log(np.asarray(L)), **F32)


@pytest.mark.skipif(not hasattr(jax, "enable_x64"), reason="jax.enable_x64 context manager")
def test_float64_with_x64():
    with jax.enable_x64(True):
        L, s = np.array([0.3, 2.0, 7.5]), np.array([0.1, -0.4, 1.2])
        value, gs = jax.value_and_grad(flj.uncertainty_weighting, argnums=1)(
            jnp.asarray(L), jnp.asarray(s))
        expected, es = fastloss.value_and_grad(fastloss.uncertainty_weighting, argnums=1)(L, s)
        assert value.dtype == jnp.float64
        np.testing.assert_allclose(value, expected, **tolerance("jax_float64"))
        np.testing.assert_allclose(gs, es, **tolerance("jax_float64"))


def test_forward_mode_second_derivatives_and_vmap():
    # plain jax.numpy code: unlike the losses' custom call, every transformation applies
    L = jnp.array([1.0, 2.0])
    f = lambda s: flj.uncertainty_weighting(L, s)  # noqa: E731
    _, tangent = jax.jvp(f, (jnp.zeros(2),), (jnp.ones(2),))
    np.testing.assert_allclose(tangent, np.sum(0.5 - 0.5 * np.asarray(L)), **F32)
    np.testing.assert_allclose(jax.hessian(f)(jnp.zeros(2)), np.diag(0.5 * np.asarray(L)), **F32)
    batch = jnp.asarray(rng_for("jax vmap").uniform(0.0, 2.0, (4, 2)), jnp.float32)
    np.testing.assert_allclose(jax.vmap(lambda x: flj.weighted_sum(x, jnp.array([1.0, 2.0])))(
        batch), np.asarray(batch) @ np.array([1.0, 2.0]), **F32)


def test_adaptive_weighting_pytree():
    aw = flj.AdaptiveWeighting.create(2, initial_weights=[1.0, 0.5]).start(jnp.array([2.0, 4.0]))
    reference = fastloss.AdaptiveWeighting(2, initial_weights=[1.0, 0.5])
    reference.weights([2.0, 4.0])
    L = jnp.array([1.0, 4.0])
    np.testing.assert_allclose(jax.jit(lambda a, x: a.weights(x))(aw, L),
                               reference.weights([1.0, 4.0]), **F32)
    g = jax.jit(jax.grad(lambda x, a: 2.0 * a(x)))(L, aw)  # the weights are constants
    np.testing.assert_allclose(g, 2.0 * reference.weights([1.0, 4.0]), **F32)
    assert aw.start(jnp.array([9.0, 9.0])) is aw  # L(0) is recorded once


def test_dynamic_weight_average_pytree_through_jit():
    dwa = flj.DynamicWeightAverage.create(3, temperature=2.0)
    reference = fastloss.DynamicWeightAverage(3, temperature=2.0)
    update = jax.jit(lambda d, x: d.update(x))
    rng = rng_for("jax dwa")
    for _ in range(4):
        epoch = rng.uniform(0.2, 3.0, 3)
        dwa = update(dwa, jnp.asarray(epoch, jnp.float32))
        np.testing.assert_allclose(dwa.weights, reference.update(epoch), **F32)
    L = jnp.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(jax.grad(lambda x: dwa(x))(L), reference.weights, **F32)


@pytest.mark.parametrize("schedule", ["linear", "root", "geometric"])
def test_curriculum_and_self_paced_equal_numpy(schedule):
    rng = rng_for("jax curriculum", schedule)
    d = rng.uniform(0.0, 1.0, 40).astype(np.float32)
    for step in (0, 5, 20, 50):
        for by_rank in (False, True):
            ours = flj.curriculum_weights(jnp.asarray(d), step, total_steps=20,
                                          schedule=schedule, initial=0.1, by_rank=by_rank)
            expected = fastloss.curriculum_weights(d, step, total_steps=20, schedule=schedule,
                                                   initial=0.1, by_rank=by_rank)
            assert np.asarray(ours).tolist() == expected.tolist()
    losses = rng.uniform(0.0, 3.0, 40)
    for kind, gamma in (("hard", None), ("linear", None), ("mixture", 0.4)):
        v = jax.jit(lambda x: flj.self_paced_weights(x, 1.5, kind=kind, gamma=gamma))(
            jnp.asarray(losses, jnp.float32))
        np.testing.assert_allclose(v, fastloss.self_paced_weights(
            losses.astype(np.float32), 1.5, kind=kind, gamma=gamma), **F32)
        vc = np.clip(np.asarray(v, np.float64), 0.05, 0.95)
        r, gr = jax.value_and_grad(lambda x: flj.self_paced_regularizer(
            x, 1.5, kind=kind, gamma=gamma))(jnp.asarray(vc, jnp.float32))
        np.testing.assert_allclose(r, fastloss.self_paced_regularizer(
            vc, 1.5, kind=kind, gamma=gamma), **F32)
        assert np.isfinite(np.asarray(gr)).all()


def test_float32_ties_are_decided_as_in_float64():
    # float32(0.7) < 0.7: a comparison in float32 would round the threshold onto the loss
    x = np.float32(0.7)
    losses = jnp.asarray(np.array([x, np.nextafter(x, np.float32(1))], dtype=np.float32))
    for kind, gamma in (("hard", None), ("mixture", 0.7)):  # the kinds whose cases tie
        lam = 0.7 if kind != "mixture" else 0.9
        ours = np.asarray(flj.self_paced_weights(losses, lam, kind=kind, gamma=gamma))
        expected = fastloss.self_paced_weights(np.asarray(losses), lam, kind=kind, gamma=gamma)
        # the tie is the first loss; (the second's soft weight is within float32 of 1 or 0)
        assert ours[0] == expected[0] == 1.0, kind
        if kind == "hard":
            assert ours.tolist() == expected.tolist() == [1.0, 0.0]
    ours = flj.curriculum_weights(losses, 0, total_steps=1, initial=0.7)
    assert np.asarray(ours).tolist() == fastloss.curriculum_weights(
        np.asarray(losses), 0, total_steps=1, initial=0.7).tolist() == [1.0, 0.0]


@pytest.mark.parametrize("call, exc, message", [
    (lambda: flj.weighted_sum(jnp.ones(2), jnp.ones(3)), ValueError, "same length"),
    (lambda: flj.weighted_sum(jnp.ones(2), [1.0, -1.0]), ValueError, "weights must be >= 0"),
    (lambda: jax.jit(lambda L: flj.uncertainty_weighting(L, jnp.zeros(2), kind="x"))(
        jnp.ones(2)), ValueError, "kind must be one of"),
    (lambda: flj.self_paced_weights(jnp.ones(2), 0.0), ValueError, "lam must be > 0"),
    (lambda: flj.DynamicWeightAverage.create(2, temperature=-1.0), ValueError,
     "temperature must be > 0"),
    (lambda: flj.AdaptiveWeighting.create(2).weights(jnp.ones(2)), ValueError, "start"),
    (lambda: flj.curriculum_weights(jnp.ones(2), 0, total_steps=0), ValueError,
     "total_steps must be >= 1"),
])
def test_errors_name_the_jax_function(call, exc, message):
    with pytest.raises(exc, match=r"\[fastloss\.jax\.\w+\] .*" + message):
        call()
