"""Fixed examples for the documented edge-case semantics: NaN propagation, +-inf, huge logits,
PyTorch's clamped BCE, empty inputs, ignored targets and 0-d inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest

import fastloss as fl
from fastloss import reference
from fastloss._registry import REGISTRY, make_inputs
from helpers import (BATCH, assert_bitwise, assert_close, per_class_target_losses, rng_for, tolerance,
                     variant_id)

DTYPES = (np.float32, np.float64)
DT_IDS = ("float32", "float64")
REDUCTIONS = ("mean", "sum", "none")
INF = np.inf

SPEC_VARIANTS = [pytest.param(spec, v, id=f"{name}[{variant_id(v)}]")
                 for name, spec in sorted(REGISTRY.items()) for v in spec.variants]
POINTWISE_VARIANTS = [p for p in SPEC_VARIANTS if p.values[0].kind == "pointwise"]
ROW_VARIANTS = [p for p in SPEC_VARIANTS if p.values[0].kind == "row"]
# Kind "pair" (the GAN discriminator: two arrays of their own shapes, "none" a pair of arrays):
# its empty sides are checked in tests/test_gan.py.
ONE_LOSS_SHAPE_VARIANTS = [p for p in SPEC_VARIANTS if p.values[0].kind != "pair"]

# Families the hand-made cases below are written for; each list asserts that it covers every
# registered loss but the ones it excludes, so that a new loss cannot slip past it.
CLASSIFICATION = {n for n, s in REGISTRY.items() if s.family == "classification"}
LIKELIHOOD = {n for n, s in REGISTRY.items() if s.family == "likelihood"}
POINTWISE = {n for n, s in REGISTRY.items() if s.kind == "pointwise"}
# losses of scores, margins or log-probabilities, not of a softmax
NO_SOFTMAX = POINTWISE | {"multiclass_hinge", "nll", "multilabel_soft_margin",
                          "multilabel_margin", "structured_hinge"}
# row losses whose target has one entry per class (x's shape), not one class index per row
PER_CLASS_TARGET = per_class_target_losses()
NOT_IGNORABLE = {n for n, s in REGISTRY.items() if s.mean_count == "elements"}  # no ignore_index
# The divergences take two logits arrays (and distillation its labels as a keyword), not the
# (logits, class index) calls of the hand-made cases below: their own cases (a one-hot teacher's
# -inf logits, +inf logits, ignored and all-ignored rows) are in tests/test_divergence.py.
DIVERGENCE = {n for n, s in REGISTRY.items() if s.family == "divergence"}
# The ranking losses take a third array (margin_ranking's preference y): their own edge cases
# (infinite and NaN scores, y = 0, the kink) are in tests/test_margin_ranking.py; the structured
# hinge's (costs, infinite and NaN scores, ties, one candidate) in tests/test_structured_hinge.py.
RANKING = {n for n, s in REGISTRY.items() if s.family == "ranking"}
# The listwise ranking losses (rows of scores with relevance labels and a mask, no class
# index): their infinities, NaN, ties and padding are in tests/test_listwise.py.
LISTWISE = {n for n, s in REGISTRY.items() if s.mean_count == "valid_lists"}
# The metric-learning losses: hinge_embedding's input is a distance, not an error (its
# infinities are in tests/test_hinge_embedding.py); the embedding losses (kind embedding) take
# two or three embedding arrays and a row label, none of the cases below: theirs (coincident
# embeddings, inf and NaN coordinates, empty inputs, margin 0) are in tests/test_metric.py.
METRIC = {n for n, s in REGISTRY.items() if s.family == "metric"}
EMBEDDING = {n for n, s in REGISTRY.items() if s.kind == "embedding"}
# The GAN losses take discriminator outputs with no target (the generator) or two arrays of
# their own shapes (the discriminator), not the (input, target) calls below: their huge, infinite
# and NaN outputs and empty sides are checked in tests/test_gan.py.
ADVERSARIAL = {n for n, s in REGISTRY.items() if s.family == "adversarial"}


def _covers(cases, excluded):
    names = {c[0] for c in cases}
    assert names | excluded == set(REGISTRY) and not names & excluded, \
        sorted(set(REGISTRY) ^ (names | excluded))


def _vg(fn, *args, **kwargs):
    return fl.value_and_grad(fn)(*args, **kwargs)


def _no_ignored(spec, args, kwargs):
    """Targets with ignored entries replaced by a valid class (so every row counts)."""
    args = list(args)
    if spec.labels_arg is not None and kwargs.get(spec.labels_arg) is not None:
        t = kwargs[spec.labels_arg]
        kwargs[spec.labels_arg] = np.where(t == kwargs.get("ignore_index", -100), 0, t)
        return tuple(args)
    t = args[1]
    if spec.kind == "row" and t.dtype.kind in "iu":
        ignore = kwargs.get("ignore_index", -100)
        args[1] = np.where(t == ignore, 0, t)
    return tuple(args)


# ---------------------------------------------------------------------------------------------
# NaN propagation
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("spec, variant", POINTWISE_VARIANTS)
def test_nan_propagates_pointwise(spec, variant, dtype):
    args, kw = make_inputs(spec, variant, rng_for("nan", spec.name), (3, 5), dtype)
    clean_loss, clean_grad = _vg(spec.fn, *args, reduction="none", **kw)
    for pos in [(0, 0), (1, 2), (2, 4)]:
        x = args[0].copy()
        x[pos] = np.nan
        loss, g = _vg(spec.fn, x, *args[1:], reduction="none", **kw)
        assert np.isnan(loss[pos]) and np.isnan(g[pos]), (pos, loss[pos], g[pos])
        mask = np.ones(x.shape, bool)
        mask[pos] = False
        # every other element is exactly what it is without the NaN
        assert_bitwise(loss[mask], clean_loss[mask], what="loss elsewhere")
        assert_bitwise(g[mask], clean_grad[mask], what="grad elsewhere")
        for red in ("mean", "sum"):
            assert np.isnan(spec.fn(x, *args[1:], reduction=red, **kw)), red
            total, g_red = _vg(spec.fn, x, *args[1:], reduction=red, **kw)
            assert np.isnan(total) and np.isnan(g_red[pos])
            assert np.all(np.isfinite(g_red[mask]))


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("spec, variant", ROW_VARIANTS)
def test_nan_propagates_rows(spec, variant, dtype):
    args, kw = make_inputs(spec, variant, rng_for("nan-rows", spec.name), (3, 5), dtype)
    args = _no_ignored(spec, args, kw)
    clean_loss, clean_grad = _vg(spec.fn, *args, reduction="none", **kw)
    per_class = args[1].shape == args[0].shape  # probabilities or index lists: no one target
    for pos in [(0, 0), (1, 2), (2, 4)]:
        row = pos[0]
        for target_pos in (False, True):
            x = args[0].copy()
            col = pos[1] if not target_pos or per_class else int(args[1][row])
            x[row, col] = np.nan
            loss, g = _vg(spec.fn, x, *args[1:], reduction="none", **kw)
            # a listwise loss's padding (mask False) is not in the list: a NaN there changes
            # nothing, and the padding's gradient stays 0
            valid = kw["mask"][row] if kw.get("mask") is not None else np.ones(x.shape[1], bool)
            if not valid[col]:
                assert_bitwise(loss, clean_loss, what="loss with NaN padding")
                assert_bitwise(g, clean_grad, what="gradient with NaN padding")
                continue
            assert np.isnan(loss[row]), (row, col, loss)
            # README: NaN propagates "for row losses, to the whole row"
            assert np.all(np.isnan(g[row][valid])) and np.all(g[row][~valid] == 0), (
                f"NaN logit at {(row, col)}: gradient row {g[row]} (target {args[1][row]})")
            others = np.arange(3) != row
            assert_bitwise(loss[others], clean_loss[others], what="other rows' loss")
            assert_bitwise(g[others], clean_grad[others], what="other rows' gradient")
            assert np.isnan(spec.fn(x, *args[1:], reduction="mean", **kw))
            assert np.isnan(spec.fn(x, *args[1:], reduction="sum", **kw))


# ---------------------------------------------------------------------------------------------
# +-inf
# ---------------------------------------------------------------------------------------------

# (x, y, expected loss) without pos_weight; gradient expected: sigma(x) - y
BCE_LOGITS_INF = [(INF, 1.0, 0.0), (-INF, 0.0, 0.0), (INF, 0.0, INF), (-INF, 1.0, INF),
                  (INF, 0.5, INF), (-INF, 0.5, INF), (INF, 0.0, INF)]


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("pos_weight", [None, 2.0, 0.0])
def test_bce_with_logits_infinite_logits(dtype, pos_weight):
    x = np.array([c[0] for c in BCE_LOGITS_INF], dtype)
    y = np.array([c[1] for c in BCE_LOGITS_INF], dtype)
    pw = 1.0 if pos_weight is None else pos_weight
    kw = {} if pos_weight is None else {"pos_weight": pos_weight}
    loss, g = _vg(fl.binary_cross_entropy_with_logits, x, y, reduction="none", **kw)
    # loss = (1-y) softplus(x) + pw y softplus(-x): a term with a zero coefficient is zero
    sp_pos = np.where(x > 0, INF, 0.0)
    sp_neg = np.where(x < 0, INF, 0.0)
    with np.errstate(invalid="ignore"):
        expected = (np.where(1 - y == 0, 0.0, (1 - y) * sp_pos)
                    + np.where(pw * y == 0, 0.0, pw * y * sp_neg))
    sig = (x > 0).astype(np.float64)
    expected_grad = (1 - y) * sig - pw * y * (1 - sig)
    np.testing.assert_array_equal(loss, expected.astype(dtype))
    assert np.all(np.isfinite(g)), g
    np.testing.assert_array_equal(g, expected_grad.astype(dtype))
    # the finite limits at a large finite logit agree
    big = np.array([1e30, -1e30], dtype)
    assert fl.binary_cross_entropy_with_logits(big, np.array([1.0, 0.0], dtype), **kw) == 0.0


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("kw", [{}, {"alpha": None, "gamma": 0.0}, {"gamma": 1.0},
                                {"alpha": 0.5, "gamma": 1.5}, {"gamma": 0.5}],
                         ids=variant_id)
def test_sigmoid_focal_infinite_logits(dtype, kw):
    x = np.array([INF, -INF, INF, -INF, INF, -INF], dtype)
    y = np.array([1.0, 0.0, 0.0, 1.0, 0.5, 0.5], dtype)
    loss, g = _vg(fl.sigmoid_focal, x, y, reduction="none", **kw)
    # right classifications: 0 and 0
    assert loss[0] == 0.0 and loss[1] == 0.0, loss
    assert g[0] == 0.0 and g[1] == 0.0, g
    # wrong ones diverge
    assert np.all(loss[2:] == INF), loss
    # gradients are finite everywhere: the limit of a_t (1-p_t)^gamma (p - y) (the gamma term
    # carries p (1 - p) -> 0 faster than the cross-entropy grows)
    assert np.all(np.isfinite(g)), f"sigmoid_focal{kw} gradient at x=+-inf: {g}"
    alpha = kw.get("alpha", 0.25)
    gamma = kw.get("gamma", 2.0)
    p = (x > 0).astype(np.float64)
    yy = y.astype(np.float64)
    a_t = 1.0 if alpha is None else alpha * yy + (1 - alpha) * (1 - yy)
    b = yy * (1 - p) + (1 - yy) * p
    expected = a_t * b ** gamma * (p - yy)
    assert_close(g[2:], expected[2:].astype(dtype), **tolerance("float32_few_roundings"),
                 what="grad limit")


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("alpha, x, y", [(0.0, -INF, 1.0), (1.0, INF, 0.0)])
def test_sigmoid_focal_zero_alpha_term_is_zero_at_infinity(dtype, alpha, x, y):
    """alpha_t == 0 weighs the diverging term by exactly zero: the loss is 0 (as in
    binary_cross_entropy_with_logits, whose zero-coefficient terms contribute zero), not 0*inf."""
    loss, g = _vg(fl.sigmoid_focal, np.array([x], dtype), np.array([y], dtype),
                  alpha=alpha, reduction="none")
    assert loss[0] == 0.0 and g[0] == 0.0, (loss, g)


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_log_cosh_extremes(dtype):
    x = np.array([INF, -INF, 1e-8, -1e-8, 1e4, -1e4, 50.0, 1e30], dtype)
    loss, g = _vg(fl.log_cosh, x, np.zeros_like(x), reduction="none")
    assert loss[0] == INF and loss[1] == INF
    assert g[0] == 1.0 and g[1] == -1.0
    d = x[2:4].astype(np.float64)
    tiny = d * d / 2 - d ** 4 / 12  # log cosh d, Taylor, exact to far below an ulp here
    rel = np.abs(loss[2:4] - tiny) / tiny
    libm = tolerance("dtype_libm_or_sum", dtype)
    assert np.all(rel < libm["rtol"]), (loss[2:4], tiny)
    assert_close(g[2:4], np.tanh(d).astype(dtype), **libm)
    big = np.abs(x[4:].astype(np.float64)) - math.log(2.0)
    assert_close(loss[4:], big.astype(dtype), **tolerance("dtype_rounding", dtype),
                 what="log_cosh(big) = |d| - log 2")
    np.testing.assert_array_equal(g[4:], np.sign(x[4:]))
    # 1e4 - log 2 exactly as rounded by the dtype
    assert float(loss[4]) == float(dtype(1e4 - math.log(2.0)))


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_log_cosh_does_not_overflow_where_cosh_does(dtype):
    # float32 cosh overflows beyond ~89.4, float64 beyond ~710
    d = np.array([89.0, 100.0, 720.0, 1e6], dtype)
    loss = fl.log_cosh(d, np.zeros_like(d), reduction="none")
    assert np.all(np.isfinite(loss))
    assert_close(loss, (d.astype(np.float64) - math.log(2.0)).astype(dtype),
                 **tolerance("dtype_rounding", dtype))


INFINITE_ERRORS = [
    ("mse", {}, INF), ("huber", {}, 1.0), ("huber", {"delta": 0.5}, 0.5),
    ("smooth_l1", {}, 1.0), ("smooth_l1", {"beta": 0.0}, 1.0), ("mae", {}, 1.0),
    ("quantile", {"tau": 0.3}, 0.7), ("log_cosh", {}, 1.0)]
# an infinite error is a regression notion (the likelihoods' own infinities: test_likelihood.py)
_covers(INFINITE_ERRORS, CLASSIFICATION | LIKELIHOOD | DIVERGENCE | RANKING | METRIC | ADVERSARIAL)


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("name, kw, grad_at_inf", INFINITE_ERRORS)
def test_regression_infinite_errors(dtype, name, kw, grad_at_inf):
    fn = getattr(fl, name)
    x = np.array([INF, -INF, 1.0, 0.0], dtype)
    y = np.array([0.0, 0.0, -INF, INF], dtype)
    loss, g = _vg(fn, x, y, reduction="none", **kw)
    assert np.all(loss == INF), loss
    # d = x - y is +inf, -inf, +inf, -inf
    sign = np.array([1, -1, 1, -1])
    if name == "quantile":
        tau = kw["tau"]
        expected = np.where(sign > 0, 1 - tau, -tau)
    else:
        expected = sign * grad_at_inf
    np.testing.assert_array_equal(g, expected.astype(dtype))
    assert fn(x, y, **kw) == INF and fn(x, y, reduction="sum", **kw) == INF


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_mse_overflow_to_inf(dtype):
    big = np.finfo(dtype).max / 4
    loss = fl.mse(np.array([big], dtype), np.array([-big], dtype), reduction="none")
    assert loss[0] == INF


# ---------------------------------------------------------------------------------------------
# Huge logits
# ---------------------------------------------------------------------------------------------

HUGE_LOGITS = {
    np.float64: [[1e30, 0.0, -1e30], [0.0, 1e300, -1e300], [800.0, 0.0, -800.0],
                 [-1e30, -1e30, -1e30]],
    np.float32: [[1e30, 0.0, -1e30], [88.8, 0.0, -88.8], [-88.8, 88.8, 0.0],
                 [1e38, 0.0, -1e38]],  # losses up to 2e38 still fit float32
}


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("kw", [{}, {"label_smoothing": 0.1},
                                {"class_weight": np.array([0.5, 1.0, 1.5])}], ids=variant_id)
def test_cross_entropy_huge_logits(dtype, kw):
    x = np.array(HUGE_LOGITS[dtype], dtype)
    n = len(x)
    for t in range(3):
        target = np.full(n, t)
        loss, g = _vg(fl.cross_entropy, x, target, reduction="none", **kw)
        assert np.all(np.isfinite(loss)), (t, loss)
        assert np.all(np.isfinite(g)), (t, g)
        ref = reference.cross_entropy(x.astype(np.float64), target, reduction="none", **kw)
        ref_g = reference.cross_entropy_grad(x.astype(np.float64), target, reduction="none", **kw)
        finite = np.isfinite(ref)
        tol = REGISTRY["cross_entropy"].tol(dtype)
        assert_close(loss[finite], ref[finite].astype(dtype), **tol, what=f"loss, target {t}")
        assert_close(g, ref_g.astype(dtype), **tol, what=f"grad, target {t}")


def test_cross_entropy_huge_logits_exact_values():
    x = np.array([[1e30, 0.0, -1e30]])
    assert fl.cross_entropy(x, np.array([0])) == 0.0
    assert fl.cross_entropy(x, np.array([1])) == 1e30
    assert fl.cross_entropy(x, np.array([2])) == 2e30
    x32 = np.array([[88.8, 0.0, -88.8]], np.float32)
    loss = fl.cross_entropy(x32, np.array([1]))
    assert loss.dtype == np.float32 and float(loss) == pytest.approx(88.8, rel=1e-6)
    _, g = _vg(fl.cross_entropy, x32, np.array([1]))
    np.testing.assert_allclose(g, [[1.0, -1.0, 0.0]], **tolerance("float32_one_rounding"))


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("name", sorted(set(REGISTRY) - NO_SOFTMAX - DIVERGENCE - ADVERSARIAL
                                        - EMBEDDING - LISTWISE))
@pytest.mark.parametrize("t", [0, 1], ids=["target-is-inf", "target-is-finite"])
def test_plus_infinite_logit_gives_nan_like_pytorch(dtype, name, t):
    """+inf logit: PyTorch's log_softmax is inf - inf = nan for the whole row, whatever the
    target; fastloss's cross_entropy follows PyTorch (it is not among the documented deviations)
    and softmax_focal agrees with it."""
    x = np.array([[INF, 0.0, 0.0], [1.0, 2.0, 3.0]], dtype)
    loss, g = _vg(getattr(fl, name), x, np.array([t, 1]), reduction="none")
    assert np.isnan(loss[0]), f"{name}([inf, 0, 0], target {t}) = {loss[0]}, PyTorch gives nan"
    assert np.isnan(g[0, 0]), g[0]
    assert np.isfinite(loss[1]) and np.isfinite(g[1]).all()
    assert np.isnan(getattr(fl, name)(x, np.array([t, 1])))


MASKED_CLASSES = [("cross_entropy", {}), ("cross_entropy", {"label_smoothing": 0.0}),
                  ("softmax_focal", {}), ("softmax_focal", {"gamma": 0.5}),
                  ("multiclass_hinge", {}), ("nll", {}), ("structured_hinge", {}),
                  ("structured_hinge", {"rescaling": "slack"})]
# Masking classes needs a class axis and a class-index target: for the multi-label losses a
# -inf score is not a masked class but a confident "absent" (their own tests cover it); the
# divergences (per-class targets too) have theirs in test_divergence.py.
_covers(MASKED_CLASSES, POINTWISE | PER_CLASS_TARGET | DIVERGENCE | ADVERSARIAL | EMBEDDING | LISTWISE)


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("name, kw", MASKED_CLASSES,
                         ids=lambda v: variant_id(v) if isinstance(v, dict) else v)
def test_minus_infinite_logits_mask_classes(dtype, name, kw):
    """-inf on non-target classes (masking) is the same as leaving those classes out."""
    fn = getattr(fl, name)
    x = np.array([[0.5, -INF, 2.0, -INF], [-INF, 1.0, -1.0, 0.0]], dtype)
    t = np.array([0, 3])
    loss, g = _vg(fn, x, t, reduction="none", **kw)
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(g)), (loss, g)
    np.testing.assert_array_equal(g[np.isinf(x)], 0.0)
    if name != "multiclass_hinge":  # (the hinge's margin terms do depend on the class count)
        kept0, g0 = _vg(fn, x[:1, [0, 2]], np.array([0]), reduction="none", **kw)
        kept1, g1 = _vg(fn, x[1:, 1:], np.array([2]), reduction="none", **kw)
        tol = REGISTRY[name].tol(dtype)
        assert_close(loss, np.concatenate([kept0, kept1]), **tol)
        assert_close(g[0, [0, 2]], g0[0], **tol)
        assert_close(g[1, 1:], g1[0], **tol)


MINUS_INFINITE_TARGET = [("cross_entropy", {}), ("softmax_focal", {}),
                         ("softmax_focal", {"gamma": 0.5}),
                         ("softmax_focal", {"gamma": 1.0, "alpha": 0.5})]
# (p_t = 0 needs a softmax)
_covers(MINUS_INFINITE_TARGET, NO_SOFTMAX | DIVERGENCE | ADVERSARIAL | EMBEDDING | LISTWISE)


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("name, kw", MINUS_INFINITE_TARGET,
                         ids=lambda v: variant_id(v) if isinstance(v, dict) else v)
def test_minus_infinite_target_logit_diverges_with_finite_gradient(dtype, name, kw):
    """x_t = -inf: p_t = 0, the loss is +inf and the gradient has the finite limit
    softmax - onehot (the focal factor (1 - p_t)^gamma -> 1, and gamma p_t log p_t -> 0):
    the README's "infinite inputs give the mathematical limit where it exists"."""
    x = np.array([[0.0, -INF, 1.0]], dtype)
    loss, g = _vg(getattr(fl, name), x, np.array([1]), reduction="none", **kw)
    assert loss[0] == INF
    e = np.exp(np.array([0.0, 1.0]))
    alpha = kw.get("alpha", 1.0)
    expected = alpha * np.array([e[0] / e.sum(), -1.0, e[1] / e.sum()])
    assert np.all(np.isfinite(g)), f"{name}{kw} gradient at x_t = -inf: {g[0]}"
    assert_close(g[0], expected.astype(dtype), **REGISTRY[name].tol(dtype))


# ---------------------------------------------------------------------------------------------
# binary_cross_entropy: PyTorch's clamp
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_bce_clamps_log_at_minus_100(dtype):
    p = np.array([0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1e-60, 1e-50], dtype)
    y = np.array([1.0, 0.0, 0.0, 1.0, 0.5, 0.25, 1.0, 1.0], dtype)
    loss, g = _vg(fl.binary_cross_entropy, p, y, reduction="none")
    # 1e-60 and 1e-50: log(p) = -138 and -115, both clamped (1e-60 is 0 in float32)
    expected = np.array([100.0, 100.0, 0.0, 0.0, 50.0, 75.0, 100.0, 100.0])
    np.testing.assert_array_equal(loss, expected.astype(dtype))
    # (p - y) / max(p (1 - p), 1e-12)
    p64, y64 = p.astype(np.float64), y.astype(np.float64)
    expected_g = (p64 - y64) / np.maximum(p64 * (1 - p64), 1e-12)
    assert_close(g, expected_g.astype(dtype), **tolerance("dtype_rounding", dtype))
    assert np.isfinite(fl.binary_cross_entropy(p, y))


# ---------------------------------------------------------------------------------------------
# Empty inputs
# ---------------------------------------------------------------------------------------------

def _empty_shapes(kind):
    return [(0,), (0, 4), (2, 0, 3)] if kind == "pointwise" else [(0, 4), (2, 0, 3), (0, 1)]


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("spec, variant", ONE_LOSS_SHAPE_VARIANTS)
def test_empty_inputs(spec, variant, dtype):
    for shape in _empty_shapes(spec.kind):
        if spec.name in BATCH and len(shape) != 2:
            continue
        args, kw = make_inputs(spec, variant, rng_for("empty"), shape, dtype)
        loss_shape = shape if spec.kind == "pointwise" else shape[:-1]
        mean, g = _vg(spec.fn, *args, reduction="mean", **kw)
        # the mean of no element is nan, as PyTorch's; the listwise losses' mean over no list is
        # 0 (a batch of padding only trains nothing)
        no_mean = (lambda m: m == 0.0) if spec.mean_count == "valid_lists" else np.isnan
        assert mean.shape == () and mean.dtype == dtype and no_mean(mean), (shape, mean)
        assert g.shape == shape and g.dtype == dtype
        total, g = _vg(spec.fn, *args, reduction="sum", **kw)
        assert total.shape == () and total.dtype == dtype and total == 0.0
        assert g.shape == shape
        none, g = _vg(spec.fn, *args, reduction="none", **kw)
        assert none.shape == loss_shape and none.dtype == dtype
        assert g.shape == shape and g.dtype == dtype
        # with (empty) sample weights too
        w = np.ones(loss_shape)
        assert no_mean(spec.fn(*args, sample_weight=w, **kw))
        assert spec.fn(*args, sample_weight=w, reduction="sum", **kw) == 0.0


# ---------------------------------------------------------------------------------------------
# ignore_index
# ---------------------------------------------------------------------------------------------

ALL_IGNORED = [
    ("cross_entropy", {}), ("cross_entropy", {"label_smoothing": 0.2}),
    ("cross_entropy", {"class_weight": np.array([1.0, 2.0, 0.5, 3.0])}),
    ("softmax_focal", {}), ("softmax_focal", {"alpha": np.array([1.0, 2.0, 0.5, 3.0])}),
    ("softmax_focal", {"gamma": 0.0, "alpha": 0.25}),
    ("nll", {}), ("nll", {"class_weight": np.array([1.0, 2.0, 0.5, 3.0])})]
_covers(ALL_IGNORED, NOT_IGNORABLE | DIVERGENCE | ADVERSARIAL | EMBEDDING | LISTWISE)


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("name, kw", ALL_IGNORED,
                         ids=lambda v: variant_id(v) if isinstance(v, dict) else v)
def test_all_ignored_batch(dtype, name, kw):
    fn = getattr(fl, name)
    x = rng_for("ignored").standard_normal((5, 4)).astype(dtype)
    for ignore in (-100, 2):
        t = np.full(5, ignore)
        mean, g = _vg(fn, x, t, ignore_index=ignore, reduction="mean", **kw)
        assert np.isnan(mean), mean
        np.testing.assert_array_equal(g, np.zeros_like(x))
        total, g = _vg(fn, x, t, ignore_index=ignore, reduction="sum", grad_output=3.0, **kw)
        assert total == 0.0
        np.testing.assert_array_equal(g, np.zeros_like(x))
        none, g = _vg(fn, x, t, ignore_index=ignore, reduction="none", **kw)
        np.testing.assert_array_equal(none, np.zeros(5, dtype))
        np.testing.assert_array_equal(g, np.zeros_like(x))


IGNORED_ROWS = [
    ("cross_entropy", {}), ("cross_entropy", {"label_smoothing": 0.2}),
    ("cross_entropy", {"class_weight": np.array([1.0, 2.0, 0.5, 3.0]), "label_smoothing": 0.1}),
    ("softmax_focal", {}), ("softmax_focal", {"gamma": 0.5, "alpha": 0.25}),
    ("nll", {}), ("nll", {"class_weight": np.array([1.0, 2.0, 0.5, 3.0])})]
_covers(IGNORED_ROWS, NOT_IGNORABLE | DIVERGENCE | ADVERSARIAL | EMBEDDING | LISTWISE)


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("name, kw", IGNORED_ROWS,
                         ids=lambda v: variant_id(v) if isinstance(v, dict) else v)
def test_ignored_rows_have_zero_loss_and_gradient(dtype, name, kw):
    fn = getattr(fl, name)
    # Log-probabilities (a log-softmax, which the softmax losses do not see): every loss here,
    # nll too, is then positive on every kept row.
    z = rng_for("ign-rows").standard_normal((6, 4))
    x = (z - np.log(np.exp(z).sum(-1, keepdims=True))).astype(dtype)
    for ignore in (-100, -1, 3, 10):
        t = np.array([0, ignore, 1, 2, ignore, 0]) if ignore != 3 else np.array([0, 3, 1, 2, 3, 0])
        ignored = t == ignore
        loss, g = _vg(fn, x, t, ignore_index=ignore, reduction="none", **kw)
        np.testing.assert_array_equal(loss[ignored], 0.0)
        np.testing.assert_array_equal(g[ignored], 0.0)
        assert np.all(loss[~ignored] > 0)
        assert np.all(np.abs(g[~ignored]).sum(-1) > 0)
        # the kept rows are exactly the subset's values, and the mean excludes ignored rows
        sub_loss, sub_g = _vg(fn, x[~ignored], t[~ignored], ignore_index=ignore,
                              reduction="none", **kw)
        assert_bitwise(loss[~ignored], sub_loss)
        assert_bitwise(g[~ignored], sub_g)
        if "class_weight" not in kw:
            mean = fn(x, t, ignore_index=ignore, **kw)
            assert_close(mean, np.float64(sub_loss.astype(np.float64).mean()).astype(dtype),
                         **tolerance("dtype_libm_or_sum", dtype))


def test_ignored_class_index_target_may_be_any_int():
    x = np.zeros((2, 3))
    assert fl.cross_entropy(x, np.array([-7, 1]), ignore_index=-7, reduction="none")[0] == 0.0
    with pytest.raises(ValueError):
        fl.cross_entropy(x, np.array([-7, 1]))


# ---------------------------------------------------------------------------------------------
# 0-d inputs
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("spec, variant", POINTWISE_VARIANTS)
def test_zero_d_inputs(spec, variant, dtype):
    args, kw = make_inputs(spec, variant, rng_for("0d", spec.name), (), dtype)
    assert all(np.ndim(a) == 0 for a in args)
    args1 = tuple(np.reshape(a, (1,)) for a in args)
    for red in REDUCTIONS:
        loss, g = _vg(spec.fn, *args, reduction=red, **kw)
        assert isinstance(loss, np.ndarray) and loss.shape == () and loss.dtype == dtype
        assert isinstance(g, np.ndarray) and g.shape == () and g.dtype == dtype
        loss1, g1 = _vg(spec.fn, *args1, reduction=red, **kw)
        assert float(loss) == float(np.reshape(loss1, ())), red
        assert float(g) == float(g1[0]), red
        assert float(loss) == float(spec.fn(*args, reduction=red, **kw))
    # Python / NumPy scalars are 0-d inputs too
    loss = spec.fn(*(a[()] for a in args), **kw) if dtype == np.float64 else None
    if loss is not None:
        assert loss.shape == () and float(loss) == float(spec.fn(*args, **kw))


# (see DIVERGENCE, ADVERSARIAL and METRIC)
@pytest.mark.parametrize("name", sorted(set(REGISTRY) - POINTWISE - DIVERGENCE - ADVERSARIAL
                                        - EMBEDDING))
def test_one_d_logits_give_a_0d_loss(name):
    """A single row: logits (C,), target 0-d (or (C,) for the per-class targets)."""
    x = np.array([0.5, -1.0, 2.0])
    t = np.array(2) if name not in PER_CLASS_TARGET else \
        make_inputs(REGISTRY[name], {}, rng_for("1d", name), (1, 3), np.float64)[0][1][0]
    loss, g = _vg(getattr(fl, name), x, t, reduction="none")
    assert loss.shape == () and g.shape == (3,)
    loss2, g2 = _vg(getattr(fl, name), x[None], t[None], reduction="none")
    assert float(loss) == float(loss2[0])
    np.testing.assert_array_equal(g, g2[0])


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_rows_with_no_classes_are_an_empty_input_as_pytorch(reduction):
    # Probability targets over zero classes: each row's loss is an empty sum (0, as PyTorch), and
    # the mean of an empty input is nan (PyTorch: 0 / 0).
    logits = np.zeros((3, 0))
    loss, grad = fl.value_and_grad(fl.cross_entropy)(logits, np.zeros((3, 0)), reduction=reduction)
    expected = {"none": np.zeros(3), "sum": np.zeros(()), "mean": np.full((), np.nan)}[reduction]
    np.testing.assert_array_equal(loss, expected)
    assert grad.shape == (3, 0)


# Zero total weight ------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("kw", [{"label_smoothing": 0.0}, {"label_smoothing": 0.1},
                                {"label_smoothing": 0.1, "sample_weight": [1.0, 0.0, 2.0, 1.0]},
                                {"label_smoothing": 0.3, "axis": 0}], ids=variant_id)
def test_a_mean_over_zero_total_class_weight_is_nan_as_pytorch(dtype, kw):
    """Every kept target's class weight is 0: the mean divides by 0. PyTorch gives nan with a nan
    gradient on the kept rows and 0 on the ignored one, with or without label smoothing (whose
    term would make it +inf with +-inf gradients); so do fastloss and the reference."""
    x = rng_for("zero-weight").standard_normal((4, 3)).astype(dtype)
    t = np.array([0, 0, 1, -100])
    kw = {**kw, "class_weight": np.array([0.0, 0.0, 1.0])}
    if kw.get("axis") == 0:
        x = np.ascontiguousarray(x.T)
    mean, g = fl.value_and_grad(fl.cross_entropy)(x, t, **kw)
    assert np.isnan(mean), mean
    g_rows = np.moveaxis(g, kw.get("axis", -1), -1)
    assert np.isnan(g_rows[:3]).all(), g_rows
    np.testing.assert_array_equal(g_rows[3], 0.0)
    ref_kw = {k: np.asarray(v) if isinstance(v, list) else v for k, v in kw.items()}
    assert np.isnan(reference.cross_entropy(x.astype(np.float64), t, **ref_kw))
    np.testing.assert_array_equal(
        np.isnan(reference.cross_entropy_grad(x.astype(np.float64), t, **ref_kw)), np.isnan(g))
    # sum is unaffected: finite, and the reference's
    total = fl.cross_entropy(x, t, **{**kw, "reduction": "sum"})
    assert np.isfinite(total)


def test_zero_total_class_weight_matches_pytorch():
    torch = pytest.importorskip("torch")
    import fastloss.torch as flt
    x = torch.tensor(rng_for("zero-weight-torch").standard_normal((4, 3)), requires_grad=True)
    t = torch.tensor([0, 0, 1, -100])
    w = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)
    for smoothing in (0.0, 0.1):
        for loss_fn in (torch.nn.functional.cross_entropy, flt.cross_entropy):
            loss = loss_fn(x, t, weight=w, label_smoothing=smoothing)
            g, = torch.autograd.grad(loss, x)
            assert torch.isnan(loss), (loss_fn, smoothing)
            assert torch.isnan(g[:3]).all() and (g[3] == 0).all(), (loss_fn, smoothing, g)


def test_a_legitimately_infinite_mean_stays_infinite():
    # A -inf target logit: the loss is +inf with a non-zero denominator, not the case above.
    x = np.array([[-np.inf, 0.0, 0.0], [0.0, 1.0, 2.0]])
    loss = fl.cross_entropy(x, np.array([0, 1]), class_weight=np.array([1.0, 0.0, 1.0]),
                            label_smoothing=0.1)
    assert loss == np.inf
