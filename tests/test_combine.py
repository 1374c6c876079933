"""The loss combinations (fastloss._combine): each formula against a hand-written float64 one,
every gradient against central differences, the equivalences and optima the papers state, the
state_dict round trips, the self-paced minimiser property and the argument errors."""

from __future__ import annotations

import doctest
import json
import math

import numpy as np
import pytest

import fastloss
from fastloss import _combine, _pacing
from finite_differences import REL_STEP
from helpers import rng_for, tolerance

EXACT = tolerance("float64_rounding")      # the same few float64 steps in another form
REORDERED = tolerance("float64_reordered")  # the same terms summed in another order
FD = tolerance("finite_difference")


def central_difference(f, x):
    """d f(x) / d x for a scalar function of a float64 vector, by central differences."""
    x = np.asarray(x, dtype=np.float64)
    g = np.zeros_like(x)
    for i in range(x.size):
        h = REL_STEP * max(1.0, abs(x[i]))
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        g[i] = (f(xp) - f(xm)) / (xp[i] - xm[i])
    return g


@pytest.mark.parametrize("module", [_combine, _pacing], ids=lambda m: m.__name__)
def test_doctests(module):
    result = doctest.testmod(module, verbose=False, report=False,
                             optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_exported():
    for name in _combine.__all__:
        assert getattr(fastloss, name) is getattr(_combine, name)
        assert name in fastloss.__all__


# -- weighted_sum ------------------------------------------------------------------------------

def test_weighted_sum_value_and_gradients():
    rng = rng_for("weighted_sum")
    L, w = rng.uniform(0.1, 5.0, 7), rng.uniform(0.0, 3.0, 7)
    expected = sum(w[i] * L[i] for i in range(7))
    np.testing.assert_allclose(fastloss.weighted_sum(L, w), expected, **REORDERED)
    total, (gL, gw) = fastloss.value_and_grad(fastloss.weighted_sum, argnums=(0, 1))(
        L, w, grad_output=-1.5)
    np.testing.assert_allclose(total, expected, **REORDERED)
    np.testing.assert_allclose(gL, -1.5 * central_difference(lambda x: float(
        fastloss.weighted_sum(x, w)), L), **FD)
    np.testing.assert_allclose(gw, -1.5 * central_difference(lambda x: float(
        fastloss.weighted_sum(L, x)), w), **FD)
    assert fastloss.grad(fastloss.weighted_sum)(L, w).tolist() == w.tolist()
    assert fastloss.grad(fastloss.weighted_sum, argnums=1)(L, w).tolist() == L.tolist()


def test_weighted_sum_accepts_sequences_of_scalars_and_integer_weights():
    total = fastloss.weighted_sum([np.float32(1.5), np.array(2.0)], [2, 1])
    assert total.dtype == np.float64 and total.shape == () and float(total) == 5.0


@pytest.mark.parametrize("losses, weights, message", [
    ([1.0, 2.0], [1.0], "same length"),
    ([], [], "must not be empty"),
    ([1.0, 2.0], [1.0, -0.5], "weights must be >= 0"),
    ([1.0, 2.0], [1.0, np.inf], "weights must be finite"),
    ([1.0, np.nan], [1.0, 1.0], "losses must be finite"),
    ([[1.0, 2.0]], [[1.0, 1.0]], "must be 1-D"),
])
def test_weighted_sum_errors(losses, weights, message):
    with pytest.raises(ValueError, match=r"\[fastloss.weighted_sum\] .*" + message):
        fastloss.weighted_sum(losses, weights)


def test_weighted_sum_type_errors_and_argnums():
    with pytest.raises(TypeError, match=r"\[fastloss.weighted_sum\] losses must be"):
        fastloss.weighted_sum(["a", "b"], [1.0, 1.0])
    with pytest.raises(ValueError, match=r"argnums position 2"):
        fastloss.value_and_grad(fastloss.weighted_sum, argnums=2)
    with pytest.raises(TypeError, match=r"grad_into"):
        fastloss.value_and_grad(fastloss.weighted_sum)([1.0], [1.0], grad_into=np.zeros(1))


# -- uncertainty weighting ---------------------------------------------------------------------

def kendall(L, s, c):
    """The paper's sum_i c_i exp(-s_i) L_i + s_i / 2 (c = 1/2 regression, 1 classification),
    written as 1/(2 sigma^2) and log sigma."""
    total = 0.0
    for Li, si, ci in zip(L, s, c):
        sigma2 = math.exp(si)
        total += (2 * ci) * Li / (2 * sigma2) + math.log(math.sqrt(sigma2))
    return total


@pytest.mark.parametrize("kind", ["regression", "classification",
                                  ["regression", "classification", "classification",
                                   "regression", "regression"]], ids=str)
def test_uncertainty_weighting_value_and_gradients(kind):
    rng = rng_for("uncertainty", str(kind))
    L, s = rng.uniform(0.1, 4.0, 5), rng.uniform(-2.0, 2.0, 5)
    kinds = [kind] * 5 if isinstance(kind, str) else kind
    c = [0.5 if k == "regression" else 1.0 for k in kinds]
    np.testing.assert_allclose(fastloss.uncertainty_weighting(L, s, kind=kind), kendall(L, s, c),
                               **tolerance("float64_identity"))
    total, (gL, gs) = fastloss.value_and_grad(fastloss.uncertainty_weighting, argnums=(0, 1))(
        L, s, kind=kind, grad_output=0.7)
    np.testing.assert_allclose(gL, 0.7 * central_difference(lambda x: kendall(x, s, c), L), **FD)
    np.testing.assert_allclose(gs, 0.7 * central_difference(lambda x: kendall(L, x, c), s), **FD)


def test_uncertainty_weighting_at_zero_is_half_the_sum():
    L = rng_for("uncertainty zero").uniform(0.0, 10.0, 6)
    np.testing.assert_allclose(fastloss.uncertainty_weighting(L, np.zeros(6)), 0.5 * L.sum(),
                               **REORDERED)
    np.testing.assert_allclose(fastloss.uncertainty_weighting(L, np.zeros(6),
                                                              kind="classification"),
                               L.sum(), **REORDERED)


def test_uncertainty_weighting_optimum_is_log_of_the_loss():
    L = np.array([0.3, 1.0, 7.0])
    for kind, optimum in (("regression", np.log(L)), ("classification", np.log(2 * L))):
        g = fastloss.grad(fastloss.uncertainty_weighting, argnums=1)(L, optimum, kind=kind)
        np.testing.assert_allclose(g, 0.0, atol=tolerance("float64_zero_sum")["atol"])
        at = float(fastloss.uncertainty_weighting(L, optimum, kind=kind))
        for delta in (-1e-3, 1e-3):  # a minimum, not a stationary point of another kind
            assert float(fastloss.uncertainty_weighting(L, optimum + delta, kind=kind)) > at


def test_uncertainty_weighting_module_state():
    uw = fastloss.UncertaintyWeighting(3, kind="classification", init=0.5)
    assert uw.log_vars.tolist() == [0.5] * 3
    L = [1.0, 2.0, 3.0]
    np.testing.assert_allclose(uw(L), fastloss.uncertainty_weighting(L, [0.5] * 3,
                                                                     kind="classification"),
                               **EXACT)
    uw.log_vars -= 0.1 * uw.value_and_grad(L)[1][1]
    state = json.loads(json.dumps(uw.state_dict()))
    other = fastloss.UncertaintyWeighting(3)
    other.load_state_dict(state)
    assert other.log_vars.tolist() == uw.log_vars.tolist() and other.kind == "classification"
    assert float(other(L)) == float(uw(L))


@pytest.mark.parametrize("call, message", [
    (lambda: fastloss.uncertainty_weighting([1.0], [0.0, 0.0]), "same length"),
    (lambda: fastloss.uncertainty_weighting([1.0], [0.0], kind="ranking"), "kind must be one of"),
    (lambda: fastloss.uncertainty_weighting([1.0, 2.0], [0.0, 0.0], kind=["regression"]),
     "one kind per task"),
    (lambda: fastloss.uncertainty_weighting([1.0], [np.inf]), "log_vars must be finite"),
    (lambda: fastloss.UncertaintyWeighting(0), "num_tasks must be >= 1"),
    (lambda: fastloss.UncertaintyWeighting(2)([1.0]), "2 values"),
    (lambda: fastloss.UncertaintyWeighting(2).load_state_dict({"kind": "regression"}),
     "log_vars"),
])
def test_uncertainty_weighting_errors(call, message):
    with pytest.raises(ValueError, match=r"\[fastloss\.(uncertainty_weighting|"
                                         r"UncertaintyWeighting.*)\] .*" + message):
        call()


# -- adaptive weighting ------------------------------------------------------------------------

def test_adaptive_weighting_follows_the_lecture():
    rng = rng_for("adaptive")
    lam0 = rng.uniform(0.5, 2.0, 4)
    aw = fastloss.AdaptiveWeighting(4, initial_weights=lam0)
    L0 = rng.uniform(1.0, 3.0, 4)
    assert aw.weights(L0).tolist() == lam0.tolist()
    for _ in range(3):
        Lt = rng.uniform(0.1, 3.0, 4)
        expected = [L0[i] / Lt[i] * lam0[i] for i in range(4)]
        np.testing.assert_allclose(aw.weights(Lt), expected, **EXACT)
        total, g = aw.value_and_grad(Lt)
        np.testing.assert_allclose(g, expected, **EXACT)
        # the product lambda_i(t) L_i(t) stays lambda_i(0) L_i(0)
        np.testing.assert_allclose(total, float(np.dot(lam0, L0)), **REORDERED)
    aw.reset()
    assert aw.weights(Lt).tolist() == lam0.tolist()  # Lt is the new L(0)


def test_adaptive_weighting_state_dict_round_trip():
    aw = fastloss.AdaptiveWeighting(2)
    empty = json.loads(json.dumps(aw.state_dict()))
    aw.weights([2.0, 5.0])
    state = json.loads(json.dumps(aw.state_dict()))
    other = fastloss.AdaptiveWeighting(2)
    other.load_state_dict(state)
    assert other.weights([1.0, 1.0]).tolist() == [2.0, 5.0]
    other.load_state_dict(empty)
    assert other.weights([1.0, 1.0]).tolist() == [1.0, 1.0]


@pytest.mark.parametrize("call, message", [
    (lambda: fastloss.AdaptiveWeighting(2).weights([1.0, 0.0]), "losses must be > 0"),
    (lambda: fastloss.AdaptiveWeighting(2).weights([1.0, 1.0, 1.0]), "2 values"),
    (lambda: fastloss.AdaptiveWeighting(2, initial_weights=[1.0, -1.0]), "must be >= 0"),
    (lambda: fastloss.AdaptiveWeighting(2).load_state_dict({"initial_weights": [1.0, 1.0],
                                                             "initial_losses": [1.0, -2.0]}),
     "initial_losses must be > 0"),
])
def test_adaptive_weighting_errors(call, message):
    with pytest.raises(ValueError, match=r"\[fastloss\.AdaptiveWeighting.*\] .*" + message):
        call()


# -- dynamic weight average --------------------------------------------------------------------

def dwa(previous, before, T):
    r = [p / b for p, b in zip(previous, before)]
    e = [math.exp(ri / T) for ri in r]
    return [len(r) * ei / sum(e) for ei in e]


@pytest.mark.parametrize("temperature", [2.0, 0.5, 10.0])
def test_dynamic_weight_average(temperature):
    rng = rng_for("dwa", temperature)
    d = fastloss.DynamicWeightAverage(3, temperature=temperature)
    epochs = rng.uniform(0.2, 3.0, (5, 3))
    assert d.weights.tolist() == [1.0] * 3
    assert d.update(epochs[0]).tolist() == [1.0] * 3  # the first two epochs have weight 1
    for t in range(1, 5):
        w = d.update(epochs[t])
        np.testing.assert_allclose(w, dwa(epochs[t], epochs[t - 1], temperature),
                                   **tolerance("float64_identity"))
        np.testing.assert_allclose(w.sum(), 3.0, **REORDERED)
    L = rng.uniform(0.2, 3.0, 3)
    total, g = d.value_and_grad(L)
    assert g.tolist() == d.weights.tolist()
    np.testing.assert_allclose(total, float(np.dot(d.weights, L)), **REORDERED)


def test_dynamic_weight_average_state_dict_round_trip():
    d = fastloss.DynamicWeightAverage(2, temperature=3.0)
    for L in ([1.0, 2.0], [0.5, 1.9], [0.4, 1.5]):
        d.update(L)
    state = json.loads(json.dumps(d.state_dict()))
    other = fastloss.DynamicWeightAverage(2)
    other.load_state_dict(state)
    assert other.temperature == 3.0 and other.weights.tolist() == d.weights.tolist()
    assert other.update([0.3, 1.0]).tolist() == d.update([0.3, 1.0]).tolist()
    d.reset()
    assert d.weights.tolist() == [1.0, 1.0]


@pytest.mark.parametrize("call, message", [
    (lambda: fastloss.DynamicWeightAverage(2, temperature=0.0), "temperature must be > 0"),
    (lambda: fastloss.DynamicWeightAverage(2, temperature=-1.0), "temperature must be > 0"),
    (lambda: fastloss.DynamicWeightAverage(2).update([1.0, 0.0]), "must be > 0"),
    (lambda: fastloss.DynamicWeightAverage(2).update([1.0]), "2 values"),
    (lambda: fastloss.DynamicWeightAverage(2).load_state_dict(
        {"temperature": 2.0, "history": [[1.0, 1.0]] * 3}), "at most 2"),
])
def test_dynamic_weight_average_errors(call, message):
    with pytest.raises(ValueError, match=r"\[fastloss\.DynamicWeightAverage.*\] .*" + message):
        call()


# -- curriculum --------------------------------------------------------------------------------

def platanios(t, T, c0, schedule):
    x = min(t / T, 1.0)
    if schedule == "linear":
        return min(1.0, x * (1 - c0) + c0)
    if schedule == "root":
        return min(1.0, math.sqrt(x * (1 - c0 ** 2) + c0 ** 2))
    return min(1.0, c0 * (1 / c0) ** x)


@pytest.mark.parametrize("schedule", _pacing.SCHEDULES)
def test_curriculum_weights_follow_the_competence(schedule):
    rng = rng_for("curriculum", schedule)
    d = rng.uniform(0.0, 1.0, (4, 50))
    T, c0 = 100, 0.05
    previous = np.zeros_like(d)
    for t in (0, 1, 10, 33, 50, 99, 100, 250):
        w = fastloss.curriculum_weights(d, t, total_steps=T, schedule=schedule, initial=c0)
        assert w.shape == d.shape and w.dtype == np.float64
        c = platanios(t, T, c0, schedule)
        assert w.tolist() == (d <= c).astype(float).tolist(), (t, c)
        assert (w >= previous).all()  # the weights only rise
        previous = w
    assert previous.all()  # every sample is in at total_steps


def test_curriculum_competence_at_its_ends_and_pacings_order():
    for schedule in _pacing.SCHEDULES:
        np.testing.assert_allclose(
            _pacing.competence("t", 0, schedule=schedule, total_steps=10, initial=0.2), 0.2,
            **EXACT)
        assert _pacing.competence("t", 10, schedule=schedule, total_steps=10, initial=0.2) == 1.0
    mid = {s: _pacing.competence("t", 5, schedule=s, total_steps=10, initial=0.2)
           for s in _pacing.SCHEDULES}
    assert mid["geometric"] < mid["linear"] < mid["root"]


def test_curriculum_by_rank_is_the_empirical_cdf():
    scores = np.array([5.0, -1.0, 3.0, 3.0, 10.0])
    cdf = np.array([0.8, 0.2, 0.6, 0.6, 1.0])
    for t in range(0, 11):
        c = platanios(t, 10, 0.3, "linear")
        w = fastloss.curriculum_weights(scores, t, total_steps=10, initial=0.3, by_rank=True)
        assert w.tolist() == (cdf <= c).astype(float).tolist(), t


@pytest.mark.parametrize("kwargs, exc, message", [
    (dict(schedule="cosine"), ValueError, "schedule must be one of"),
    (dict(total_steps=0), ValueError, "total_steps must be >= 1"),
    (dict(total_steps=2.5), TypeError, "total_steps must be an integer"),
    (dict(initial=0.0), ValueError, "initial must be > 0"),
    (dict(initial=1.5), ValueError, r"initial must be in \(0, 1\]"),
    (dict(step=-1), ValueError, "step must be >= 0"),
    (dict(difficulty=[0.5, 1.5]), ValueError, r"difficulty must be in \[0, 1\]"),
    (dict(difficulty=[0.5, np.nan]), ValueError, "difficulty must be finite"),
    (dict(by_rank=1), TypeError, "by_rank must be a bool"),
])
def test_curriculum_errors(kwargs, exc, message):
    args = dict(difficulty=[0.1, 0.2], step=3, total_steps=10)
    args.update(kwargs)
    difficulty, step = args.pop("difficulty"), args.pop("step")
    with pytest.raises(exc, match=r"\[fastloss.curriculum_weights\] " + message):
        fastloss.curriculum_weights(difficulty, step, **args)


# -- self-paced learning -----------------------------------------------------------------------

def spl_weight(loss, lam, kind, gamma):
    """The closed forms, one sample at a time."""
    if kind == "hard":
        return 1.0 if loss < lam else 0.0
    if kind == "linear":
        return max(0.0, min(1.0, 1.0 - loss / lam))
    zeta = lam * gamma / (lam - gamma)
    if loss <= gamma:
        return 1.0
    if loss >= lam:
        return 0.0
    return zeta / loss - zeta / lam


def spl_regularizer(v, lam, kind, gamma):
    if kind == "hard":
        return -lam * sum(v)
    if kind == "linear":
        return lam * sum(0.5 * vi * vi - vi for vi in v)
    zeta = lam * gamma / (lam - gamma)
    return -zeta * sum(math.log(vi + zeta / lam) for vi in v)


SPL_CASES = [("hard", None), ("linear", None), ("mixture", 0.6)]


@pytest.mark.parametrize("kind, gamma", SPL_CASES)
def test_self_paced_formulas(kind, gamma):
    rng = rng_for("spl", kind)
    losses = rng.uniform(0.0, 4.0, (3, 20))
    lam = 1.7
    v = fastloss.self_paced_weights(losses, lam, kind=kind, gamma=gamma)
    assert v.shape == losses.shape and v.dtype == np.float64
    np.testing.assert_allclose(v, [[spl_weight(x, lam, kind, gamma) for x in row]
                                   for row in losses], **EXACT)
    np.testing.assert_allclose(fastloss.self_paced_regularizer(v, lam, kind=kind, gamma=gamma),
                               spl_regularizer(v.ravel(), lam, kind, gamma), **REORDERED)


@pytest.mark.parametrize("kind, gamma", SPL_CASES)
def test_self_paced_weights_minimise_the_objective(kind, gamma):
    """min over v in [0, 1]^n of sum v_i l_i + g(v, lam) is attained at self_paced_weights: no
    point of a projected-gradient search from random starts, and no point of a per-coordinate
    grid, does better."""
    rng = rng_for("spl minimiser", kind)
    lam, n = 1.3, 12
    losses = rng.uniform(0.0, 3.0, n)

    def objective(v):
        return float(np.dot(v, losses)) + float(
            fastloss.self_paced_regularizer(v, lam, kind=kind, gamma=gamma))

    best = fastloss.self_paced_weights(losses, lam, kind=kind, gamma=gamma)
    at_best = objective(best)
    slack = tolerance("minimiser_search")["atol"]
    # projected gradient descent on the whole vector (the objective's gradient: l + g'(v))
    for start in range(5):
        v = rng.uniform(0.0, 1.0, n)
        for _ in range(2000):
            if kind == "hard":
                dg = -lam * np.ones(n)
            elif kind == "linear":
                dg = lam * (v - 1.0)
            else:
                zeta = lam * gamma / (lam - gamma)
                dg = -zeta / (v + zeta / lam)
            v = np.clip(v - 0.05 * (losses + dg), 0.0, 1.0)
        assert at_best <= objective(v) + slack, start
        if kind != "hard":  # strictly convex: the search finds the same point
            np.testing.assert_allclose(v, best, **tolerance("minimiser_search"))
    # the objective is separable: a grid per coordinate, the others at the closed form
    grid = np.linspace(0.0, 1.0, 1001)
    for i in range(n):
        trial = np.repeat(best[None, :], grid.size, axis=0)
        trial[:, i] = grid
        values = trial @ losses + np.array([objective(t) - float(np.dot(t, losses))
                                            for t in trial])
        assert at_best <= values.min() + slack, i


def test_self_paced_weights_grow_with_the_age():
    losses = rng_for("spl age").uniform(0.0, 5.0, 40)
    for kind, gamma in SPL_CASES:
        previous = np.zeros(40)
        for lam in (1.0, 1.5, 2.5, 4.0, 6.0):
            v = fastloss.self_paced_weights(losses, lam, kind=kind,
                                            gamma=None if gamma is None else 0.5 * lam)
            assert ((v >= 0) & (v <= 1)).all() and (v >= previous).all(), (kind, lam)
            previous = v


@pytest.mark.parametrize("call, exc, message", [
    (lambda: fastloss.self_paced_weights([1.0], 0.0), ValueError, "lam must be > 0"),
    (lambda: fastloss.self_paced_weights([1.0], -1.0), ValueError, "lam must be > 0"),
    (lambda: fastloss.self_paced_weights([1.0], 1.0, kind="soft"), ValueError,
     "kind must be one of"),
    (lambda: fastloss.self_paced_weights([1.0], 1.0, kind="mixture"), TypeError, "kind=.mixture. needs gamma"),
    (lambda: fastloss.self_paced_weights([1.0], 1.0, kind="mixture", gamma=1.0), ValueError,
     "gamma must be < lam"),
    (lambda: fastloss.self_paced_weights([1.0], 1.0, gamma=0.5), ValueError,
     "gamma is used by kind='mixture' only"),
    (lambda: fastloss.self_paced_weights([np.nan], 1.0), ValueError, "losses must be finite"),
    (lambda: fastloss.self_paced_regularizer([1.5], 1.0), ValueError,
     r"weights must be in \[0, 1\]"),
    (lambda: fastloss.self_paced_regularizer([0.5], 1.0, kind="linear", gamma=0.1), ValueError,
     "gamma is used"),
])
def test_self_paced_errors(call, exc, message):
    with pytest.raises(exc, match=r"\[fastloss\.self_paced_(weights|regularizer)\] " + message):
        call()
