"""Every claim of ``fastloss.properties`` (the lecture's "Properties of Good Loss Functions")
checked numerically, for every registered loss, through the float64 kernels
(``fastloss.value_and_grad``).

A claim that a property holds is checked on probe points (the registry's samplers, lines through
them, and far points); a claim that it fails is checked by finding a witness that violates it
by far more than rounding. The probes are lines ``x0 + s v`` in the prediction (one per target;
for the row losses through sampled logits, in random and in targeted directions), so every
check is one-dimensional along a line.
"""

from __future__ import annotations

import dataclasses
import inspect
import math

import numpy as np
import pytest

import fastloss
from fastloss._properties import TABLE, properties
from helpers import REGISTRY, make_inputs, rng_for, tolerance

ROW_CLASSES = (3, 5)
# Hyper-parameters worth checking beyond the registry's variants (its array-valued variants,
# weights and dense targets are not properties' business and are left out).
EXTRA_VARIANTS = {
    "binary_cross_entropy_with_logits": ({"pos_weight": 3.0},),
    "sigmoid_focal": ({"alpha": 0.5, "gamma": 0.0}, {"alpha": 0.25, "gamma": 0.0}),
    "softmax_focal": ({"alpha": 0.5, "gamma": 0.0}, {"gamma": 1.0}),
    "cross_entropy": ({"label_smoothing": 0.3},),
}
LINES = 8            # probe lines per case
STEPS = 241          # points per line
ZOOMS = 4            # refinements of the worst interval (3 steps) into 100 (to a step of ~1e-7)
# A difference quotient of the gradient above this is a witness that it has no Lipschitz
# constant (every constant the table states is at most 2C = 10); a smooth gradient's
# quotients stay below the other number on the finest zoom.
NOT_LIPSCHITZ, LIPSCHITZ_CEILING = 1e6, 1e3
# A slope change of the loss between adjacent segments on the finest zoom: at
# least KINK for a kink; at most SMOOTH otherwise (rounding of O(100) values over that step is
# ~1e-7).
KINK, SMOOTH = 1e-2, 1e-3
# A stated supremum (gradient bound, Lipschitz constant) must be reached on the probe points to
# this fraction, so that a bound too large is caught too (a quantile's bound of 1 where tau =
# 0.5 gives 0.5, say); the probe lines include the directions where each supremum is reached.
BOUND_REACHED = 0.8


# Predictions whose claims these probes cannot check yet (the entries state them; the numerical
# tests skip them, saying why): a rate must stay above -eps, and exp(x)'s growth needs a range
# for the Lipschitz witness where the smoothness zoom only sees rounding; var is a third array;
# the multi-label targets are one entry per class; the divergences compare two logits arrays;
# the metric losses take two embedding arrays and a label.
UNPROBED = {
    "rate": "probes for a prediction bounded below (rate > -eps) are still to write",
    "log_rate": "exp(x): the Lipschitz witness and the smoothness zoom need different ranges",
    "point_with_variance": "the probes evaluate (prediction, target) calls; var is a third array",
    "scores_per_class": "the row probes draw one class index per row, not a target per class",
    "logits_pair": "the row probes draw class indices, not a second logits array",
    "score_pair": "the probes evaluate (prediction, target) calls; the preference is a third array",
    "gan_real_and_fake": "the probes evaluate (prediction, target) calls; the discriminator "
                         "takes two prediction arrays of their own lengths and no target",
    "gan_fake": "the probes evaluate (prediction, target) calls; the generator's loss has no "
                "target",
    "embedding_pair": "the probes evaluate (prediction, target) calls; a pair's loss takes two "
                      "embedding arrays and a similarity label",
    "embedding_triplet": "the probes evaluate (prediction, target) calls; a triplet's loss takes "
                         "three embedding arrays",
    "list_scores": "the row probes draw one class index per row, not relevance labels per item "
                   "(tests/test_listwise.py checks the listwise losses' claims)",
}


def _probed(facts):
    """Skips a numerical test for a prediction the probes do not cover (UNPROBED)."""
    if facts.prediction in UNPROBED:
        pytest.skip(f"{facts.name}: {UNPROBED[facts.prediction]}")


def test_unprobed_predictions_are_declared_kinds():
    """Only the predictions named in UNPROBED go unchecked, and each still has a loss."""
    from fastloss._properties import PREDICTIONS
    assert set(UNPROBED) <= set(PREDICTIONS)
    used = {_facts(n, v, c).prediction for n, v, c in CASES}
    assert set(UNPROBED) <= used, sorted(set(UNPROBED) - used)


def _scalar_variants(name):
    """The registry's variants restricted to scalar hyper-parameters that the table takes."""
    takes = TABLE[name].params
    out = [{}]
    for v in REGISTRY[name].variants + EXTRA_VARIANTS.get(name, ()):
        kept = {k: x for k, x in v.items() if k in takes and not isinstance(x, str)}
        if len(kept) == len(v) and kept not in out:
            out.append(kept)
    return out


def _cases():
    cases = []
    for name in sorted(REGISTRY):
        if name not in TABLE:
            continue  # test_every_registered_loss_has_an_entry fails for it
        for variant in _scalar_variants(name):
            for classes in (ROW_CLASSES if REGISTRY[name].kind == "row" else (None,)):
                cases.append((name, variant, classes))
    return cases


CASES = _cases()
IDS = [f"{n}-{','.join(f'{k}={v}' for k, v in p.items()) or 'default'}"
       + (f"-C{c}" if c else "") for n, p, c in CASES]


def _facts(name, variant, classes):
    return properties(name, **variant, **({"classes": classes} if classes else {}))


def _inside(a, b, entry, scale=None):
    """a <= b within the named tolerance (relative to scale, default |b|)."""
    t = tolerance(entry)
    s = np.abs(b) if scale is None else scale
    return a <= b + t["rtol"] * s + t["atol"]


def _approx(entry):
    """pytest.approx's keywords for the named tolerance."""
    t = tolerance(entry)
    return {"rel": t["rtol"], "abs": t["atol"]}


def _witness(violation, scale):
    """violation > 0 by far more than rounding (scale: the magnitude of the compared values)."""
    t = tolerance("property_witness")
    return violation > t["rtol"] * scale + t["atol"]


# ---- evaluation through the kernels ---------------------------------------------------------

def _evaluate(name, x, t, variant):
    """Per-element (or per-row) losses and gradients of the float64 kernel."""
    loss, g = fastloss.value_and_grad(REGISTRY[name].fn)(x, t, reduction="none", **variant)
    return np.asarray(loss, dtype=np.float64), np.asarray(g, dtype=np.float64)


class Line:
    """Probe lines x0 + s v for s on a grid: x0, v of shape (k,) or (k, C); targets (k,)."""

    def __init__(self, name, variant, x0, v, t, s):
        self.name, self.variant, self.x0, self.v, self.t = name, variant, x0, v, t
        self.s = s
        self.rows = x0.ndim == 2

    def at(self, s):
        """Losses (n, k), directional derivatives (n, k), gradients (n, k[, C]) at s (n,) or
        (n, k) (a grid per line)."""
        s = np.asarray(s, dtype=np.float64)
        s = s[:, None] if s.ndim == 1 else s
        if self.rows:
            x = self.x0[None] + s[..., None] * self.v[None]
        else:
            x = self.x0[None] + s * self.v[None]
        t = np.broadcast_to(self.t, x.shape[:2])
        loss, g = _evaluate(self.name, np.ascontiguousarray(x), np.ascontiguousarray(t),
                            self.variant)
        d = np.sum(g * self.v[None], axis=-1) if self.rows else g * self.v[None]
        return loss, d, g


def _unit(v):
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _lines(name, variant, classes, key="lines"):
    spec = REGISTRY[name]
    facts = _facts(name, variant, classes)
    rng = rng_for("properties", key, name, variant, classes)
    shape = (LINES, classes) if spec.kind == "row" else (LINES,)
    args, _ = make_inputs(spec, {}, rng, shape, np.float64)
    x, t = np.asarray(args[0], np.float64), np.asarray(args[1])
    if spec.kind == "row":
        t = np.where(t < 0, 0, t)  # no ignored rows
        random_dirs = _unit(rng.standard_normal(x.shape))
        # the direction that raises the target's logit against all others (the top eigen-
        # vector of the hinge's and the softmax's curvature), through logits all equal
        target_dirs = _unit(classes * (np.arange(classes) == t[:, None]) - 1.0)
        # two classes, the target and the next, tied, the others negligible, moved apart: the
        # top eigenvector of the softmax's curvature (two probabilities of 1/2)
        other = (t + 1) % classes
        pair = np.where((np.arange(classes) == t[:, None]) | (np.arange(classes) ==
                                                              other[:, None]), 0.0, -40.0)
        pair_dirs = _unit((np.arange(classes) == t[:, None]) - 1.0 * (np.arange(classes)
                                                                      == other[:, None]))
        x0 = np.concatenate([x, np.zeros_like(x), pair])
        v = np.concatenate([random_dirs, target_dirs, pair_dirs])
        t = np.concatenate([t, t, t])
        return Line(name, variant, x0, v, t, np.linspace(-12, 12, STEPS))
    if facts.prediction == "probability":
        tiny = np.logspace(-60, -0.31, (STEPS - 2) // 2)  # to below exp(-100) and its clamp
        s = np.unique(np.concatenate([[0.0, 1.0], tiny, 1.0 - tiny]))
        return Line(name, variant, np.zeros(LINES), np.ones(LINES), t, s)
    if facts.prediction == "point":
        return Line(name, variant, t.astype(np.float64), np.ones(LINES), t,
                    np.linspace(-6, 6, STEPS))
    return Line(name, variant, np.zeros(LINES), np.ones(LINES), t, np.linspace(-12, 12, STEPS))


def _zoom(line, score, refine=ZOOMS):
    """The largest score(s_grid, loss, d, g) (an array over the grid's intervals, per line)
    on the coarse grid and after each refinement of the worst interval by 100: a list of
    refine + 1 arrays over the lines (intervals that rounding made empty are skipped)."""
    s = np.broadcast_to(line.s[:, None], (line.s.size, line.x0.shape[0]))
    levels = []
    for _ in range(refine + 1):
        loss, d, g = line.at(s)
        with np.errstate(divide="ignore", invalid="ignore"):
            sc = score(s, loss, d, g)             # (intervals, k)
        sc = np.where(np.isfinite(sc), sc, -np.inf)
        levels.append(np.max(sc, axis=0))
        worst = np.argmax(sc, axis=0)
        k = np.arange(s.shape[1])
        lo = s[np.maximum(worst - 1, 0), k]
        hi = s[np.minimum(worst + 2, s.shape[0] - 1), k]
        s = np.linspace(lo, hi, 101)
    return levels


def _gradient_quotient(s, loss, d, g):
    """|grad(s_{i+1}) - grad(s_i)| / (s_{i+1} - s_i) (the norm of the difference for rows)."""
    dg = np.diff(g, axis=0)
    norm = np.linalg.norm(dg, axis=-1) if dg.ndim == 3 else np.abs(dg)
    return norm / np.diff(s, axis=0)


def _slope_change(s, loss, d, g):
    """The change of the loss's secant slope between adjacent intervals."""
    slopes = np.diff(loss, axis=0) / np.diff(s, axis=0)
    return np.abs(np.diff(slopes, axis=0))


def _far(name, facts, classes, k):
    """One point 10^k away on the wrong side (an outlier): its (loss, gradient norm)."""
    if facts.prediction == "point":
        x, t = np.array([10.0 ** k]), np.array([0.0])
    elif facts.prediction == "probability":
        x, t = np.array([10.0 ** -k]), np.array([1.0])
    elif facts.prediction in ("logit", "score", "log_probability"):
        # (labels as floats: soft_margin's are of the input's dtype, the hinges take any real)
        x, t = np.array([-(10.0 ** k)]), np.array([1.0])
    else:
        x = np.zeros((1, classes))
        x[0, 0] = -(10.0 ** k)
        t = np.array([0])
    _, g = _evaluate(name, x, t, dict(facts.params))
    return float(np.linalg.norm(g))


# ---- the table covers the registry ----------------------------------------------------------

def test_every_registered_loss_has_an_entry():
    assert set(REGISTRY) - set(TABLE) == set(), "registered losses without a properties entry"
    assert set(TABLE) - set(REGISTRY) == set(), "properties entries of no registered loss"


@pytest.mark.parametrize("name", sorted(TABLE))
def test_entry_parameters_are_the_functions_defaults(name):
    """Each entry's hyper-parameters are keywords of the public function, with its defaults."""
    params = inspect.signature(REGISTRY[name].fn).parameters
    for key, (default, _) in TABLE[name].params.items():
        assert key in params and params[key].kind is params[key].KEYWORD_ONLY, key
        assert params[key].default == default, (key, default, params[key].default)
    assert TABLE[name].rows == (REGISTRY[name].kind == "row")


@pytest.mark.parametrize("name", sorted(TABLE))
def test_registry_facts_agree_with_the_table(name):
    """LossSpec.convex and .constant_minimiser (used by other tests) say what the table says."""
    spec, facts = REGISTRY[name], properties(name)
    assert spec.convex == facts.convex
    if spec.constant_minimiser is not None:
        y = make_inputs(spec, {}, rng_for("agree", name), (51,), np.float64)[0][1]
        assert facts.constant_minimiser(y) == pytest.approx(
            spec.constant_minimiser(y, spec.full_kwargs({})), **_approx("minimiser_search"))


def test_a_registered_loss_without_an_entry_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(REGISTRY, "new_loss", REGISTRY["mse"])
    with pytest.raises(ValueError, match=r"\[fastloss.properties\] loss 'new_loss' is "
                                         r"registered but has no properties entry"):
        properties("new_loss")


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match=r"\[fastloss.properties\] name must be a registered"):
        properties("nope")
    with pytest.raises(TypeError, match=r"\[fastloss.properties\] huber takes no "
                                        r"hyper-parameter 'beta'"):
        properties("huber", beta=1.0)
    with pytest.raises(ValueError, match=r"\[fastloss.properties\] delta must be > 0"):
        properties("huber", delta=-1.0)
    with pytest.raises(ValueError, match=r"tau must be a scalar"):
        properties("quantile", tau=np.array([0.1, 0.9]))
    with pytest.raises(TypeError, match=r"classes applies to row losses only"):
        properties("mse", classes=3)
    with pytest.raises(ValueError, match=r"classes must be >= 2"):
        properties("cross_entropy", classes=1)
    with pytest.raises(TypeError, match=r"squared must be a bool"):
        properties("multiclass_hinge", squared=1)


def test_hyper_parameters_change_the_facts():
    """The brief's two examples: huber's bound is delta with Lipschitz constant 1; focal with
    gamma 0 (and no alpha) is cross-entropy."""
    h = properties("huber", delta=0.5)
    assert (h.gradient_bound, h.lipschitz) == (0.5, 1.0)
    assert properties("huber").gradient_bound == 1.0
    f0, ce = properties("softmax_focal", gamma=0.0), properties("cross_entropy")
    for key in ("convex", "smooth", "gradient_bound", "lipschitz", "proper_scoring", "nll_of",
                "minimiser"):
        assert getattr(f0, key) == getattr(ce, key), key
    assert properties("sigmoid_focal", gamma=0.0, alpha=None).nll_of == \
        properties("binary_cross_entropy_with_logits").nll_of
    assert properties("smooth_l1", beta=0.0).smooth is False


ROW_CASES = sorted({(n, tuple(sorted(v.items()))) for n, v, c in CASES if c is not None})


@pytest.mark.parametrize("name,items", ROW_CASES, ids=[f"{n}-{dict(i)}" for n, i in ROW_CASES])
def test_row_facts_without_classes_hold_for_every_class_count(name, items):
    """Without ``classes`` a row loss's facts are those of every class count, and a number is
    given only where it is the same for every count (the checked counts among them)."""
    general = properties(name, **dict(items))
    for classes in ROW_CLASSES:
        specific = properties(name, **dict(items), classes=classes)
        for key in ("convex", "smooth", "bounded_gradient", "lipschitz_gradient", "robust",
                    "proper_scoring", "nll_of", "minimiser"):
            assert getattr(general, key) == getattr(specific, key), key
        for key in ("gradient_bound", "lipschitz"):
            if getattr(general, key) is not None:
                assert getattr(general, key) == getattr(specific, key), key


def test_properties_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        properties("mse").convex = False


# ---- convexity ------------------------------------------------------------------------------

@pytest.mark.parametrize("name,variant,classes", CASES, ids=IDS)
def test_midpoint_convexity(name, variant, classes):
    """loss((a + b) / 2) <= (loss(a) + loss(b)) / 2 for every pair of points of each line
    (convex), or a pair that violates it (not convex)."""
    facts = _facts(name, variant, classes)
    _probed(facts)
    line = _lines(name, variant, classes)
    s = line.s[::2]  # every pair of 121 points
    a, b = np.meshgrid(s, s, indexing="ij")
    upper = np.triu_indices(s.size, 1)
    a, b = a[upper], b[upper]
    la, _, _ = line.at(a)
    lb, _, _ = line.at(b)
    lm, _, _ = line.at((a + b) / 2)
    chord = (la + lb) / 2
    scale = np.maximum(np.abs(la), np.abs(lb))
    violation = lm - chord
    finite = np.isfinite(violation)
    if facts.convex:
        assert np.all(_inside(lm[finite], chord[finite], "property_float64", scale[finite])), (
            f"not convex: violation {np.max(violation[finite]):.3g}")
    else:
        assert np.any(_witness(violation[finite], scale[finite])), \
            "claimed not convex, but no pair of points violates convexity"


# ---- smoothness, gradient bound and Lipschitz constant --------------------------------------

@pytest.mark.parametrize("name,variant,classes", CASES, ids=IDS)
def test_smoothness(name, variant, classes):
    """Zooming in on the largest change of the loss's slope along each line: it vanishes for a
    differentiable loss and stays for a kink."""
    facts = _facts(name, variant, classes)
    _probed(facts)
    fine = _zoom(_lines(name, variant, classes), _slope_change)[-1]
    if facts.smooth:
        assert np.all(fine <= SMOOTH), f"a kink: slope change {np.max(fine):.3g}"
    else:
        assert np.any(fine >= KINK), (
            f"claimed a kink ({facts.kinks}) but the slope changes by at most {np.max(fine):.3g}")


@pytest.mark.parametrize("name,variant,classes", CASES, ids=IDS)
def test_gradient_bound(name, variant, classes):
    """sup |gradient| over the probe lines is at most the stated bound and reaches most of it;
    the gradient of one far outlier stays bounded as it moves away, or grows without bound."""
    facts = _facts(name, variant, classes)
    _probed(facts)
    line = _lines(name, variant, classes)
    _, _, g = line.at(line.s)
    norm = np.linalg.norm(g, axis=-1) if line.rows else np.abs(g)
    far = [_far(name, facts, classes, k) for k in range(7)]
    if facts.gradient_bound is not None:
        b = facts.gradient_bound
        observed = max(np.max(norm), max(far))
        assert _inside(observed, b, "property_float64"), (observed, b)
        assert observed >= BOUND_REACHED * b, (observed, b)
    if facts.bounded_gradient:
        assert far[6] <= 2 * far[3] + tolerance("property_float64")["atol"], far
    else:
        assert far[6] >= 100 * far[2], f"claimed unbounded, but the far gradients are {far}"


@pytest.mark.parametrize("name,variant,classes", CASES, ids=IDS)
def test_gradient_lipschitz(name, variant, classes):
    """|grad(a) - grad(b)| / |a - b| along the lines: at most the stated constant (and most of
    it reached), or bounded; where the table says the gradient has no Lipschitz constant,
    zooming in on the worst interval finds a quotient beyond any constant it states."""
    facts = _facts(name, variant, classes)
    _probed(facts)
    levels = _zoom(_lines(name, variant, classes), _gradient_quotient)
    worst = max(np.max(level) for level in levels)
    if facts.lipschitz is not None:
        # steps of at least 1e-3, where rounding is far below the bound's tolerance
        wide = max(np.max(level) for level in levels[:2])
        assert _inside(wide, facts.lipschitz, "lipschitz_quotient"), (wide, facts.lipschitz)
        assert wide >= BOUND_REACHED * facts.lipschitz, (wide, facts.lipschitz)
    if facts.lipschitz_gradient:
        assert worst <= LIPSCHITZ_CEILING, worst
    else:
        assert worst >= NOT_LIPSCHITZ, f"claimed no Lipschitz constant, quotients <= {worst:.3g}"


# ---- robustness: bounded influence ----------------------------------------------------------

def _golden_section(f, lo, hi, iterations=200):
    """The minimiser of a unimodal f on [lo, hi] (to the last bits: a fixed number of steps)."""
    invphi = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = lo, hi
    c, d = b - invphi * (b - a), a + invphi * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(iterations):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - invphi * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + invphi * (b - a)
            fd = f(d)
    return (a + b) / 2


def _summed(name, variant, targets):
    """c -> sum_i loss(c, y_i), through the kernel."""
    def f(c):
        x = np.full(np.shape(targets), c, dtype=np.float64)
        return float(_evaluate(name, x, targets, variant)[0].sum())
    return f


@pytest.mark.parametrize("name,variant,classes", CASES, ids=IDS)
def test_bounded_influence(name, variant, classes):
    """Robust: one outlier moved to 10^k shifts the fitted constant (regression) or pulls with
    a gradient (classification) by a bounded amount; not robust: by an unbounded one."""
    facts = _facts(name, variant, classes)
    _probed(facts)
    if facts.prediction == "point":
        y = rng_for("influence", name).standard_normal(50)
        shift = []
        for k in range(1, 7):
            sample = np.append(y, 10.0 ** k)
            c = _golden_section(_summed(name, variant, sample), sample.min(), sample.max())
            shift.append(abs(c - np.median(y)))
        grows = shift[-1] >= 100 * shift[2]
        bounded = shift[-1] <= 2 * shift[2] + tolerance("minimiser_flat")["atol"]
    else:
        far = [_far(name, facts, classes, k) for k in range(7)]
        grows, bounded = far[6] >= 100 * far[2], far[6] <= 2 * far[3]
    assert bounded if facts.robust else grows


# ---- proper scoring rules -------------------------------------------------------------------

@pytest.mark.parametrize("name,variant,classes", CASES, ids=IDS)
def test_proper_scoring_rule(name, variant, classes):
    """The expected loss under a true distribution q is smallest at the prediction of q itself
    (proper), or some prediction beats it for some q (not proper). Not applicable (None)
    exactly where the prediction is no probability."""
    facts = _facts(name, variant, classes)
    _probed(facts)
    probabilistic = facts.prediction in ("probability", "logit", "logits", "log_probs")
    assert (facts.proper_scoring is None) == (not probabilistic)
    if not probabilistic:
        return

    def predict(p):
        return p if facts.prediction == "probability" else np.log(p) - np.log1p(-p)

    rng = rng_for("proper", name, variant, classes)
    if facts.prediction in ("logits", "log_probs"):  # (log q is both)
        c = classes
        q = rng.dirichlet(np.ones(c), 20)
        near = np.repeat(q, 50, axis=0) * np.exp(0.05 * rng.standard_normal((1000, c)))
        p = np.concatenate([rng.dirichlet(np.ones(c), 2000),
                            near / near.sum(-1, keepdims=True)])
        x = np.log(np.concatenate([q, p]))
        losses = np.stack([_evaluate(name, x, np.full(len(x), t), variant)[0]
                           for t in range(c)], axis=-1)            # (points, classes)
        expected = np.einsum("qc,pc->qp", q, losses[len(q):])
        at_truth = np.einsum("qc,qc->q", q, losses[:len(q)])
    else:
        q = np.linspace(0.02, 0.98, 25)
        p = np.linspace(0.001, 0.999, 999)
        x = predict(np.concatenate([q, p]))
        one = _evaluate(name, x, np.ones_like(x), variant)[0]
        zero = _evaluate(name, x, np.zeros_like(x), variant)[0]
        at_truth = q * one[:len(q)] + (1 - q) * zero[:len(q)]
        expected = q[:, None] * one[None, len(q):] + (1 - q[:, None]) * zero[None, len(q):]
    best = expected.min(axis=1)
    if facts.proper_scoring:
        assert np.all(_inside(at_truth, best, "property_float64")), np.max(at_truth - best)
    else:
        assert np.any(_witness(at_truth - best, np.abs(at_truth))), \
            "claimed not proper, but no prediction beats the true distribution"


# ---- the probabilistic model ----------------------------------------------------------------

def _huber_normaliser(delta):
    """Z = integral of exp(-huber_delta(u)) du: a Gaussian core on |u| < delta, Laplace tails."""
    return (math.sqrt(2 * math.pi) * math.erf(delta / math.sqrt(2))
            + 2 * math.exp(-delta * delta / 2) / delta)


def _smooth_l1_normaliser(beta):
    """Z for exp(-smooth_l1_beta(u)): exp(-u^2 / (2 beta)) inside, exp(-(|u| - beta/2)) outside."""
    return (math.sqrt(2 * math.pi * beta) * math.erf(math.sqrt(beta / 2))
            + 2 * math.exp(-beta / 2))


def _huber_rho(u, delta):
    a = np.abs(u)
    return np.where(a < delta, 0.5 * u * u, delta * (a - 0.5 * delta))


# The log-densities log p(target | pred) of the models the table names, as functions of the
# residual u = target - pred and the hyper-parameters, each normalised in closed form.
REGRESSION_MODELS = {
    "Gaussian (variance 1/2)": lambda u, p: -u * u - 0.5 * math.log(math.pi),
    "Laplace (scale 1)": lambda u, p: -np.abs(u) - math.log(2.0),
    "Huber's least favourable (Gaussian centre, Laplace tails)": lambda u, p: (
        -_huber_rho(u, p["delta"]) - math.log(_huber_normaliser(p["delta"])) if "delta" in p
        else -_huber_rho(u, p["beta"]) / p["beta"] - math.log(_smooth_l1_normaliser(p["beta"]))),
    "asymmetric Laplace (tau)": lambda u, p: (
        math.log(p["tau"] * (1 - p["tau"])) - np.maximum(p["tau"] * u, (p["tau"] - 1) * u)),
    "hyperbolic secant": lambda u, p: -math.log(math.pi) - np.logaddexp(u, -u) + math.log(2.0),
}


@pytest.mark.parametrize("name,variant,classes", CASES, ids=IDS)
def test_negative_log_likelihood(name, variant, classes):
    """Classification: sum over the labels of exp(-loss) is 1 at every prediction exactly when
    the table names a model (and the loss is that model's -log p); regression: loss + log p of
    the named density is constant in the residual, and that density integrates to 1."""
    facts = _facts(name, variant, classes)
    _probed(facts)
    params = dict(facts.params)
    if facts.prediction == "point":
        assert facts.nll_of in REGRESSION_MODELS, f"no density for the model {facts.nll_of!r}"
        u = np.linspace(-900.0, 900.0, 1_800_001)
        loss = _evaluate(name, np.zeros_like(u), u, variant)[0]
        log_p = REGRESSION_MODELS[facts.nll_of](u, params)
        gap = loss + log_p
        near = np.abs(u) < 50  # where the loss and log p are both O(2500) at most
        assert np.ptp(gap[near]) <= tolerance("property_float64")["rtol"] * np.max(loss[near])
        density = np.exp(log_p)
        total = float(np.sum((density[1:] + density[:-1]) * np.diff(u)) / 2)
        assert total == pytest.approx(1.0, **_approx("minimiser_flat"))
        return
    if facts.prediction in ("logits", "scores", "log_probs"):
        x = 4 * rng_for("nll", name).standard_normal((200, classes))
        if facts.prediction == "log_probs":  # normalised, as the model's log-probabilities are
            x = x - np.logaddexp.reduce(x, axis=-1, keepdims=True)
        losses = np.stack([_evaluate(name, x, np.full(len(x), t), variant)[0]
                           for t in range(classes)], axis=-1)
    else:
        labels = (-1.0, 1.0) if facts.prediction == "score" else (0.0, 1.0)
        x = (np.linspace(1e-6, 1 - 1e-6, 401) if facts.prediction == "probability"
             else np.linspace(-15, 15, 401))
        losses = np.stack([_evaluate(name, x, np.full(x.shape, y, dtype=type(y)), variant)[0]
                           for y in labels], axis=-1)
    total = np.exp(-losses).sum(axis=-1)
    if facts.nll_of is None:
        assert np.any(_witness(np.abs(total - 1), 1.0)), "the loss is a normalised likelihood"
        return
    np.testing.assert_allclose(total, 1.0, **tolerance("property_float64"))
    if facts.nll_of == "Bernoulli":
        if facts.prediction == "probability":
            model = np.stack([-np.log1p(-x), -np.log(x)], axis=-1)
        else:  # -log sigmoid(-x), -log sigmoid(x)
            model = np.stack([np.logaddexp(0, x), np.logaddexp(0, -x)], axis=-1)
    else:
        assert facts.nll_of == "categorical", facts.nll_of
        top = x.max(-1, keepdims=True)
        model = np.log(np.exp(x - top).sum(-1, keepdims=True)) + top - x
    # -log p of a confident prediction is lse(x) - x_t by cancellation: absolute rounding
    np.testing.assert_allclose(losses, model, **tolerance("property_float64"))


# ---- constant minimisers --------------------------------------------------------------------

_BRACKETS = {"point": None, "probability": (1e-12, 1 - 1e-12), "logit": (-40.0, 40.0),
             "score": (-3.0, 3.0)}


@pytest.mark.parametrize("name,variant,classes", CASES, ids=IDS)
def test_constant_minimiser(name, variant, classes):
    """The stated constant minimiser of sum_i loss(c, y_i) over a sample: found again by golden
    section (pointwise losses), or the summed gradient vanishes there and no perturbation
    lowers the sum (row losses: logits, defined up to a constant)."""
    facts = _facts(name, variant, classes)
    _probed(facts)
    if facts.constant_minimiser is None:
        assert facts.minimiser is None
        return
    spec = REGISTRY[name]
    rng = rng_for("minimiser", name, variant, classes)
    if spec.kind == "row":
        t = rng.choice(classes, size=151, p=rng.dirichlet(np.ones(classes)))
        c = np.asarray(facts.constant_minimiser(t), dtype=np.float64)
        x = np.broadcast_to(c, (t.size, classes)).copy()
        total, g = fastloss.value_and_grad(spec.fn)(x, t, reduction="sum", **variant)
        # each row's gradient entries are O(1): the sum of 151 keeps ~151 roundings of 1
        bound = tolerance("property_float64")["rtol"] * t.size
        assert np.all(np.abs(np.asarray(g).sum(0)) <= bound), np.asarray(g).sum(0)
        for _ in range(20):
            moved = x + 1e-3 * rng.standard_normal(classes)
            assert float(spec.fn(moved, t, reduction="sum", **variant)) >= float(total)
        return
    y = np.asarray(make_inputs(spec, {}, rng, (101,), np.float64)[0][1])
    if facts.prediction == "point":
        y = rng.standard_t(df=3, size=101)  # heavy tails: mean, median and M-estimates differ
        lo, hi = y.min(), y.max()
    else:
        lo, hi = _BRACKETS[facts.prediction]
    found = _golden_section(_summed(name, variant, y), lo, hi)
    claimed = facts.constant_minimiser(y)
    assert claimed == pytest.approx(found, **_approx("minimiser_flat"))
