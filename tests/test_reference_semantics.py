"""What the reference computes: the claims of the lecture "Loss Functions — Mathematical
Foundations and Learning Objectives" checked numerically, the API contract, and
agreement with PyTorch (and torchvision's sigmoid focal formula) where torch is installed.
"""

import importlib
import inspect
import math

import numpy as np
import pytest

from fastloss import reference
from fastloss._registry import REGISTRY, make_inputs
from helpers import per_class_target_losses, tolerance

REDUCTIONS = ("mean", "sum", "none")


def _rng(*key):
    return np.random.default_rng([sum(map(ord, str(k))) for k in key] or [0])


def _optional(module):
    """Import an optional peer or skip (any ImportError: absent or broken install)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        pytest.skip(f"{module} is not importable: {exc}")


def _golden_section(f, lo, hi, tol=1e-10):
    """Minimiser of a unimodal f on [lo, hi] (vectorised: lo, hi and f's value may be arrays)."""
    invphi = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
    c, d = b - invphi * (b - a), a + invphi * (b - a)
    fc, fd = f(c), f(d)
    while np.max(b - a) > tol:
        left = fc < fd  # the minimum lies in [a, d]
        a, b = np.where(left, a, c), np.where(left, d, b)
        c, d = b - invphi * (b - a), a + invphi * (b - a)
        fc, fd = f(c), f(d)
    return (a + b) / 2.0


def _softmax(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


# =============================================================================================
# (a) The lecture's claims
# =============================================================================================

# The lecture's constant minimisers (the registry's spec.constant_minimiser): the mean for MSE,
# the median for MAE, the tau-quantile for the pinball loss; 101 targets, and 101 * tau is not
# an integer, so the tau-quantile inf{q : F(q) >= tau} is the unique minimiser.
MINIMISER_CASES = [("mse", {}, "mse-min", 1e-7), ("mae", {}, "mae-min", 1e-8)] + [
    ("quantile", {"tau": tau}, ("q-min", tau), 1e-8) for tau in (0.1, 0.25, 0.37, 0.9)]
# Every loss for which the registry states a constant minimiser (none is excluded).
assert {c[0] for c in MINIMISER_CASES} == {
    name for name, spec in REGISTRY.items() if spec.constant_minimiser is not None}


@pytest.mark.parametrize("name,kw,key,accuracy", MINIMISER_CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in MINIMISER_CASES])
def test_constant_minimiser(name, kw, key, accuracy):
    spec = REGISTRY[name]
    rng = _rng(*key) if isinstance(key, tuple) else _rng(key)
    y = rng.normal(size=101) * 3.0 if name == "quantile" else rng.standard_t(df=3, size=101)
    c = _golden_section(lambda c: spec.reference(np.full_like(y, c), y, **kw), y.min(), y.max())
    assert c == pytest.approx(spec.constant_minimiser(y, spec.full_kwargs(kw)), abs=accuracy)


def test_multi_quantile_minimisers_are_the_column_quantiles():
    """A 1-D tau broadcasts along the last axis: column k is minimised at its tau_k-quantile."""
    taus = np.array([0.05, 0.33, 0.5, 0.71, 0.95])
    y = _rng("mq-min").normal(size=(203, 1)) * np.array([1.0, 2.0, 0.5, 3.0, 1.0])

    def column_losses(c):
        pred = np.broadcast_to(c, y.shape)
        return reference.quantile(pred, y, tau=taus, reduction="none").sum(axis=0)

    c = _golden_section(column_losses, y.min(axis=0), y.max(axis=0))
    expected = [np.quantile(y[:, k], taus[k], method="inverted_cdf") for k in range(5)]
    np.testing.assert_allclose(c, expected, **tolerance("minimiser_search"))


def test_quantile_half_is_half_mae():
    """Lecture: tau = 0.5 is median regression (equivalent to MAE)."""
    rng = _rng("q-half")
    pred, target = rng.normal(size=50), rng.normal(size=50)
    for reduction in REDUCTIONS:
        np.testing.assert_allclose(reference.quantile(pred, target, tau=0.5, reduction=reduction),
                                   0.5 * reference.mae(pred, target, reduction=reduction),
                                   **tolerance("float64_rounding"))


def test_lecture_regression_formulas():
    rng = _rng("regression-formulas")
    pred, target = rng.normal(size=200) * 3, rng.normal(size=200)
    d = pred - target
    # Lecture: gradient of MSE is -2 (y - y_hat); of MAE sign(y_hat - y); of log-cosh tanh.
    np.testing.assert_allclose(reference.mse_grad(pred, target, reduction="sum"),
                               -2 * (target - pred))
    np.testing.assert_array_equal(reference.mae_grad(pred, target, reduction="sum"), np.sign(d))
    np.testing.assert_allclose(reference.log_cosh_grad(pred, target, reduction="sum"), np.tanh(d))
    # Huber: quadratic inside delta, linear outside; PyTorch's smooth_l1(beta) = huber(beta)/beta.
    for delta in (0.3, 1.0, 2.5):
        h = reference.huber(pred, target, delta=delta, reduction="none")
        inside = np.abs(d) <= delta
        np.testing.assert_allclose(h[inside], 0.5 * d[inside] ** 2)
        np.testing.assert_allclose(h[~inside], delta * np.abs(d[~inside]) - 0.5 * delta ** 2)
        np.testing.assert_allclose(
            reference.smooth_l1(pred, target, beta=delta, reduction="none"), h / delta)
    np.testing.assert_array_equal(reference.smooth_l1(pred, target, beta=0.0, reduction="none"),
                                  np.abs(d))


@pytest.mark.parametrize("x", [1e-8, -1e-8, 1e-5, 1e-3, 3e-2, -0.2, 0.7, 0.999])
def test_log_cosh_is_quadratic_for_small_x(x):
    """Lecture: log cosh x ~ x^2 / 2.  Rigorously x^2/2 - x^4/12 <= log cosh x <= x^2/2 (from
    x - x^3/3 <= tanh x <= x); for |x| <= 0.03 the series x^2/2 - x^4/12 + x^6/45 is exact to
    1e-16 relative, which checks full accuracy (no cancellation)."""
    value = float(reference.log_cosh(np.array([x]), np.array([0.0]), reduction="sum"))
    ulp = 1 + 2**-51
    assert (x**2 / 2 - x**4 / 12) / ulp <= value <= x**2 / 2 * ulp
    if abs(x) <= 0.03:
        assert value == pytest.approx(x**2 / 2 - x**4 / 12 + x**6 / 45, rel=4e-16)
    else:
        assert value == pytest.approx(math.log(math.cosh(x)), rel=1e-13)
    if abs(x) == 1e-8:
        assert value == pytest.approx(5e-17, rel=1e-15)


@pytest.mark.parametrize("x", [1.0, 1.5, -4.0, 20.0, 400.0, 710.5, -1e4, 1e4, 1e300])
def test_log_cosh_is_linear_for_large_x(x):
    """Lecture: log cosh x ~ |x| - log 2; exactly |x| - log 2 + log1p(exp(-2|x|)); finite past the
    overflow of cosh (710)."""
    value = float(reference.log_cosh(np.array([x]), np.array([0.0]), reduction="sum"))
    assert np.isfinite(value)
    assert value == pytest.approx(abs(x) - math.log(2) + math.log1p(math.exp(-2 * abs(x))),
                                  rel=4e-16)


def test_log_cosh_matches_high_precision():
    mpmath = _optional("mpmath")
    mpmath.mp.dps = 50
    xs = np.concatenate([np.geomspace(1e-12, 30, 300), -np.geomspace(1e-3, 700, 50)])
    ours = reference.log_cosh(xs, np.zeros_like(xs), reduction="none")
    exact = np.array([float(mpmath.log(mpmath.cosh(mpmath.mpf(float(x))))) for x in xs])
    np.testing.assert_allclose(ours, exact, **tolerance("float64_exact"))


def test_bce_with_logits_gradient_is_sigmoid_minus_target():
    rng = _rng("bcewl-grad")
    x = rng.normal(size=(20, 3)) * 4
    y = np.concatenate([rng.random((10, 3)), (rng.random((10, 3)) < 0.5).astype(float)])
    grad = reference.binary_cross_entropy_with_logits_grad(x, y, reduction="sum")
    np.testing.assert_allclose(grad, 1.0 / (1.0 + np.exp(-x)) - y,
                               **tolerance("float64_gradient_identity"))


def test_bce_with_logits_is_the_lecture_stable_formula_and_bce_of_sigmoid():
    rng = _rng("bcewl-seed")
    x, y = rng.normal(size=100) * 5, rng.random(100)
    ours = reference.binary_cross_entropy_with_logits(x, y, reduction="none")
    np.testing.assert_allclose(ours, np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x))),
                               **tolerance("float64_identity"))
    p = 1.0 / (1.0 + np.exp(-x))
    np.testing.assert_allclose(reference.binary_cross_entropy(p, y, reduction="none"), ours,
                               **tolerance("float64_cancellation"))


def test_bce_with_logits_infinite_logits_give_the_limits():
    x = np.array([np.inf, -np.inf, np.inf, -np.inf, np.inf])
    y = np.array([1.0, 0.0, 0.0, 1.0, 0.5])
    pw = np.array([2.0, 2.0, 2.0, 2.0, 0.0])
    loss = reference.binary_cross_entropy_with_logits(x, y, pos_weight=pw, reduction="none")
    np.testing.assert_array_equal(loss, [0.0, 0.0, np.inf, np.inf, np.inf])
    grad = reference.binary_cross_entropy_with_logits_grad(x, y, pos_weight=pw, reduction="none")
    np.testing.assert_array_equal(grad, [0.0, 0.0, 1.0, -2.0, 0.5])


def test_cross_entropy_gradient_is_softmax_minus_onehot():
    rng = _rng("ce-grad")
    x = rng.normal(size=(7, 5)) * 3
    t = rng.integers(0, 5, size=7)
    grad = reference.cross_entropy_grad(x, t, reduction="sum")
    np.testing.assert_allclose(grad, _softmax(x) - np.eye(5)[t],
                               **tolerance("float64_gradient_identity"))
    # and the loss is the lecture's -log p_{t}
    np.testing.assert_allclose(reference.cross_entropy(x, t, reduction="none"),
                               -np.log(_softmax(x)[np.arange(7), t]),
                               **tolerance("float64_identity"))


def test_cross_entropy_of_probabilities_is_kl_plus_entropy():
    """Lecture: H(p, q) = D_KL(p || q) + H(p)."""
    rng = _rng("ce-kl")
    x = rng.normal(size=(6, 4))
    y = _softmax(rng.normal(size=(6, 4)))
    q = _softmax(x)
    kl = np.sum(y * np.log(y / q), axis=-1)
    entropy = -np.sum(y * np.log(y), axis=-1)
    np.testing.assert_allclose(reference.cross_entropy(x, y, reduction="none"), kl + entropy,
                               **tolerance("float64_identity"))


@pytest.mark.parametrize("class_weight", [None, np.array([0.5, 2.0, 1.0, 3.0, 0.2])])
@pytest.mark.parametrize("reduction", ["none", "sum"])
def test_label_smoothing_is_the_smoothed_one_hot(reduction, class_weight):
    """Lecture: y' = (1 - a) y + a / C; CE with index targets and label_smoothing=a equals CE with
    the smoothed one-hot as probability targets (mean differs by design: PyTorch normalises
    index targets by sum c[t] and probability targets by the number of rows)."""
    rng = _rng("ls", reduction, class_weight is None)
    x, t, a, C = rng.normal(size=(8, 5)) * 2, rng.integers(0, 5, size=8), 0.15, 5
    smoothed = (1 - a) * np.eye(C)[t] + a / C
    kw = {"class_weight": class_weight, "reduction": reduction}
    np.testing.assert_allclose(reference.cross_entropy(x, t, label_smoothing=a, **kw),
                               reference.cross_entropy(x, smoothed, **kw),
                               **tolerance("float64_identity"))
    np.testing.assert_allclose(reference.cross_entropy_grad(x, t, label_smoothing=a, **kw),
                               reference.cross_entropy_grad(x, smoothed, **kw),
                               **tolerance("float64_gradient_identity"))
    # smoothing of probability targets is the same formula
    y = _softmax(rng.normal(size=(8, 5)))
    np.testing.assert_allclose(reference.cross_entropy(x, y, label_smoothing=a, **kw),
                               reference.cross_entropy(x, (1 - a) * y + a / C, **kw),
                               **tolerance("float64_identity"))


def test_label_smoothing_mean_without_class_weight():
    rng = _rng("ls-mean")
    x, t = rng.normal(size=(8, 5)), rng.integers(0, 5, size=8)
    smoothed = 0.8 * np.eye(5)[t] + 0.2 / 5
    assert float(reference.cross_entropy(x, t, label_smoothing=0.2)) == pytest.approx(
        float(reference.cross_entropy(x, smoothed)), rel=1e-14)


@pytest.mark.parametrize("reduction", ["none", "sum"])
def test_softmax_focal_gamma0_is_weighted_cross_entropy(reduction):
    rng = _rng("focal-ce", reduction)
    x = rng.normal(size=(9, 4)) * 2
    t = rng.integers(0, 4, size=9)
    t[[2, 5]] = -100
    alpha = np.array([0.25, 1.0, 2.0, 0.5])
    for focal_alpha, ce_weight in [(alpha, alpha), (None, None)]:
        kw = {"reduction": reduction}
        np.testing.assert_allclose(
            reference.softmax_focal(x, t, alpha=focal_alpha, gamma=0.0, **kw),
            reference.cross_entropy(x, t, class_weight=ce_weight, **kw),
            **tolerance("float64_reordered"))
        np.testing.assert_allclose(
            reference.softmax_focal_grad(x, t, alpha=focal_alpha, gamma=0.0, **kw),
            reference.cross_entropy_grad(x, t, class_weight=ce_weight, **kw),
            **tolerance("float64_gradient_identity"))
    # mean too when unweighted: both divide by the number of kept rows
    assert float(reference.softmax_focal(x, t, gamma=0.0)) == pytest.approx(
        float(reference.cross_entropy(x, t)), rel=1e-14)


def test_softmax_focal_is_the_lecture_formula_and_down_weights_easy_examples():
    rng = _rng("focal-seed")
    x = rng.normal(size=(30, 3)) * 3
    t = rng.integers(0, 3, size=30)
    p_t = _softmax(x)[np.arange(30), t]
    for gamma in (0.5, 2.0, 5.0):
        ours = reference.softmax_focal(x, t, alpha=0.25, gamma=gamma, reduction="none")
        np.testing.assert_allclose(ours, -0.25 * (1 - p_t) ** gamma * np.log(p_t),
                                   **tolerance("float64_cancellation"))
        ce = reference.cross_entropy(x, t, reduction="none")
        ratio = ours / (0.25 * ce)  # = (1 - p_t)^gamma: small for easy, ~1 for hard examples
        np.testing.assert_allclose(ratio, (1 - p_t) ** gamma, **tolerance("float64_cancellation"))


def test_softmax_focal_is_accurate_for_confident_rows():
    """1 - p_t from the other probabilities: p_t = 1 - 1e-20 is not representable, but the loss
    (~ 1e-20 ** gamma * 1e-20) and the gradient are."""
    x = np.array([[0.0, -46.0517018598809, -46.0517018598809]])  # other probs 1e-20 each
    t = np.array([0])
    loss = float(reference.softmax_focal(x, t, gamma=1.0, reduction="sum"))
    assert loss == pytest.approx(2e-20 * 2e-20, rel=1e-9)
    grad = reference.softmax_focal_grad(x, t, gamma=0.0, reduction="sum")
    # the logits are -log(1e20) to 15 digits, so the probabilities are 1e-20 to ~1e-14
    np.testing.assert_allclose(grad, [[-2e-20, 1e-20, 1e-20]], **tolerance("float64_identity"))
    ce_grad = reference.cross_entropy_grad(x, t, reduction="sum")
    np.testing.assert_allclose(ce_grad, [[-2e-20, 1e-20, 1e-20]],
                               **tolerance("float64_identity"))


@pytest.mark.parametrize("q", [0.03, 0.2, 0.5, 0.77, 0.99])
def test_bce_is_a_proper_scoring_rule(q):
    """E_{Y ~ Bernoulli(q)} BCE(p, Y) is minimised at p = q, and E[BCE(p, Y)] = BCE(p, q)."""
    targets = np.array([1.0, 0.0])
    weights = np.array([q, 1.0 - q])

    def expected(p):
        return np.array([float(reference.binary_cross_entropy(
            np.full(2, pi), targets, sample_weight=weights, reduction="sum"))
            for pi in np.ravel(p)]).reshape(np.shape(p))

    p_star = _golden_section(expected, 1e-6, 1 - 1e-6, tol=1e-11)
    assert float(p_star) == pytest.approx(q, abs=1e-7)
    grid = np.linspace(0.01, 0.99, 99)
    np.testing.assert_allclose(expected(grid),
                               reference.binary_cross_entropy(grid, np.full(99, q),
                                                              reduction="none"),
                               **tolerance("float64_reordered"))
    assert np.all(expected(grid) >= expected(q) - 1e-15)
    # also through the logits: minimised at sigmoid(x) = q
    x_star = _golden_section(
        lambda x: float(reference.binary_cross_entropy_with_logits(
            np.full(2, x), targets, sample_weight=weights, reduction="sum")),
        -20.0, 20.0, tol=1e-10)
    assert 1 / (1 + math.exp(-float(x_star))) == pytest.approx(q, abs=1e-7)


def test_hinge_formulas_and_labels():
    rng = _rng("hinge")
    f = rng.normal(size=40) * 2
    y = np.where(rng.random(40) < 0.5, -1.0, 1.0)
    h = reference.hinge(f, y, reduction="none")
    np.testing.assert_array_equal(h, np.maximum(0, 1 - y * f))
    np.testing.assert_allclose(reference.squared_hinge(f, y, reduction="none"), h ** 2)
    zero_one = np.where(y < 0, 0, 1)  # integer {0, 1} labels: 0 means -1
    np.testing.assert_array_equal(reference.hinge(f, zero_one, reduction="none"), h)
    np.testing.assert_array_equal(reference.hinge_grad(f, zero_one, reduction="sum"),
                                  np.where(1 - y * f > 0, -y, 0.0))
    assert float(reference.hinge(np.array([2.0, -3.0]), np.array([1, -1]))) == 0.0  # sparse


def test_multiclass_hinge_is_the_lecture_one_vs_all_formula():
    rng = _rng("mc-hinge")
    x = rng.normal(size=(12, 5))
    t = rng.integers(0, 5, size=12)
    expected_ww = [sum(max(0.0, x[i, j] - x[i, t[i]] + 1) for j in range(5) if j != t[i])
                   for i in range(12)]
    expected_cs = [max(max(0.0, x[i, j] - x[i, t[i]] + 1) for j in range(5) if j != t[i])
                   for i in range(12)]
    np.testing.assert_allclose(reference.multiclass_hinge(x, t, reduction="none"), expected_ww)
    np.testing.assert_allclose(
        reference.multiclass_hinge(x, t, kind="crammer_singer", reduction="none"), expected_cs)
    np.testing.assert_allclose(
        reference.multiclass_hinge(x, t, squared=True, reduction="none"),
        [sum(max(0.0, x[i, j] - x[i, t[i]] + 1) ** 2 for j in range(5) if j != t[i])
         for i in range(12)])


def test_crammer_singer_gradient_goes_to_the_first_argmax():
    x = np.array([[0.0, 0.5, 0.5, -3.0]])
    grad = reference.multiclass_hinge_grad(x, np.array([0]), kind="crammer_singer",
                                           reduction="sum")
    np.testing.assert_array_equal(grad, [[-1.0, 1.0, 0.0, 0.0]])
    # and a row with no active margin has no gradient
    grad = reference.multiclass_hinge_grad(np.array([[5.0, 0.0, 1.0]]), np.array([0]),
                                           kind="crammer_singer", reduction="sum")
    np.testing.assert_array_equal(grad, np.zeros((1, 3)))


def test_sigmoid_focal_gamma0_alpha_none_is_bce_with_logits():
    rng = _rng("sfocal")
    x, y = rng.normal(size=(5, 4)) * 3, rng.random((5, 4))
    for reduction in REDUCTIONS:
        np.testing.assert_allclose(
            reference.sigmoid_focal(x, y, alpha=None, gamma=0.0, reduction=reduction),
            reference.binary_cross_entropy_with_logits(x, y, reduction=reduction),
            **tolerance("float64_rounding"))
        np.testing.assert_allclose(
            reference.sigmoid_focal_grad(x, y, alpha=None, gamma=0.0, reduction=reduction),
            reference.binary_cross_entropy_with_logits_grad(x, y, reduction=reduction),
            **tolerance("float64_rounding"))


def test_sigmoid_focal_infinite_logits():
    x = np.array([np.inf, -np.inf, np.inf, -np.inf])
    y = np.array([1.0, 0.0, 0.0, 1.0])
    loss = reference.sigmoid_focal(x, y, reduction="none")
    np.testing.assert_array_equal(loss, [0.0, 0.0, np.inf, np.inf])
    grad = reference.sigmoid_focal_grad(x, y, reduction="none")
    np.testing.assert_array_equal(grad, [0.0, 0.0, 0.75, -0.25])


# =============================================================================================
# The API contract
# =============================================================================================

def _contract_cases():
    rng = _rng("contract")
    x, t = rng.normal(size=(6, 4)), rng.integers(0, 4, size=6)
    t_ign = t.copy()
    t_ign[1] = -100
    pred, target = rng.normal(size=(6, 4)), rng.normal(size=(6, 4))
    p = rng.uniform(0.05, 0.95, size=(6, 4))
    y01 = (rng.random((6, 4)) < 0.5).astype(float)
    probs = _softmax(rng.normal(size=(6, 4)))
    cw = np.array([0.5, 2.0, 1.0, 3.0])
    return [
        ("mse", (pred, target), {}), ("mae", (pred, target), {}),
        ("huber", (pred, target), {"delta": 0.7}), ("smooth_l1", (pred, target), {"beta": 0.4}),
        ("quantile", (pred, target), {"tau": np.array([0.1, 0.4, 0.6, 0.9])}),
        ("log_cosh", (pred, target), {}),
        ("binary_cross_entropy", (p, y01), {}),
        ("binary_cross_entropy_with_logits", (pred, y01), {"pos_weight": np.arange(1.0, 5.0)}),
        ("hinge", (pred, 2 * y01 - 1), {}), ("squared_hinge", (pred, y01), {}),
        ("sigmoid_focal", (pred, y01), {}), ("soft_margin", (pred, 2 * y01 - 1), {}),
        ("poisson_nll", (pred, 3 * p), {"full": True}),
        ("kl_div", (np.log(probs), _softmax(pred)), {}),
        ("gaussian_nll", (pred, target, p), {"full": True}),
        ("cross_entropy", (x, t_ign), {"class_weight": cw, "label_smoothing": 0.1}),
        ("cross_entropy", (x, probs), {"class_weight": cw}),
        ("multiclass_hinge", (x, t), {"class_weight": cw}),
        ("structured_hinge", (x, t), {"cost": np.abs(target), "rescaling": "slack"}),
        ("softmax_focal", (x, t_ign), {"alpha": cw}),
        ("nll", (x, t_ign), {"class_weight": cw}),
        ("multilabel_soft_margin", (pred, y01), {"class_weight": cw}),
        ("multilabel_margin", (x, np.where(y01 > 0, t[:, None], -1)), {}),
        ("kl_divergence", (x, pred), {"temperature": 1.5}),
        ("js_divergence", (x, pred), {"beta": 0.3}),
        ("distillation", (x, pred, t_ign), {"temperature": 3.0}),
        ("distillation", (x, pred), {"t2_scale": False}),
        ("margin_ranking", (pred, target, 2 * y01 - 1), {"margin": 0.3}),
        ("hinge_embedding", (np.abs(pred), 2 * y01 - 1), {"margin": 0.8}),
        ("gan_generator", (pred,), {}), ("gan_generator", (pred,), {"kind": "minimax"}),
        ("gan_generator", (pred,), {"kind": "least_squares"}),
        ("contrastive", (pred, target, t % 2), {"margin": 2.0}),
        ("cosine_embedding", (pred, target, 2 * (t % 2) - 1), {"margin": 0.1}),
        ("info_nce", (pred, target), {"temperature": 0.3, "symmetric": True}),
        ("center", (pred, t, target[:4]), {}),
        ("triplet", (pred, target, x), {"p": 1.5, "swap": True}),
        # the mask's last list is all padding: not counted in the mean
        ("listnet", (pred, np.round(3 * p)), {"mask": np.repeat(np.arange(6)[:, None] < 5, 4, axis=1)}),
        ("listmle", (pred, np.round(3 * p)), {"mask": (y01 > 0) | (np.arange(4) == 0)}),
    ]


CONTRACT = _contract_cases()
CONTRACT_IDS = [f"{c[0]}-{i}" for i, c in enumerate(CONTRACT)]


# Every registered loss has a contract case, but those of kind "pair" (the GAN discriminator:
# its "none" is a pair of arrays and it takes no sample_weight; tests/test_gan.py checks its
# reductions against the reference's terms).
PAIR = {n for n, s in REGISTRY.items() if s.kind == "pair"}
assert {c[0] for c in CONTRACT} == set(REGISTRY) - PAIR, \
    sorted((set(REGISTRY) - PAIR) ^ {c[0] for c in CONTRACT})


@pytest.mark.parametrize("case", CONTRACT, ids=CONTRACT_IDS)
def test_reductions_and_sample_weight(case):
    name, arrays, kw = case
    fn = getattr(reference, name)
    none = fn(*arrays, reduction="none", **kw)
    assert isinstance(none, np.ndarray) and none.dtype == np.float64
    for reduction in ("mean", "sum"):
        out = fn(*arrays, reduction=reduction, **kw)
        assert isinstance(out, np.ndarray) and out.shape == () and out.dtype == np.float64
    assert fn(*arrays, **kw) == fn(*arrays, reduction="mean", **kw)  # the default
    n = REGISTRY[name].mean_normaliser(arrays, kw)
    reordered = tolerance("float64_reordered")
    np.testing.assert_allclose(fn(*arrays, reduction="sum", **kw), none.sum(), **reordered)
    np.testing.assert_allclose(fn(*arrays, reduction="mean", **kw), none.sum() / n.sum(),
                               **reordered)
    w = _rng("w", name).uniform(0.1, 2.0, size=none.shape)
    np.testing.assert_allclose(fn(*arrays, reduction="none", sample_weight=w, **kw), w * none,
                               **tolerance("float64_rounding"))
    np.testing.assert_allclose(fn(*arrays, reduction="mean", sample_weight=w, **kw),
                               (w * none).sum() / (w * n).sum(), **reordered)
    w_row = w[0]  # broadcast along the leading axis
    np.testing.assert_allclose(fn(*arrays, reduction="mean", sample_weight=w_row, **kw),
                               (w_row * none).sum() / (w_row * n).sum(), **reordered)
    for reduction in REDUCTIONS:
        np.testing.assert_array_equal(
            fn(*arrays, reduction=reduction, sample_weight=np.ones(none.shape), **kw),
            fn(*arrays, reduction=reduction, **kw))


@pytest.mark.parametrize("case", CONTRACT, ids=CONTRACT_IDS)
def test_inputs_are_not_modified(case):
    name, arrays, kw = case
    frozen = []
    for a in arrays:
        a = np.array(a)
        a.setflags(write=False)  # any in-place write raises
        frozen.append(a)
    copies = [a.copy() for a in frozen]
    w = np.ones(getattr(reference, name)(*frozen, reduction="none", **kw).shape)
    w.setflags(write=False)
    for reduction in REDUCTIONS:
        getattr(reference, name)(*frozen, reduction=reduction, sample_weight=w, **kw)
        getattr(reference, name + "_grad")(*frozen, reduction=reduction, sample_weight=w, **kw)
    for a, c in zip(frozen, copies):
        np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize("case", CONTRACT, ids=CONTRACT_IDS)
def test_lists_and_other_dtypes_are_converted(case):
    name, arrays, kw = case
    as_lists = [np.asarray(a).tolist() for a in arrays]
    as_f32 = [a.astype(np.float32) if a.dtype.kind == "f" else a for a in map(np.asarray, arrays)]
    fn, grad = getattr(reference, name), getattr(reference, name + "_grad")
    np.testing.assert_array_equal(fn(*as_lists, reduction="none", **kw),
                                  fn(*arrays, reduction="none", **kw))
    g = grad(*as_f32, reduction="sum", **kw)
    assert g.dtype == np.float64 and g.shape == np.shape(arrays[0])


POINTWISE = sorted(name for name, spec in REGISTRY.items() if spec.kind == "pointwise")
ROWS = sorted(name for name, spec in REGISTRY.items() if spec.kind == "row")
PER_CLASS_TARGET = per_class_target_losses()


@pytest.mark.parametrize("name", POINTWISE)
def test_empty_elementwise_inputs(name):
    fn, grad = getattr(reference, name), getattr(reference, name + "_grad")
    e = np.zeros((0, 3))
    arrays = (e,) * len(REGISTRY[name].arrays)  # (gaussian_nll's var: a third)
    assert np.isnan(fn(*arrays))
    assert fn(*arrays, reduction="sum") == 0.0
    assert fn(*arrays, reduction="none").shape == (0, 3)
    for reduction in REDUCTIONS:
        assert grad(*arrays, reduction=reduction).shape == (0, 3)


# The row losses of (logits, class indices); the divergences' own cases (two logits arrays) are
# in tests/test_divergence.py, the listwise ranking losses' (scores, relevance, mask) in
# tests/test_listwise.py.
INDEX_ROWS = [name for name in ROWS if REGISTRY[name].family not in ("divergence", "ranking")]


@pytest.mark.parametrize("name", INDEX_ROWS)
def test_empty_and_all_ignored_rows(name):
    fn, grad = getattr(reference, name), getattr(reference, name + "_grad")
    x, t = np.zeros((0, 4)), np.zeros(0, dtype=np.int64)
    if name in PER_CLASS_TARGET:  # a target of the logits' shape
        t = make_inputs(REGISTRY[name], {}, _rng("empty"), (0, 4), np.float64)[0][1]
    assert np.isnan(fn(x, t)) and fn(x, t, reduction="sum") == 0.0
    assert grad(x, t).shape == (0, 4)
    if REGISTRY[name].mean_count == "elements":  # no ignore_index
        return
    x, t = _rng("ign").normal(size=(3, 4)), np.full(3, -100)
    assert np.isnan(fn(x, t)) and fn(x, t, reduction="sum") == 0.0
    np.testing.assert_array_equal(fn(x, t, reduction="none"), np.zeros(3))
    for reduction in REDUCTIONS:
        np.testing.assert_array_equal(grad(x, t, reduction=reduction), np.zeros((3, 4)))


@pytest.mark.parametrize("name", INDEX_ROWS)
@pytest.mark.parametrize("axis", [0, 1, -2])
def test_axis_equals_moveaxis(name, axis):
    rng = _rng("axis", name, axis)
    x = rng.normal(size=(3, 4, 5))  # classes last: (3, 4, 5)
    t = rng.integers(0, 5, size=(3, 4))
    kw = {"class_weight": np.arange(1.0, 6.0)} if name != "softmax_focal" else {"alpha": 0.5}
    if "class_weight" not in inspect.signature(getattr(reference, name)).parameters:
        kw = {}
    t_moved = t
    if name in PER_CLASS_TARGET:  # a target of the logits' shape moves with them
        t = make_inputs(REGISTRY[name], {}, rng, x.shape, np.float64)[0][1]
        t_moved = np.moveaxis(t, -1, axis)
    moved = np.moveaxis(x, -1, axis)
    for reduction in REDUCTIONS:
        np.testing.assert_array_equal(
            getattr(reference, name)(moved, t_moved, axis=axis, reduction=reduction, **kw),
            getattr(reference, name)(x, t, reduction=reduction, **kw))
        np.testing.assert_array_equal(
            getattr(reference, name + "_grad")(moved, t_moved, axis=axis, reduction=reduction,
                                               **kw),
            np.moveaxis(getattr(reference, name + "_grad")(x, t, reduction=reduction, **kw),
                        -1, axis))
    if name == "cross_entropy":  # probability targets move with the logits
        y = _softmax(rng.normal(size=(3, 4, 5)))
        np.testing.assert_array_equal(
            reference.cross_entropy(moved, np.moveaxis(y, -1, axis), axis=axis,
                                    reduction="none"),
            reference.cross_entropy(x, y, reduction="none"))


def test_cross_entropy_ignore_index_drops_rows():
    """Masked call == call on the kept rows (mean, sum and the kept rows' gradient)."""
    rng = _rng("ce-mask")
    x, t = rng.normal(size=(7, 4)), rng.integers(0, 4, size=7)
    t[[0, 3]] = 9
    keep = t != 9
    kw = {"class_weight": np.array([0.5, 2.0, 1.0, 3.0]), "label_smoothing": 0.3,
          "ignore_index": 9}
    for reduction in ("mean", "sum"):
        sub = dict(kw, ignore_index=-100)
        np.testing.assert_allclose(reference.cross_entropy(x, t, reduction=reduction, **kw),
                                   reference.cross_entropy(x[keep], t[keep], reduction=reduction,
                                                           **sub),
                                   **tolerance("float64_reordered"))
        g = reference.cross_entropy_grad(x, t, reduction=reduction, **kw)
        np.testing.assert_allclose(g[keep], reference.cross_entropy_grad(
            x[keep], t[keep], reduction=reduction, **sub), **tolerance("float64_reordered"))
        np.testing.assert_array_equal(g[~keep], 0.0)


ERRORS = [
    ("huber", lambda: reference.huber([1.0], [2.0], delta=-1.0),
     "[fastloss.huber] delta must be > 0, got -1.0"),
    ("huber", lambda: reference.huber_grad([1.0], [2.0], delta=0.0), "delta"),
    ("smooth_l1", lambda: reference.smooth_l1([1.0], [2.0], beta=-0.5), "beta"),
    ("quantile", lambda: reference.quantile([1.0], [2.0], tau=1.0), "tau"),
    ("quantile", lambda: reference.quantile([[1.0, 2.0]], [[2.0, 1.0]], tau=[0.1, 0.2, 0.3]),
     "tau"),
    ("quantile", lambda: reference.quantile([[1.0, 2.0]], [[2.0, 1.0]], tau=[0.1, 1.2]), "1.2"),
    ("mse", lambda: reference.mse([1.0], [2.0], reduction="avg"), "reduction"),
    ("mse", lambda: reference.mse_grad([1.0], [2.0], reduction="batchmean"), "batchmean"),
    ("mae", lambda: reference.mae([1.0, 2.0], [2.0, 3.0, 4.0]), "shape"),
    ("log_cosh", lambda: reference.log_cosh([1.0, 2.0], [2.0, 3.0], sample_weight=[1, 2, 3]),
     "sample_weight"),
    ("binary_cross_entropy", lambda: reference.binary_cross_entropy([1.5], [1.0]), "1.5"),
    ("binary_cross_entropy", lambda: reference.binary_cross_entropy_grad([-0.1], [1.0]),
     "prob"),
    ("hinge", lambda: reference.hinge([1.0, 2.0], [1.0, 2.0]), "2.0"),
    ("squared_hinge", lambda: reference.squared_hinge([1.0], [0.5]), "0.5"),
    ("sigmoid_focal", lambda: reference.sigmoid_focal([1.0], [1.0], alpha=1.5), "alpha"),
    ("sigmoid_focal", lambda: reference.sigmoid_focal([1.0], [1.0], gamma=-1.0), "gamma"),
    ("soft_margin", lambda: reference.soft_margin([1.0, 2.0], [1.0]), "input and target"),
    ("poisson_nll", lambda: reference.poisson_nll([1.0], [1.0], eps=0.0), "eps"),
    ("poisson_nll", lambda: reference.poisson_nll([1.0], [1.0], full=1), "full"),
    ("kl_div", lambda: reference.kl_div([1.0], [1.0], log_target=1), "log_target"),
    ("gaussian_nll", lambda: reference.gaussian_nll([1.0], [1.0], [-1.0]), "var"),
    ("gaussian_nll", lambda: reference.gaussian_nll(np.zeros((2, 3)), np.zeros((2, 3)),
                                                    np.ones(3)), "var of shape"),
    ("cross_entropy", lambda: reference.cross_entropy(np.zeros((2, 10)), [3, 12]),
     "[fastloss.cross_entropy] label 12 out of range [0, 10)"),
    ("cross_entropy", lambda: reference.cross_entropy(np.zeros((2, 3)), [0, -1]), "label -1"),
    ("cross_entropy", lambda: reference.cross_entropy(np.zeros((2, 3)), [0, 1],
                                                      label_smoothing=1.5), "label_smoothing"),
    ("cross_entropy", lambda: reference.cross_entropy(np.zeros((2, 3)), [0, 1],
                                                      class_weight=[1.0, 2.0]), "class_weight"),
    ("cross_entropy", lambda: reference.cross_entropy(np.zeros((2, 3)), [0, 1], axis=2), "axis"),
    ("multiclass_hinge", lambda: reference.multiclass_hinge(np.zeros((2, 3)), [0, 3]),
     "label 3"),
    ("multiclass_hinge", lambda: reference.multiclass_hinge(np.zeros((2, 3)), [0, -100]),
     "label -100"),
    ("multiclass_hinge", lambda: reference.multiclass_hinge(np.zeros((2, 3)), [0, 1],
                                                            kind="ovr"), "kind"),
    ("softmax_focal", lambda: reference.softmax_focal(np.zeros((2, 3)), [0, 1], gamma=-2),
     "gamma"),
    ("structured_hinge", lambda: reference.structured_hinge(np.zeros((2, 3)), [0, 1],
                                                            cost=-np.ones((3, 3))), ">= 0"),
    ("structured_hinge", lambda: reference.structured_hinge(np.zeros((3, 3)), [0, 1, 2],
                                                            cost=np.ones((3, 3))), "ambiguous"),
    ("structured_hinge", lambda: reference.structured_hinge(np.zeros((2, 3)), [0, 1],
                                                            rescaling="both"), "rescaling"),
    ("softmax_focal", lambda: reference.softmax_focal_grad(np.zeros((2, 3)), [5, 1]), "label 5"),
    ("binary_cross_entropy_with_logits",
     lambda: reference.binary_cross_entropy_with_logits([1.0], [1.0], pos_weight=[1.0, 2.0]),
     "pos_weight"),
    ("nll", lambda: reference.nll(np.zeros((2, 3)), [0, 3]),
     "[fastloss.nll] label 3 out of range [0, 3)"),
    ("nll", lambda: reference.nll_grad(np.zeros((2, 3)), [0, 1], argnums=1), "target"),
    ("multilabel_soft_margin",
     lambda: reference.multilabel_soft_margin(np.zeros((2, 3)), np.zeros((2, 2))), "target"),
    ("multilabel_margin", lambda: reference.multilabel_margin(np.zeros((2, 3)), [[0, -1, 3],
                                                                               [0, 1, 2]]),
     "[fastloss.multilabel_margin] target label 3 out of range [-1, 3)"),
    ("multilabel_margin", lambda: reference.multilabel_margin(np.zeros((2, 3)), [[0, -2, -1],
                                                                               [0, 1, 2]]),
     "label -2"),
    ("mse", lambda: reference.mse_grad([1.0], [2.0], argnums=2), "argnums 2"),
    ("hinge", lambda: reference.hinge_grad([1.0], [1.0], argnums=1), "target"),
    ("kl_divergence", lambda: reference.kl_divergence(np.zeros((2, 3)), np.zeros((2, 2))),
     "q_logits"),
    ("kl_divergence", lambda: reference.kl_divergence(np.zeros((2, 3)), np.zeros((2, 3)),
                                                      temperature=0.0), "temperature"),
    ("js_divergence", lambda: reference.js_divergence(np.zeros((2, 3)), np.zeros((2, 3)),
                                                      beta=-0.1), "beta"),
    ("distillation", lambda: reference.distillation(np.zeros((2, 3)), np.zeros((2, 3)),
                                                    [0, 3]), "label 3"),
    ("distillation", lambda: reference.distillation(np.zeros((2, 3)), np.zeros((2, 3)),
                                                    alpha=-1.0), "alpha"),
    ("distillation", lambda: reference.distillation_grad(np.zeros((2, 3)), np.zeros((2, 3)),
                                                         [0, 1], argnums=2), "labels"),
    ("hinge_embedding", lambda: reference.hinge_embedding([1.0], [1.0], margin=np.inf),
     "[fastloss.hinge_embedding] margin must be finite, got inf"),
    ("hinge_embedding", lambda: reference.hinge_embedding_grad([1.0], [1.0], argnums=1),
     "target (argnums 1) is not differentiable"),
    ("margin_ranking", lambda: reference.margin_ranking([1.0], [2.0], [1.0], margin=-0.5),
     "[fastloss.margin_ranking] margin must be finite and >= 0, got -0.5"),
    ("margin_ranking", lambda: reference.margin_ranking([1.0, 2.0], [2.0], [1.0]),
     "x1 and target"),
    ("margin_ranking", lambda: reference.margin_ranking([1.0, 2.0], [2.0, 1.0], [1.0, 1.0, 1.0]),
     "y of shape (3,)"),
    ("margin_ranking", lambda: reference.margin_ranking_grad([1.0], [2.0], [1.0], argnums=2),
     "y (argnums 2) is not differentiable"),
    ("gan_discriminator", lambda: reference.gan_discriminator([1.0], [0.0], real_label=1.5),
     "real_label must be in (0, 1], got 1.5"),
    ("gan_discriminator", lambda: reference.gan_discriminator_grad([1.0], [0.0], argnums=2),
     "argnums 2"),
    ("gan_discriminator", lambda: reference.gan_discriminator_grad(
        [1.0], [0.0], reduction="none", grad_output=[1.0]), "grad_output"),
    ("gan_generator", lambda: reference.gan_generator([1.0], kind="ns"), "kind"),
    ("gan_generator", lambda: reference.gan_generator([1.0], reduction="avg"), "reduction"),
    ("cosine_embedding", lambda: reference.cosine_embedding(np.ones((2, 3)), np.ones((2, 3)),
                                                            [1, 0]), "target must hold 1"),
    ("cosine_embedding", lambda: reference.cosine_embedding(np.ones((2, 3)), np.ones((2, 3)),
                                                            [1, -1], margin=np.nan), "margin"),
    ("cosine_embedding", lambda: reference.cosine_embedding_grad(
        np.ones((2, 3)), np.ones((2, 3)), [1, -1], argnums=2), "target"),
    ("info_nce", lambda: reference.info_nce(np.ones((2, 3)), np.ones((2, 3)), temperature=0),
     "temperature"),
    ("info_nce", lambda: reference.info_nce(np.ones(3), np.ones(3)), "(N, D)"),
    ("center", lambda: reference.center(np.ones((2, 3)), [0, 4], np.ones((4, 3))),
     "[fastloss.center] label 4 out of range [0, 4)"),
    ("center", lambda: reference.center(np.ones((2, 3)), [0, 1], np.ones((4, 2))), "centers"),
    ("center", lambda: reference.center_grad(np.ones((2, 3)), [0, 1], np.ones((4, 3)),
                                             argnums=1), "labels (argnums 1)"),
    ("info_nce", lambda: reference.info_nce_grad(np.ones((2, 3)), np.ones((2, 2)), argnums=1),
     "key must have the shape"),
    ("contrastive", lambda: reference.contrastive(np.zeros((2, 3)), np.zeros((2, 2)), [0, 1]),
     "x2 must have the shape"),
    ("contrastive", lambda: reference.contrastive(np.zeros((2, 3)), np.zeros((2, 3)), [0, 2]),
     "similar must hold 0"),
    ("contrastive", lambda: reference.contrastive(np.zeros((2, 3)), np.zeros((2, 3)), [0, 1],
                                                  margin=-1.0), "margin"),
    ("contrastive", lambda: reference.contrastive_grad(np.zeros((2, 3)), np.zeros((2, 3)),
                                                       [0, 1], argnums=2), "similar"),
    ("triplet", lambda: reference.triplet(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 2))),
     "negative must have the shape"),
    ("triplet", lambda: reference.triplet(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 3)),
                                          p=0.5), "p must be"),
    ("triplet", lambda: reference.triplet(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 3)),
                                          swap=1), "swap"),
    ("listnet", lambda: reference.listnet(np.zeros((2, 3)), np.zeros((2, 2))),
     "relevance must have the scores' shape"),
    ("listnet", lambda: reference.listnet_grad(np.zeros((2, 3)), np.zeros((2, 3)), argnums=1),
     "relevance"),
    ("listmle", lambda: reference.listmle(np.zeros((2, 3)), np.zeros((2, 3)),
                                          mask=np.ones((2, 3))), "mask must be a boolean"),
]
# Every registered loss has an error case (none is excluded).
assert {e[0] for e in ERRORS} == set(REGISTRY), sorted(set(REGISTRY) ^ {e[0] for e in ERRORS})


@pytest.mark.parametrize("name,call,fragment", ERRORS,
                         ids=[f"{e[0]}-{i}" for i, e in enumerate(ERRORS)])
def test_errors_name_the_function_and_the_value(name, call, fragment):
    with pytest.raises(ValueError) as info:
        call()
    message = str(info.value)
    assert message.startswith(f"[fastloss.{name}] ")
    assert fragment in message


def test_bce_accepts_the_closed_interval_and_clamps_like_torch():
    p = np.array([0.0, 1.0, 0.0, 1.0])
    y = np.array([1.0, 0.0, 0.0, 1.0])
    np.testing.assert_array_equal(reference.binary_cross_entropy(p, y, reduction="none"),
                                  [100.0, 100.0, 0.0, 0.0])
    np.testing.assert_array_equal(reference.binary_cross_entropy_grad(p, y, reduction="none"),
                                  [-1e12, 1e12, 0.0, 0.0])
    with pytest.raises(ValueError, match=r"^\[fastloss\.binary_cross_entropy\] prob"):
        reference.binary_cross_entropy([np.nan], [1.0])


# =============================================================================================
# (b) Agreement with PyTorch (skipped without torch)
# =============================================================================================

@pytest.fixture(scope="module")
def torch():
    return _optional("torch")


def _torch_value_and_grad(torch, fn, first, reduction, grad_output):
    """fn(tensor) evaluated with autograd: (value, d sum(grad_output * value) / d first)."""
    x = torch.tensor(np.asarray(first, dtype=np.float64), requires_grad=True)
    out = fn(x)
    out.backward(torch.as_tensor(np.asarray(grad_output, dtype=np.float64)))
    return out.detach().numpy(), x.grad.numpy()


def _grad_output(rng, reduction, shape):
    return rng.uniform(-2.0, 2.0, size=shape) if reduction == "none" else np.float64(-0.7)


def _compare(torch, ours_name, first, rest, kw, torch_fn, reduction, rng, scale=1.0,
             tol="torch_float64"):
    """ours == scale * torch, for the value and the gradient, within TOLERANCE[tol]."""
    fn, grad = getattr(reference, ours_name), getattr(reference, ours_name + "_grad")
    value = fn(first, *rest, reduction=reduction, **kw)
    g_out = _grad_output(rng, reduction, value.shape)
    t_value, t_grad = _torch_value_and_grad(torch, lambda x: torch_fn(x, reduction), first,
                                            reduction, g_out)
    np.testing.assert_allclose(value, scale * t_value, **tolerance(tol))
    np.testing.assert_allclose(grad(first, *rest, grad_output=g_out, reduction=reduction, **kw),
                               scale * t_grad, **tolerance(tol))


def _regression_inputs(rng, kink):
    """Random differences plus exact zeros and exact +-kink differences (subgradient rules)."""
    pred = rng.normal(size=(4, 6))
    target = pred + rng.normal(size=(4, 6)) * 2
    target[0, :2] = pred[0, :2]
    target[1, :2] = [0.25 + kink, 0.25 - kink]
    pred[1, :2] = 0.25
    return pred, target


TORCH_REGRESSION = [
    ("mse", "mse_loss", {}, 1.0),
    ("mae", "l1_loss", {}, 1.0),
    ("huber", "huber_loss", {}, 1.0),
    ("huber", "huber_loss", {"delta": 0.5}, 0.5),
    ("huber", "huber_loss", {"delta": 2.0}, 2.0),
    ("smooth_l1", "smooth_l1_loss", {}, 1.0),
    ("smooth_l1", "smooth_l1_loss", {"beta": 0.25}, 0.25),
    ("smooth_l1", "smooth_l1_loss", {"beta": 0.0}, 1.0),
]
# Every regression loss with a PyTorch builtin: quantile and log_cosh have none (their formulas
# are checked against the lecture above); classification losses are compared further below.
NO_TORCH_BUILTIN = {"quantile", "log_cosh"}
assert {c[0] for c in TORCH_REGRESSION} | NO_TORCH_BUILTIN == {
    name for name, spec in REGISTRY.items() if spec.family == "regression"}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("ours,theirs,kw,kink", TORCH_REGRESSION)
def test_regression_matches_torch(torch, ours, theirs, kw, kink, reduction):
    rng = _rng("torch-reg", ours, theirs, kw, reduction)
    pred, target = _regression_inputs(rng, kink)
    torch_fn = getattr(torch.nn.functional, theirs)
    tt = torch.tensor(target)
    _compare(torch, ours, pred, (target,), kw,
             lambda x, r: torch_fn(x, tt, reduction=r, **kw), reduction, rng)


def test_weighted_mean_matches_torch_none(torch):
    rng = _rng("torch-weighted")
    pred, target = _regression_inputs(rng, 1.0)
    w = rng.uniform(0.1, 2.0, size=(6,))
    t_none = torch.nn.functional.huber_loss(torch.tensor(pred), torch.tensor(target),
                                            reduction="none", delta=0.7).numpy()
    w_full = np.broadcast_to(w, t_none.shape)
    np.testing.assert_allclose(reference.huber(pred, target, delta=0.7, sample_weight=w),
                               (w_full * t_none).sum() / w_full.sum(),
                               **tolerance("float64_identity"))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_matches_torch(torch, reduction):
    rng = _rng("torch-bce", reduction)
    p = rng.uniform(0.0, 1.0, size=(5, 4))
    p[0] = [1e-6, 1.0 - 1e-6, 0.5, 0.3]  # clamped points: see the next test
    y = rng.random((5, 4))
    y[0] = [1.0, 0.0, 1.0, 0.0]
    y[1] = (y[1] < 0.5)
    tt = torch.tensor(y)
    _compare(torch, "binary_cross_entropy", p, (y,), {},
             lambda x, r: torch.nn.functional.binary_cross_entropy(x, tt, reduction=r),
             reduction, rng)


def test_binary_cross_entropy_gradient_floor_vs_torch(torch):
    """Where p (1 - p) < 1e-12 PyTorch divides by float32(1e-12) = 9.99999996e-13, not by the
    double 1e-12 of the contract: a relative difference of 4e-9, only at those points."""
    p = np.array([0.0, 1.0, 1e-50, 1.0 - 2**-53, 1e-13])
    y = np.array([1.0, 0.0, 1.0, 0.0, 0.0])
    x = torch.tensor(p, requires_grad=True)
    value = torch.nn.functional.binary_cross_entropy(x, torch.tensor(y), reduction="none")
    np.testing.assert_allclose(reference.binary_cross_entropy(p, y, reduction="none"),
                               value.detach().numpy(),
                               **tolerance("float64_rounding"))  # the -100 log clamp
    value.sum().backward()
    ours = reference.binary_cross_entropy_grad(p, y, reduction="sum")
    rounding = tolerance("float64_rounding")
    np.testing.assert_allclose(ours, (p - y) / 1e-12, **rounding)
    np.testing.assert_allclose(x.grad.numpy(), (p - y) / float(np.float32(1e-12)), **rounding)
    np.testing.assert_allclose(ours, x.grad.numpy(), **tolerance("torch_bce_gradient_floor"))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("pos_weight", [False, True])
def test_binary_cross_entropy_with_logits_matches_torch(torch, pos_weight, reduction):
    rng = _rng("torch-bcewl", pos_weight, reduction)
    x = rng.normal(size=(6, 4)) * 4
    x[0] = [40.0, -40.0, 800.0, -800.0]  # large finite logits (torch gives nan at +-inf)
    y = rng.random((6, 4))
    y[1:3] = y[1:3] < 0.5
    pw = rng.uniform(0.2, 4.0, size=4) if pos_weight else None
    tt, tpw = torch.tensor(y), (torch.tensor(pw) if pos_weight else None)
    _compare(torch, "binary_cross_entropy_with_logits", x, (y,), {"pos_weight": pw},
             lambda z, r: torch.nn.functional.binary_cross_entropy_with_logits(
                 z, tt, reduction=r, pos_weight=tpw), reduction, rng)


CE_TORCH = [
    ("indices", {}),
    ("indices", {"class_weight": True}),
    ("indices", {"ignore": True}),
    ("indices", {"class_weight": True, "ignore": True, "label_smoothing": 0.1}),
    ("indices", {"label_smoothing": 0.3}),
    ("indices", {"ignore_index": 2}),
    ("probs", {}),
    ("probs", {"class_weight": True}),
    ("probs", {"class_weight": True, "label_smoothing": 0.2}),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("layout", ["2d", "nd_axis1", "nd_classes_last"])
@pytest.mark.parametrize("kind,opts", CE_TORCH, ids=[f"{k}-{'-'.join(o) or 'plain'}"
                                                     for k, o in CE_TORCH])
def test_cross_entropy_matches_torch(torch, kind, opts, layout, reduction):
    rng = _rng("torch-ce", kind, sorted(opts), layout, reduction)
    C = 5
    torch_shape = (6, C) if layout == "2d" else (3, C, 4)  # torch: classes on dim 1
    x_t = rng.normal(size=torch_shape) * 3
    ignore_index = opts.get("ignore_index", -100)
    if kind == "indices":
        y_t = rng.integers(0, C, size=torch_shape[:1] + torch_shape[2:])
        if opts.get("ignore"):
            y_t.flat[[1, 4]] = ignore_index
        if "ignore_index" in opts:
            y_t.flat[0] = ignore_index
    else:
        y_t = _softmax(rng.normal(size=torch_shape), axis=1)
    weight = rng.uniform(0.2, 3.0, size=C) if opts.get("class_weight") else None
    eps = opts.get("label_smoothing", 0.0)
    if layout == "nd_classes_last":  # ours (N, L, C) with axis=-1 == torch (N, C, L)
        x, axis = np.moveaxis(x_t, 1, -1), -1
        y = y_t if kind == "indices" else np.moveaxis(y_t, 1, -1)
    else:
        x, y, axis = x_t, y_t, 1
    kw = {"axis": axis, "class_weight": weight, "ignore_index": ignore_index,
          "label_smoothing": eps}
    ty = torch.tensor(y_t)
    tw = torch.tensor(weight) if weight is not None else None

    def torch_fn(z, r):
        z_t = z if layout != "nd_classes_last" else torch.movedim(z, -1, 1)
        return torch.nn.functional.cross_entropy(z_t, ty, weight=tw, ignore_index=ignore_index,
                                                 reduction=r, label_smoothing=eps)

    _compare(torch, "cross_entropy", x, (y,), kw, torch_fn, reduction, rng)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p,margin,weighted", [(1, 1.0, False), (2, 1.0, False),
                                               (1, 0.5, True), (2, 2.0, True)])
def test_multiclass_hinge_matches_torch_multi_margin_times_C(torch, p, margin, weighted,
                                                            reduction):
    """Ours (weston_watkins) is PyTorch multi_margin_loss without its division by C."""
    rng = _rng("torch-mm", p, margin, weighted, reduction)
    N, C = 7, 5
    x = rng.normal(size=(N, C)) * 2
    t = rng.integers(0, C, size=N)
    w = rng.uniform(0.2, 3.0, size=C) if weighted else None
    tt, tw = torch.tensor(t), (torch.tensor(w) if weighted else None)
    _compare(torch, "multiclass_hinge", x, (t,),
             {"margin": margin, "squared": p == 2, "class_weight": w},
             lambda z, r: torch.nn.functional.multi_margin_loss(z, tt, p=p, margin=margin,
                                                                weight=tw, reduction=r),
             reduction, rng, scale=C)


def _torchvision_sigmoid_focal_loss(torch, inputs, targets, alpha, gamma, reduction):
    """torchvision.ops.sigmoid_focal_loss, transcribed (torchvision is not a dependency)."""
    p = torch.sigmoid(inputs)
    ce_loss = torch.nn.functional.binary_cross_entropy_with_logits(inputs, targets,
                                                                   reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce_loss * ((1 - p_t) ** gamma)
    if alpha >= 0:
        alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
        loss = alpha_t * loss
    if reduction == "none":
        return loss
    return loss.mean() if reduction == "mean" else loss.sum()


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("alpha,gamma", [(0.25, 2.0), (None, 2.0), (0.6, 0.0), (0.25, 1.5),
                                         (None, 0.5), (1.0, 3.0)])
def test_sigmoid_focal_matches_torchvision_formula(torch, alpha, gamma, reduction):
    rng = _rng("torch-sfocal", alpha, gamma, reduction)
    x = rng.normal(size=(5, 6)) * 3
    y = rng.random((5, 6))
    y[:3] = y[:3] < 0.3
    ty = torch.tensor(y)
    _compare(torch, "sigmoid_focal", x, (y,), {"alpha": alpha, "gamma": gamma},
             lambda z, r: _torchvision_sigmoid_focal_loss(
                 torch, z, ty, -1 if alpha is None else alpha, gamma, r),
             reduction, rng, tol="torch_float64_autograd")


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("alpha,gamma", [(None, 2.0), (0.25, 0.0), ("vector", 1.5),
                                         ("vector", 0.5)])
def test_softmax_focal_matches_torch_autograd(torch, alpha, gamma, reduction):
    """No torch builtin: the formula written with torch ops, differentiated by autograd."""
    rng = _rng("torch-focal", alpha, gamma, reduction)
    N, C = 8, 4
    x = rng.normal(size=(N, C)) * 2
    t = rng.integers(0, C, size=N)
    t[[1, 6]] = -100
    a = rng.uniform(0.2, 2.0, size=C) if alpha == "vector" else alpha
    keep = t != -100
    safe = np.where(keep, t, 0)
    a_t = (np.ones(N) if a is None else np.full(N, a) if np.ndim(a) == 0 else a[safe])

    def torch_fn(z, r):
        log_p = torch.log_softmax(z, dim=1)[torch.arange(N), torch.tensor(safe)]
        loss = -torch.tensor(a_t) * (1 - log_p.exp()) ** gamma * log_p
        loss = torch.where(torch.tensor(keep), loss, torch.zeros(()))
        if r == "none":
            return loss
        return loss.sum() / keep.sum() if r == "mean" else loss.sum()

    _compare(torch, "softmax_focal", x, (t,), {"alpha": a, "gamma": gamma}, torch_fn,
             reduction, rng, tol="torch_float64_autograd")


# =============================================================================================
# Inputs nobody thought of (hypothesis, deterministic)
# =============================================================================================

try:
    from hypothesis import given, settings, strategies as st
    from hypothesis.extra import numpy as hnp
except ImportError:  # pragma: no cover - hypothesis is a test dependency
    given = None

if given is not None:
    _SETTINGS = settings()  # the profile's (tests/conftest.py): deterministic in CI
    _FINITE = st.floats(-1e300, 1e300, allow_nan=False, allow_infinity=False, width=64)

    @_SETTINGS
    @given(x=hnp.arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 6)),
                        elements=_FINITE),
           data=st.data())
    def test_softmax_losses_are_finite_for_any_finite_logits(x, data):
        C = x.shape[1]
        t = data.draw(hnp.arrays(np.int64, x.shape[:1], elements=st.integers(0, C - 1)))
        ce = reference.cross_entropy(x, t, reduction="none")
        assert np.all(np.isfinite(ce)) and np.all(ce >= 0)
        g = reference.cross_entropy_grad(x, t, reduction="sum")
        assert np.all(np.isfinite(g)) and np.all(np.abs(g) <= 1.0)
        zero_sum = tolerance("float64_zero_sum")
        np.testing.assert_allclose(g.sum(axis=1), 0.0, rtol=zero_sum["rtol"],
                                   atol=zero_sum["atol"] * C)
        focal = reference.softmax_focal(x, t, reduction="none")
        assert np.all(np.isfinite(focal)) and np.all(focal <= ce * (1 + 1e-15))
        assert np.all(np.isfinite(reference.softmax_focal_grad(x, t)))
        smoothed = reference.cross_entropy_grad(x, t, label_smoothing=0.1, reduction="sum")
        assert np.all(np.isfinite(smoothed))

    @_SETTINGS
    @given(x=hnp.arrays(np.float64, st.integers(0, 12), elements=_FINITE), data=st.data())
    def test_binary_losses_are_finite_for_any_finite_logits(x, data):
        y = data.draw(hnp.arrays(np.float64, x.shape, elements=st.floats(0.0, 1.0)))
        loss = reference.binary_cross_entropy_with_logits(x, y, reduction="none")
        assert np.all(np.isfinite(loss)) and np.all(loss >= 0)
        stable = np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x)))
        # The lecture's form cancels in max(x, 0) - x y (x = 9, y = 1 - 1e-12: a loss of 1e-4
        # from two terms of 9), so it is only exact to a few ulp of |x|, not of the loss.
        cancellation = 4 * np.finfo(np.float64).eps * (np.abs(x) + 1.0)
        assert np.all(np.abs(loss - stable) <= 1e-12 * np.abs(stable) + cancellation), (x, y)
        g = reference.binary_cross_entropy_with_logits_grad(x, y, reduction="sum")
        assert np.all(np.abs(g) <= 1.0)
        focal = reference.sigmoid_focal(x, y, reduction="none")
        assert np.all(np.isfinite(focal)) and np.all(focal <= loss)
        assert np.all(np.isfinite(reference.sigmoid_focal_grad(x, y, reduction="sum")))
        d = reference.log_cosh(x, np.zeros_like(x), reduction="none")
        assert np.all(np.isfinite(d))
        np.testing.assert_array_equal(d, reference.log_cosh(-x, np.zeros_like(x),
                                                            reduction="none"))
        assert np.all(np.abs(reference.log_cosh_grad(x, np.zeros_like(x), reduction="sum"))
                      <= 1.0)
