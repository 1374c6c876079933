"""fastloss.torch's loss combinations against the NumPy API (fastloss._combine): values, autograd
gradients with an upstream gradient other than one, the learnable log-variances trained to their
closed-form optimum, the state in the modules' state_dict, and the errors' names."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import fastloss  # noqa: E402
import fastloss.torch as flt  # noqa: E402  (after the importorskip above)
from helpers import rng_for, tolerance  # noqa: E402

SAME = tolerance("torch_float64")  # torch's float64 operations against the NumPy float64 form


def t64(a, grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def test_exported():
    for name in ("weighted_sum", "uncertainty_weighting", "curriculum_weights",
                 "self_paced_weights", "self_paced_regularizer", "AdaptiveWeighting",
                 "DynamicWeightAverage", "UncertaintyWeighting"):
        assert name in flt.__all__ and getattr(flt, name).__module__ == "fastloss.torch"


def test_weighted_sum_value_and_gradients():
    rng = rng_for("torch weighted_sum")
    L, w = rng.uniform(0.1, 4.0, 5), rng.uniform(0.0, 2.0, 5)
    Lt, wt = t64(L, grad=True), t64(w, grad=True)
    total = flt.weighted_sum(Lt, wt)
    (2.5 * total).backward()
    expected, (gL, gw) = fastloss.value_and_grad(fastloss.weighted_sum, argnums=(0, 1))(
        L, w, grad_output=2.5)
    np.testing.assert_allclose(total.item(), expected, **SAME)
    np.testing.assert_allclose(Lt.grad.numpy(), gL, **SAME)
    np.testing.assert_allclose(wt.grad.numpy(), gw, **SAME)


def test_weighted_sum_of_a_list_of_scalar_losses_keeps_their_graphs():
    x = t64([1.0, -2.0, 0.5], grad=True)
    mse, mae = (x ** 2).mean(), x.abs().mean()
    flt.weighted_sum([mse, mae], [3.0, 1.0]).backward()
    np.testing.assert_allclose(x.grad.numpy(), 3.0 * 2 * x.detach().numpy() / 3
                               + np.sign(x.detach().numpy()) / 3, **SAME)


@pytest.mark.parametrize("kind", ["regression", "classification",
                                  ["classification", "regression", "regression"]], ids=str)
def test_uncertainty_weighting_value_and_gradients(kind):
    rng = rng_for("torch uncertainty", str(kind))
    L, s = rng.uniform(0.1, 4.0, 3), rng.uniform(-1.0, 1.0, 3)
    Lt, st = t64(L, grad=True), t64(s, grad=True)
    total = flt.uncertainty_weighting(Lt, st, kind=kind)
    (-0.5 * total).backward()
    expected, (gL, gs) = fastloss.value_and_grad(fastloss.uncertainty_weighting, argnums=(0, 1))(
        L, s, kind=kind, grad_output=-0.5)
    np.testing.assert_allclose(total.item(), expected, **SAME)
    np.testing.assert_allclose(Lt.grad.numpy(), gL, **SAME)
    np.testing.assert_allclose(st.grad.numpy(), gs, **SAME)


@pytest.mark.parametrize("kind", ["regression", "classification"])
def test_uncertainty_module_trains_s_to_its_optimum(kind):
    L = torch.tensor([0.5, 2.0, 5.0], dtype=torch.float64)
    module = flt.UncertaintyWeighting(3, kind=kind).double()
    assert module.log_vars.tolist() == [0.0] * 3
    assert isinstance(module.log_vars, torch.nn.Parameter)
    optimiser = torch.optim.SGD(module.parameters(), lr=0.5)
    for _ in range(300):
        optimiser.zero_grad()
        module(L).backward()
        optimiser.step()
    factor = 0.5 if kind == "regression" else 1.0
    np.testing.assert_allclose(module.log_vars.detach().numpy(),
                               np.log(2 * factor * L.numpy()), **tolerance("minimiser_search"))


def test_uncertainty_module_with_s_zero_is_half_the_sum():
    L = torch.tensor([1.0, 2.0, 4.0])
    np.testing.assert_allclose(flt.UncertaintyWeighting(3)(L).item(), 3.5,
                               **tolerance("float32_few_roundings"))


def test_adaptive_weighting_module():
    module = flt.AdaptiveWeighting(2, initial_weights=[1.0, 0.5])
    x = t64([2.0, 4.0], grad=True)
    module(x).backward()
    assert x.grad.tolist() == [1.0, 0.5]  # the first call: the initial weights
    y = t64([1.0, 4.0], grad=True)
    (3.0 * module(y)).backward()
    assert y.grad.tolist() == [6.0, 1.5]  # weights lambda(0) L(0) / L, as constants
    state = module.state_dict()
    other = flt.AdaptiveWeighting(2)
    other.load_state_dict(state)
    assert other.weights(torch.tensor([1.0, 4.0])).tolist() == [2.0, 0.5]
    other.reset()  # forgets L(0), keeps lambda(0) (loaded with the state)
    assert other.weights(torch.tensor([1.0, 4.0])).tolist() == [1.0, 0.5]


def test_dynamic_weight_average_module():
    module = flt.DynamicWeightAverage(2, temperature=2.0)
    reference = fastloss.DynamicWeightAverage(2, temperature=2.0)
    for epoch in ([1.0, 2.0], [0.6, 1.9], [0.5, 1.2]):
        assert module.update(t64(epoch)).tolist() == reference.update(epoch).tolist()
    L = t64([0.4, 1.0], grad=True)
    (0.5 * module(L)).backward()
    np.testing.assert_allclose(L.grad.numpy(), 0.5 * reference.weights, **SAME)
    other = flt.DynamicWeightAverage(2)
    other.load_state_dict(module.state_dict())
    assert other.weights.tolist() == module.weights.tolist()


@pytest.mark.parametrize("schedule", ["linear", "root", "geometric"])
@pytest.mark.parametrize("by_rank", [False, True])
def test_curriculum_weights_equal_numpy(schedule, by_rank):
    d = rng_for("torch curriculum", schedule).uniform(0.0, 1.0, (3, 17))
    for step in (0, 7, 30, 100):
        ours = flt.curriculum_weights(torch.tensor(d, dtype=torch.float32), step,
                                      total_steps=40, schedule=schedule, initial=0.1,
                                      by_rank=by_rank)
        assert ours.dtype == torch.float32
        expected = fastloss.curriculum_weights(d.astype(np.float32), step, total_steps=40,
                                               schedule=schedule, initial=0.1, by_rank=by_rank)
        assert ours.tolist() == expected.tolist()


@pytest.mark.parametrize("kind, gamma", [("hard", None), ("linear", None), ("mixture", 0.5)])
def test_self_paced_equal_numpy(kind, gamma):
    losses = rng_for("torch spl", kind).uniform(0.0, 3.0, 30)
    v = flt.self_paced_weights(t64(losses, grad=True), 1.5, kind=kind, gamma=gamma)
    assert not v.requires_grad
    np.testing.assert_allclose(v.numpy(), fastloss.self_paced_weights(
        losses, 1.5, kind=kind, gamma=gamma), **SAME)
    vt = t64(np.clip(v.numpy(), 0.05, 0.95), grad=True)  # inside (0, 1): the log is finite
    g = flt.self_paced_regularizer(vt, 1.5, kind=kind, gamma=gamma)
    g.backward()
    np.testing.assert_allclose(g.item(), fastloss.self_paced_regularizer(
        vt.detach().numpy(), 1.5, kind=kind, gamma=gamma), **SAME)
    # d/dv_i of (v_i l_i + g_i) vanishes at the soft weights: the gradient of g is -l there
    if kind != "hard":
        soft = (losses > (gamma or 0.0)) & (losses < 1.5)
        vs = t64(fastloss.self_paced_weights(losses, 1.5, kind=kind, gamma=gamma), grad=True)
        flt.self_paced_regularizer(vs, 1.5, kind=kind, gamma=gamma).backward()
        np.testing.assert_allclose(vs.grad.numpy()[soft], -losses[soft], **SAME)
        assert math.isfinite(vt.grad.sum().item())


def test_float32_ties_are_decided_as_in_float64():
    # float32(0.7) < 0.7: a comparison in float32 would round the threshold onto the loss
    x = np.float32(0.7)
    losses = torch.tensor(np.array([x, np.nextafter(x, np.float32(1))], dtype=np.float32))
    for kind, gamma in (("hard", None), ("mixture", 0.7)):  # the kinds whose cases tie
        lam = 0.7 if kind != "mixture" else 0.9
        ours = np.asarray(flt.self_paced_weights(losses, lam, kind=kind, gamma=gamma))
        expected = fastloss.self_paced_weights(np.asarray(losses), lam, kind=kind, gamma=gamma)
        # the tie is the first loss; (the second's soft weight is within float32 of 1 or 0)
        assert ours[0] == expected[0] == 1.0, kind
        if kind == "hard":
            assert ours.tolist() == expected.tolist() == [1.0, 0.0]
    ours = flt.curriculum_weights(losses, 0, total_steps=1, initial=0.7)
    assert np.asarray(ours).tolist() == fastloss.curriculum_weights(
        np.asarray(losses), 0, total_steps=1, initial=0.7).tolist() == [1.0, 0.0]


@pytest.mark.parametrize("call, exc, message", [
    (lambda: flt.weighted_sum(torch.ones(2), [1.0]), ValueError, "same length"),
    (lambda: flt.weighted_sum(torch.ones(2), [1.0, -1.0]), ValueError, "weights must be >= 0"),
    (lambda: flt.weighted_sum(torch.ones(2), torch.tensor([1.0, float("nan")])), ValueError,
     "weights must be finite"),
    (lambda: flt.weighted_sum([], [1.0]), TypeError, "losses must be"),
    (lambda: flt.uncertainty_weighting(torch.ones(2), torch.zeros(3)), ValueError,
     "same length"),
    (lambda: flt.UncertaintyWeighting(2, kind="ranking"), ValueError, "kind must be one of"),
    (lambda: flt.DynamicWeightAverage(2, temperature=0), ValueError, "temperature must be > 0"),
    (lambda: flt.DynamicWeightAverage(2).update(torch.ones(3)), ValueError, "2 values"),
    (lambda: flt.AdaptiveWeighting(2)(torch.tensor([1.0, 0.0])), ValueError, "must be > 0"),
    (lambda: flt.AdaptiveWeighting(2, initial_weights=[1.0, -1.0]), ValueError, "must be >= 0"),
    (lambda: flt.self_paced_weights(torch.ones(2), 0.0), ValueError, "lam must be > 0"),
    (lambda: flt.self_paced_weights(torch.ones(2), 1.0, kind="x"), ValueError, "kind must be"),
    (lambda: flt.curriculum_weights(torch.ones(2), 0, total_steps=5, schedule="x"), ValueError,
     "schedule must be one of"),
])
def test_errors_name_the_torch_function(call, exc, message):
    with pytest.raises(exc, match=r"\[fastloss\.torch\.\w+\] .*" + message):
        call()
