"""Identities between fastloss calls that must hold for every registered loss.

Where two calls do the very same arithmetic (weights of ones, value_and_grad vs the plain call,
grad vs value_and_grad, none vs sum gradients, {0,1} vs {-1,1} hinge labels, axis=k vs moveaxis,
elementwise results of strided or unaligned inputs) the results must be bitwise equal. Where the
order of a sum or the rounding of an intermediate differs (a mean against the mean of the
per-element losses, a reduction of a strided input) they must agree to a few units in the last
place of the dtype. Where two losses are equal only mathematically (focal with gamma 0 against
cross entropy, one-hot targets against class indices) the registry tolerance applies.
"""

import math

import numpy as np
import pytest

import fastloss
from helpers import (POINTWISE, REGISTRY, ROWS, assert_bitwise, assert_close, make_inputs,
                     rng_for, variant_id)

DTYPES = (np.float32, np.float64)
DTYPE_IDS = ["f32", "f64"]
REDUCTIONS = ("mean", "sum", "none")

POINT_SHAPE = (3, 40, 33)   # 3960 elements: several chunks' worth of runs when strided
ROW_SHAPE = (3, 8, 37)      # 24 rows of 37 classes

# A few units in the last place: the allowed difference between two summation orders of the
# same float values (the sums run in double; float32 results are rounded once at the end).
ULPS = {np.dtype(np.float32): 4 * 2.0 ** -24, np.dtype(np.float64): 1e-13}


def _all_variants(names):
    return [pytest.param(n, v, id=f"{n}[{variant_id(v)}]")
            for n in names for v in REGISTRY[n].variants]


ALL = _all_variants(POINTWISE + ROWS)


def _shape(name):
    return POINT_SHAPE if REGISTRY[name].kind == "pointwise" else ROW_SHAPE


def _loss_shape(name, shape):
    return shape if REGISTRY[name].kind == "pointwise" else shape[:-1]


def _sample(name, variant, dtype, *key, shape=None):
    spec = REGISTRY[name]
    shape = _shape(name) if shape is None else shape
    rng = rng_for(name, variant_id(variant), np.dtype(dtype).name, *key)
    args, kwargs = make_inputs(spec, variant, rng, shape, dtype)
    return rng, args, kwargs


def _full_weights(rng, shape, dtype):
    w = rng.uniform(0.0, 2.0, shape)
    w[rng.random(shape) < 0.1] = 0.0
    return w.astype(dtype)


def _vg(name, *args, **kwargs):
    return fastloss.value_and_grad(REGISTRY[name].fn)(*args, **kwargs)


def _close_ulps(actual, expected, dtype, *, what, scale=None):
    """Agreement to a few ulps, relative to the magnitude `scale` (default max|expected|)."""
    e = np.asarray(expected, dtype=np.float64)
    if scale is None:
        scale = float(np.max(np.abs(e))) if e.size else 0.0
    err = np.abs(np.asarray(actual, dtype=np.float64) - e)
    bound = ULPS[np.dtype(dtype)] * (np.abs(e) + scale)
    assert np.all(err <= bound), (f"{what}: max |err| {float(np.max(err)):.3g} > allowed "
                                  f"{float(np.max(bound)):.3g}; got {np.asarray(actual)!r:.200}, "
                                  f"expected {e!r:.200}")


def _mean_denominator(name, args, kwargs, sw, loss_shape):
    """The documented mean denominator (the registry's mean count), in exact (fsum) arithmetic."""
    w = np.ones(loss_shape) if sw is None else np.broadcast_to(np.asarray(sw, np.float64),
                                                              loss_shape)
    return math.fsum((w * REGISTRY[name].mean_normaliser(args, kwargs)).ravel())


# ---- reductions against the per-element losses --------------------------------------------------

@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("name,variant", ALL)
def test_mean_and_sum_equal_reductions_of_none(name, variant, dtype, weighted):
    rng, args, kwargs = _sample(name, variant, dtype, "reductions", weighted)
    loss_shape = _loss_shape(name, args[0].shape)
    sw = _full_weights(rng, loss_shape, dtype) if weighted else None
    fn = REGISTRY[name].fn
    none = fn(*args, reduction="none", sample_weight=sw, **kwargs)
    total = fn(*args, reduction="sum", sample_weight=sw, **kwargs)
    mean = fn(*args, reduction="mean", sample_weight=sw, **kwargs)
    exact_sum = math.fsum(none.astype(np.float64).ravel())
    abs_sum = math.fsum(np.abs(none.astype(np.float64)).ravel())
    denominator = _mean_denominator(name, args, kwargs, sw, loss_shape)
    assert denominator > 0
    _close_ulps(total, exact_sum, dtype, what="sum vs fsum(none)", scale=abs_sum)
    _close_ulps(mean, exact_sum / denominator, dtype, what="mean vs fsum(none) / sum(w)",
                scale=abs_sum / denominator)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("name,variant", ALL)
def test_mean_gradient_is_sum_gradient_over_denominator(name, variant, dtype, weighted):
    rng, args, kwargs = _sample(name, variant, dtype, "mean-grad", weighted)
    loss_shape = _loss_shape(name, args[0].shape)
    sw = _full_weights(rng, loss_shape, dtype) if weighted else None
    _, g_sum = _vg(name, *args, reduction="sum", sample_weight=sw, grad_output=-0.6, **kwargs)
    _, g_mean = _vg(name, *args, reduction="mean", sample_weight=sw, grad_output=-0.6, **kwargs)
    denominator = _mean_denominator(name, args, kwargs, sw, loss_shape)
    _close_ulps(g_mean, g_sum.astype(np.float64) / denominator, dtype,
                what="mean gradient vs sum gradient / denominator")


# ---- identical arithmetic: bitwise --------------

@pytest.mark.parametrize("weights", ["full_ones", "broadcast_ones", "scalar_one"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("name,variant", ALL)
def test_weights_of_ones_are_no_weights(name, variant, dtype, reduction, weights):
    rng, args, kwargs = _sample(name, variant, dtype, "ones")
    loss_shape = _loss_shape(name, args[0].shape)
    sw = {"full_ones": np.ones(loss_shape, dtype),
          "broadcast_ones": np.ones(loss_shape[-1:], dtype),  # a (n,) view broadcast to the shape
          "scalar_one": 1.0}[weights]
    fn = REGISTRY[name].fn
    plain0 = fn(*args, reduction=reduction, **kwargs)
    plain1 = fn(*args, reduction=reduction, sample_weight=sw, **kwargs)
    assert_bitwise(plain1, plain0, what="loss with weights of ones (plain call)")
    g = 0.37 if reduction != "none" else rng.uniform(-1, 1, loss_shape).astype(dtype)
    v0, g0 = _vg(name, *args, reduction=reduction, grad_output=g, **kwargs)
    v1, g1 = _vg(name, *args, reduction=reduction, grad_output=g, sample_weight=sw, **kwargs)
    assert_bitwise(v1, v0, what="loss with weights of ones (value_and_grad)")
    assert_bitwise(g1, g0, what="gradient with weights of ones")


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("name,variant", ALL)
def test_value_and_grad_and_grad_agree_with_the_plain_call(name, variant, dtype, reduction):
    rng, args, kwargs = _sample(name, variant, dtype, "vg")
    loss_shape = _loss_shape(name, args[0].shape)
    sw = _full_weights(rng, loss_shape, dtype)
    g = -1.3 if reduction != "none" else rng.uniform(-1, 1, loss_shape).astype(dtype)
    fn = REGISTRY[name].fn
    plain = fn(*args, reduction=reduction, sample_weight=sw, **kwargs)
    value, grad = fastloss.value_and_grad(fn)(*args, reduction=reduction, sample_weight=sw,
                                              grad_output=g, **kwargs)
    only_grad = fastloss.grad(fn)(*args, reduction=reduction, sample_weight=sw, grad_output=g,
                                  **kwargs)
    assert_bitwise(value, plain, what="value_and_grad value vs plain call")
    assert_bitwise(only_grad, grad, what="grad vs value_and_grad gradient")


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("name,variant", ALL)
def test_none_gradient_is_the_gradient_of_the_sum(name, variant, dtype, weighted):
    rng, args, kwargs = _sample(name, variant, dtype, "none-sum", weighted)
    loss_shape = _loss_shape(name, args[0].shape)
    sw = _full_weights(rng, loss_shape, dtype) if weighted else None
    _, g_none = _vg(name, *args, reduction="none", sample_weight=sw, **kwargs)
    _, g_sum = _vg(name, *args, reduction="sum", sample_weight=sw, **kwargs)
    _, g_ones = _vg(name, *args, reduction="none", sample_weight=sw,
                    grad_output=np.ones(loss_shape, dtype), **kwargs)
    assert_bitwise(g_none, g_sum, what="none gradient (no grad_output) vs sum gradient")
    assert_bitwise(g_ones, g_none, what="none gradient with grad_output=ones vs default")


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("name,variant", ALL)
def test_none_grad_output_scales_each_element(name, variant, dtype):
    rng, args, kwargs = _sample(name, variant, dtype, "scaling")
    loss_shape = _loss_shape(name, args[0].shape)
    g = rng.uniform(-2, 2, loss_shape).astype(dtype)
    g[rng.random(loss_shape) < 0.1] = 0.0
    _, base = _vg(name, *args, reduction="none", **kwargs)
    _, scaled = _vg(name, *args, reduction="none", grad_output=g, **kwargs)
    g_b = g if REGISTRY[name].kind == "pointwise" else g[..., None]
    expected = base.astype(np.float64) * g_b.astype(np.float64)
    _close_ulps(scaled, expected, dtype, what="gradient with grad_output array vs scaled")
    # rows whose upstream gradient is 0 have a zero gradient (no nan, no leftovers)
    assert np.all(np.asarray(scaled)[np.broadcast_to(g_b == 0, base.shape)] == 0)


# ---- the class axis ---------------------------------------------------------------------------

@pytest.mark.parametrize("axis", [0, 1, -2, -3])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("name,variant", _all_variants(ROWS))
def test_axis_k_equals_moveaxis(name, variant, dtype, reduction, axis):
    rng, args, kwargs = _sample(name, variant, dtype, "axis")
    x, t = args
    loss_shape = x.shape[:-1]
    sw = _full_weights(rng, loss_shape, dtype)
    g = 0.8 if reduction != "none" else rng.uniform(-1, 1, loss_shape).astype(dtype)
    v_last, g_last = _vg(name, x, t, reduction=reduction, sample_weight=sw, grad_output=g,
                         **kwargs)
    k = axis % x.ndim
    x_k = np.moveaxis(x, -1, k)
    t_k = np.moveaxis(t, -1, k) if t.shape == x.shape else t  # a target per class moves too
    # and so does a keyword array of the logits' shape (the ranking losses' mask)
    kwargs = {key: np.moveaxis(v, -1, k) if np.shape(v) == x.shape else v
              for key, v in kwargs.items()}
    v_k, g_k = _vg(name, x_k, t_k, axis=axis, reduction=reduction, sample_weight=sw,
                   grad_output=g, **kwargs)
    assert g_k.shape == x_k.shape
    assert_bitwise(v_k, v_last, what=f"loss with axis={axis}")
    assert_bitwise(g_k, np.moveaxis(g_last, -1, k), what=f"gradient with axis={axis}")
    # the same with contiguous logits laid out with the class axis at k
    x_kc, t_kc = np.ascontiguousarray(x_k), np.ascontiguousarray(t_k)
    kwargs = {key: np.ascontiguousarray(v) if np.shape(v) == x_k.shape else v
              for key, v in kwargs.items()}
    v_kc, g_kc = _vg(name, x_kc, t_kc, axis=axis, reduction=reduction, sample_weight=sw,
                     grad_output=g, **kwargs)
    assert_bitwise(v_kc, v_last, what=f"loss with contiguous axis={axis}")
    assert_bitwise(g_kc, np.moveaxis(g_last, -1, k), what=f"gradient with contiguous axis={axis}")


# ---- hyper-parameters that reduce one loss to another --------------------------------------------

def _row_inputs(dtype, key, shape=ROW_SHAPE, ignore=True):
    rng = rng_for("row-inputs", np.dtype(dtype).name, key)
    x = (rng.standard_normal(shape) * 2).astype(dtype)
    t = rng.integers(0, shape[-1], shape[:-1])
    if ignore:
        t = np.where(rng.random(t.shape) < 0.2, -100, t)
    return rng, x, t


def _assert_same_loss(a, b, dtype, name, what):
    t = REGISTRY[name].tol(dtype)
    assert_close(a, b, t["rtol"], t["atol"], what=what)


PER_CLASS_WEIGHTS = [
    ("cross_entropy", "class_weight", {}),
    ("cross_entropy", "class_weight", {"label_smoothing": 0.2}),
    ("multiclass_hinge", "class_weight", {}),
    ("multiclass_hinge", "class_weight", {"kind": "crammer_singer", "squared": True}),
    ("softmax_focal", "alpha", {}),
    ("nll", "class_weight", {}),
    ("multilabel_soft_margin", "class_weight", {}),
]
# Every row loss but multilabel_margin, which has no per-class weights (as PyTorch's), the
# divergences of two logits arrays and the listwise ranking losses (items, not classes); the
# pointwise losses have none either.
assert {c[0] for c in PER_CLASS_WEIGHTS} == set(ROWS) - {"multilabel_margin"} - {
    n for n in ROWS if REGISTRY[n].family in ("divergence", "ranking")}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("name,weight_arg,extra", PER_CLASS_WEIGHTS)
def test_class_weight_of_ones_is_none(name, weight_arg, extra, dtype, reduction):
    rng, x, t = _row_inputs(dtype, "ones-cw", ignore=name != "multiclass_hinge")
    if name == "multiclass_hinge":
        x = (rng.integers(-16, 17, x.shape) / 8).astype(dtype)
    if name == "multilabel_soft_margin":  # a 0/1 target per class
        t = (rng.random(x.shape) < 0.3).astype(dtype)
    sw = _full_weights(rng, t.shape[:x.ndim - 1], dtype)
    kw = dict(extra, reduction=reduction, sample_weight=sw)
    v0, g0 = _vg(name, x, t, grad_output=0.5 if reduction != "none" else None, **kw)
    v1, g1 = _vg(name, x, t, grad_output=0.5 if reduction != "none" else None,
                 **{weight_arg: np.ones(x.shape[-1])}, **kw)
    _close_ulps(v1, v0, dtype, what=f"{weight_arg}=ones loss")
    _close_ulps(g1, g0, dtype, what=f"{weight_arg}=ones gradient")


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("with_alpha,reduction", [
    pytest.param(False, r, id=f"alpha=None-{r}") for r in REDUCTIONS
] + [
    # with per-class alpha only none/sum agree: focal's mean divides by the kept rows, cross
    # entropy's by the sum of the class weights (documented; checked by the test below)
    pytest.param(True, r, id=f"alpha=class_weight-{r}") for r in ("sum", "none")
])
def test_softmax_focal_gamma0_is_cross_entropy(with_alpha, dtype, reduction):
    rng, x, t = _row_inputs(dtype, "focal-ce")
    cw = rng.uniform(0.2, 2.0, x.shape[-1]) if with_alpha else None
    sw = _full_weights(rng, t.shape, dtype)
    g = -0.7 if reduction != "none" else rng.uniform(-1, 1, t.shape).astype(dtype)
    vf, gf = _vg("softmax_focal", x, t, gamma=0.0, alpha=cw, reduction=reduction,
                 sample_weight=sw, grad_output=g)
    vc, gc = _vg("cross_entropy", x, t, class_weight=cw, reduction=reduction,
                 sample_weight=sw, grad_output=g)
    _assert_same_loss(vf, vc, dtype, "softmax_focal", "focal(gamma=0) loss vs cross entropy")
    _assert_same_loss(gf, gc, dtype, "softmax_focal", "focal(gamma=0) gradient vs cross entropy")


def test_softmax_focal_gamma0_weighted_mean_differs_from_cross_entropy_as_documented():
    # The other side of the skip above: focal's mean divides by the number of kept rows.
    rng, x, t = _row_inputs(np.float64, "focal-ce-mean")
    cw = rng.uniform(0.2, 2.0, x.shape[-1])
    kept = t != -100
    focal = fastloss.softmax_focal(x, t, gamma=0.0, alpha=cw, reduction="mean")
    ce_sum = fastloss.cross_entropy(x, t, class_weight=cw, reduction="sum")
    assert_close(focal, ce_sum / kept.sum(), 1e-12, 1e-13, what="focal mean = sum / kept rows")


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_sigmoid_focal_gamma0_alpha_none_is_bce_with_logits(dtype, reduction):
    spec = REGISTRY["binary_cross_entropy_with_logits"]
    rng = rng_for("sigmoid-focal-bce", np.dtype(dtype).name, reduction)
    (x, y), _ = make_inputs(spec, {}, rng, POINT_SHAPE, dtype)
    g = 1.9 if reduction != "none" else rng.uniform(-1, 1, x.shape).astype(dtype)
    vf, gf = _vg("sigmoid_focal", x, y, alpha=None, gamma=0.0, reduction=reduction,
                 grad_output=g)
    vb, gb = _vg("binary_cross_entropy_with_logits", x, y, reduction=reduction, grad_output=g)
    _assert_same_loss(vf, vb, dtype, "sigmoid_focal", "sigmoid_focal(gamma=0) loss vs BCE")
    _assert_same_loss(gf, gb, dtype, "sigmoid_focal", "sigmoid_focal(gamma=0) gradient vs BCE")


def _regression_pair(dtype, key, exact_ties=True):
    rng = rng_for("regression-pair", np.dtype(dtype).name, key)
    x = (rng.standard_normal(POINT_SHAPE) * 2).astype(dtype)
    y = rng.standard_normal(POINT_SHAPE).astype(dtype)
    if exact_ties:
        tie = rng.random(POINT_SHAPE) < 0.05
        y[tie] = x[tie]  # d == 0 exactly: the subgradient must agree too
    return rng, x, y


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_smooth_l1_beta0_is_mae(dtype, reduction):
    rng, x, y = _regression_pair(dtype, "smooth-l1")
    g = 0.37 if reduction != "none" else rng.uniform(-1, 1, x.shape).astype(dtype)
    vs, gs = _vg("smooth_l1", x, y, beta=0.0, reduction=reduction, grad_output=g)
    vm, gm = _vg("mae", x, y, reduction=reduction, grad_output=g)
    _close_ulps(vs, vm, dtype, what="smooth_l1(beta=0) loss vs mae")
    _close_ulps(gs, gm, dtype, what="smooth_l1(beta=0) gradient vs mae")


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_quantile_half_is_half_mae(dtype, reduction):
    rng, x, y = _regression_pair(dtype, "quantile-half")
    g = 0.37 if reduction != "none" else rng.uniform(-1, 1, x.shape).astype(dtype)
    vq, gq = _vg("quantile", x, y, tau=0.5, reduction=reduction, grad_output=g)
    vm, gm = _vg("mae", x, y, reduction=reduction, grad_output=g)
    _close_ulps(vq, 0.5 * vm.astype(np.float64), dtype, what="quantile(0.5) loss vs mae / 2")
    _close_ulps(gq, 0.5 * gm.astype(np.float64), dtype, what="quantile(0.5) gradient vs mae / 2")


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_quantile_tau_array_is_per_column_scalar_tau(dtype):
    rng, x, y = _regression_pair(dtype, "quantile-columns")
    taus = rng.uniform(0.05, 0.95, x.shape[-1])
    g = rng.uniform(-1, 1, x.shape).astype(dtype)
    v, gr = _vg("quantile", x, y, tau=taus, reduction="none", grad_output=g)
    for k, tau_k in enumerate(taus):
        vk, gk = _vg("quantile", x[..., k], y[..., k], tau=float(tau_k), reduction="none",
                     grad_output=g[..., k])
        assert_bitwise(v[..., k], vk, what=f"quantile column {k} loss")
        assert_bitwise(gr[..., k], gk, what=f"quantile column {k} gradient")
    # and the reductions are the sums over the columns
    total = fastloss.quantile(x, y, tau=taus, reduction="sum")
    columns = math.fsum(float(fastloss.quantile(x[..., k], y[..., k], tau=float(t),
                                                reduction="sum")) for k, t in enumerate(taus))
    _close_ulps(total, columns, dtype, what="quantile tau-array sum vs column sums")


SIGNED_LABELS = ["hinge", "squared_hinge"]
# The other losses' targets are real numbers (regression), probabilities in [0, 1] (their
# domain says so) or class indices (rows): none has a {-1, 1} encoding to compare.
# soft_margin's target is any real number scaling the margin, as PyTorch's: 0 is not -1 there;
# so is margin_ranking's preference y (its second array is a score); hinge_embedding reads a
# label other than +-1 (0 included) as PyTorch does: both terms; the embedding losses' second
# array is another embedding.
OTHER_TARGETS = {n for n, s in REGISTRY.items()
                 if s.family in ("regression", "likelihood", "ranking", "metric")
                 or "target" in s.domain or s.kind == "row"
                 or s.family == "adversarial"} | {  # GAN: no target
                     "soft_margin"}
assert set(SIGNED_LABELS) | OTHER_TARGETS == set(REGISTRY)
assert not set(SIGNED_LABELS) & OTHER_TARGETS


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("name", SIGNED_LABELS)
@pytest.mark.parametrize("label_dtype", [np.int64, np.int8, np.float32, np.float64])
def test_hinge_zero_one_labels_are_minus_one_one(name, label_dtype, dtype, reduction):
    rng = rng_for(name, "labels", np.dtype(dtype).name, reduction)
    (f, y), _ = make_inputs(REGISTRY[name], {}, rng, POINT_SHAPE, dtype)
    g = 0.37 if reduction != "none" else rng.uniform(-1, 1, f.shape).astype(dtype)
    signed = y.astype(label_dtype)
    zero_one = np.where(y > 0, 1, 0).astype(label_dtype)
    v1, g1 = _vg(name, f, signed, reduction=reduction, grad_output=g)
    v0, g0 = _vg(name, f, zero_one, reduction=reduction, grad_output=g)
    assert_bitwise(v0, v1, what="{0,1} labels loss vs {-1,1}")
    assert_bitwise(g0, g1, what="{0,1} labels gradient vs {-1,1}")


def _one_hot(t, classes, dtype):
    return (t[..., None] == np.arange(classes)).astype(dtype)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("extra", [{}, {"label_smoothing": 0.15}, {"class_weight": "per_class"},
                                   {"class_weight": "per_class", "label_smoothing": 0.3}],
                         ids=variant_id)
def test_cross_entropy_one_hot_targets_are_class_indices(extra, dtype, reduction):
    rng, x, t = _row_inputs(dtype, "one-hot", ignore=False)
    kw = dict(extra)
    if kw.get("class_weight") == "per_class":
        kw["class_weight"] = rng.uniform(0.2, 2.0, x.shape[-1])
        if reduction == "mean":
            # dense targets divide by the row count, class indices by sum(c[t]) (as PyTorch)
            vi = fastloss.cross_entropy(x, t, reduction="mean", **kw)
            vd = fastloss.cross_entropy(x, _one_hot(t, x.shape[-1], dtype), reduction="mean",
                                        **kw)
            denominator = kw["class_weight"][t].sum()
            _assert_same_loss(vd, vi.astype(np.float64) * denominator / t.size, dtype,
                              "cross_entropy", "dense mean vs index mean (rescaled)")
            return
    sw = _full_weights(rng, t.shape, dtype)
    g = 0.9 if reduction != "none" else rng.uniform(-1, 1, t.shape).astype(dtype)
    vi, gi = _vg("cross_entropy", x, t, reduction=reduction, sample_weight=sw, grad_output=g, **kw)
    vd, gd = _vg("cross_entropy", x, _one_hot(t, x.shape[-1], dtype), reduction=reduction,
                 sample_weight=sw, grad_output=g, **kw)
    _assert_same_loss(vd, vi, dtype, "cross_entropy", "one-hot loss vs class-index loss")
    _assert_same_loss(gd, gi, dtype, "cross_entropy", "one-hot gradient vs class-index gradient")


def _smoothing_cases():
    out = []
    for weighted_classes in (False, True):
        for target in ("index", "dense"):
            for reduction in REDUCTIONS:
                # index targets with class weights divide the mean by sum(c[t]), dense targets
                # by the row count: that pair agrees for none/sum only
                if weighted_classes and target == "index" and reduction == "mean":
                    continue
                out.append(pytest.param(weighted_classes, target, reduction,
                                        id=f"{'cw' if weighted_classes else 'no_cw'}-{target}-"
                                           f"{reduction}"))
    return out


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("smoothing", [0.1, 0.5, 1.0])
@pytest.mark.parametrize("weighted_classes,target,reduction", _smoothing_cases())
def test_label_smoothing_is_the_smoothed_target(smoothing, target, dtype, reduction,
                                                weighted_classes):
    rng, x, t = _row_inputs(dtype, "smoothing", ignore=False)
    C = x.shape[-1]
    cw = rng.uniform(0.2, 2.0, C) if weighted_classes else None
    if target == "index":
        y, base = t, _one_hot(t, C, np.float64)
    else:
        y = rng.random(x.shape)
        y = (y / y.sum(-1, keepdims=True)).astype(dtype)
        base = y.astype(np.float64)
    smoothed = ((1 - smoothing) * base + smoothing / C).astype(dtype)
    g = 0.9 if reduction != "none" else rng.uniform(-1, 1, t.shape).astype(dtype)
    v1, g1 = _vg("cross_entropy", x, y, label_smoothing=smoothing, class_weight=cw,
                 reduction=reduction, grad_output=g)
    v2, g2 = _vg("cross_entropy", x, smoothed, class_weight=cw, reduction=reduction,
                 grad_output=g)
    tolerance = REGISTRY["cross_entropy"].tol(dtype)
    if np.dtype(dtype) == np.float32:
        # the smoothed target itself is rounded to float32 (relative 6e-8 per entry)
        tolerance = {"rtol": max(tolerance["rtol"], 1e-6), "atol": max(tolerance["atol"], 1e-6)}
    assert_close(v1, v2, what="label_smoothing loss vs smoothed target", **tolerance)
    assert_close(g1, g2, what="label_smoothing gradient vs smoothed target", **tolerance)


# ---- inputs: never modified; any memory layout -------------------------------------------------

def _kwarg_arrays(kwargs):
    return {k: np.array(v, copy=True) for k, v in kwargs.items() if isinstance(v, np.ndarray)}


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("name,variant", ALL)
def test_inputs_are_never_modified(name, variant, dtype):
    rng, args, kwargs = _sample(name, variant, dtype, "unmodified")
    loss_shape = _loss_shape(name, args[0].shape)
    sw = _full_weights(rng, loss_shape, dtype)
    g = rng.uniform(-1, 1, loss_shape).astype(dtype)
    before = [np.array(a, copy=True) for a in (*args, sw, g)]
    before_kw = _kwarg_arrays(kwargs)
    fn = REGISTRY[name].fn
    for reduction in REDUCTIONS:
        fn(*args, reduction=reduction, sample_weight=sw, **kwargs)
        fastloss.value_and_grad(fn)(*args, reduction=reduction, sample_weight=sw,
                                    grad_output=g if reduction == "none" else 0.5, **kwargs)
    for b, a in zip(before, (*args, sw, g)):
        assert_bitwise(a, b, what="an input array was modified")
    for k, b in before_kw.items():
        assert_bitwise(kwargs[k], b, what=f"keyword array {k} was modified")


def _unaligned_copy(a):
    """A copy of `a` whose data pointer is 1 byte off the dtype's alignment."""
    a = np.ascontiguousarray(a)
    buf = bytearray(a.nbytes + 1)
    out = np.frombuffer(buf, dtype=a.dtype, count=a.size, offset=1).reshape(a.shape)
    out[...] = a
    assert out.ctypes.data % a.dtype.alignment != 0 or a.dtype.alignment == 1
    return out


def _layout(kind, a):
    """A view with the values of `a` (ndim >= 2 where layouts differ) in another memory layout."""
    a = np.asarray(a)
    if a.ndim == 0:
        return a
    if kind == "strided":
        big = np.zeros(tuple(2 * s for s in a.shape), a.dtype)
        view = big[(slice(None, None, 2),) * a.ndim]
        view[...] = a
        return view
    if kind == "transposed":  # the two leading axes swapped in memory, last axis contiguous
        if a.ndim < 2:
            return _layout("negative", a)
        perm = (1, 0) + tuple(range(2, a.ndim))
        return np.ascontiguousarray(a.transpose(perm)).transpose(perm)
    if kind == "fortran":
        return np.asfortranarray(a)
    if kind == "negative":
        rev = (slice(None, None, -1),) * a.ndim
        return np.ascontiguousarray(a[rev])[rev]
    if kind == "readonly":
        out = np.array(a, copy=True)
        out.flags.writeable = False
        return out
    if kind == "unaligned":
        return _unaligned_copy(a)
    raise AssertionError(kind)


LAYOUTS = ["strided", "transposed", "fortran", "negative", "readonly", "unaligned"]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("name,variant", ALL)
def test_memory_layout_does_not_change_results(name, variant, dtype, layout):
    rng, args, kwargs = _sample(name, variant, dtype, "layout")
    loss_shape = _loss_shape(name, args[0].shape)
    sw = _full_weights(rng, loss_shape, dtype)
    g = rng.uniform(-1, 1, loss_shape).astype(dtype)
    views = [_layout(layout, a) for a in args]
    sw_v, g_v = _layout(layout, sw), _layout(layout, g)
    for v, a in zip(views, args):
        np.testing.assert_array_equal(v, a)
    if layout == "readonly":
        assert not views[0].flags.writeable
    elif layout == "unaligned":
        assert not views[0].flags.aligned
    else:
        assert not views[0].flags.c_contiguous
    fn = REGISTRY[name].fn
    vg = fastloss.value_and_grad(fn)
    for reduction in REDUCTIONS:
        up_v, up = (g_v, g) if reduction == "none" else (0.7, 0.7)
        value_v, grad_v = vg(*views, reduction=reduction, sample_weight=sw_v, grad_output=up_v,
                             **kwargs)
        value, grad = vg(*args, reduction=reduction, sample_weight=sw, grad_output=up, **kwargs)
        plain_v = fn(*views, reduction=reduction, sample_weight=sw_v, **kwargs)
        assert_bitwise(grad_v, grad, what=f"{layout} gradient ({reduction})")
        if reduction == "none":
            assert_bitwise(value_v, value, what=f"{layout} loss (none)")
        else:
            # the reduction's summation order follows the memory walk: same value to a few ulps
            _close_ulps(value_v, value, dtype, what=f"{layout} loss ({reduction})")
        assert_bitwise(plain_v, value_v, what=f"{layout} plain call vs value_and_grad")
