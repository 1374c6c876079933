"""kl_divergence, js_divergence and distillation: the kernels against the float64 reference
(both dtypes, every reduction, 2-D and 3-D, another class axis), finite differences for both
logits arrays, PyTorch and optax as oracles, the equivalences the formulas promise, and the edge
cases of two logits arrays (a one-hot teacher's -inf logits, large temperatures, ignored rows).
The registry-driven suites (test_kernels, test_hypothesis, test_threads, ...) cover them too."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import fastloss as fl
from fastloss import reference
from fastloss._registry import REGISTRY
from finite_differences import numerical_gradient
from helpers import assert_bitwise, assert_close, rng_for, tolerance

DTYPES = (np.float32, np.float64)
DT_IDS = ("float32", "float64")
REDUCTIONS = ("mean", "sum", "none")
NAMES = ("kl_divergence", "js_divergence", "distillation")
INF = np.inf

# (name, kwargs) worth running everywhere below; distillation's labels come from _inputs.
CASES = [("kl_divergence", {}), ("kl_divergence", {"temperature": 3.0}),
         ("js_divergence", {}), ("js_divergence", {"beta": 0.2, "temperature": 0.7}),
         ("distillation", {}), ("distillation", {"t2_scale": False, "alpha": 0.2, "beta": 1.5}),
         ("distillation", {"labels": None, "temperature": 4.0})]
CASE_IDS = [f"{n}-{i}" for i, (n, _) in enumerate(CASES)]


def _optional(module):
    try:
        return importlib.import_module(module)
    except Exception as exc:  # noqa: BLE001 (a broken install is a skip too)
        pytest.skip(f"{module} is not importable: {exc}")


def _inputs(name, kwargs, dtype, shape=(6, 9), axis=-1, key="inputs"):
    """Two logits arrays of `shape` and, for distillation (unless labels=None is asked for),
    labels of the rows' shape with every fourth row ignored."""
    rng = rng_for("divergence", key, name, np.dtype(dtype).name, shape, axis)
    x = (rng.standard_normal(shape) * 2).astype(dtype)
    y = (rng.standard_normal(shape) * 2).astype(dtype)
    kw = dict(kwargs, axis=axis)
    if name == "distillation" and "labels" not in kwargs:
        outer = tuple(s for d, s in enumerate(shape) if d != axis % len(shape))
        t = rng.integers(0, shape[axis], outer)
        t.reshape(-1)[::4] = -100
        kw["labels"] = t
    return x, y, kw


def _both(name, x, y, kw, **extra):
    return fl.value_and_grad(getattr(fl, name), argnums=(0, 1))(x, y, **kw, **extra)


def _reference_both(name, x, y, kw, **extra):
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    ref = getattr(reference, name)
    ref_grad = getattr(reference, name + "_grad")
    value = ref(x64, y64, **kw, **{k: v for k, v in extra.items() if k != "grad_output"})
    return value, ref_grad(x64, y64, argnums=(0, 1), **kw, **extra)


# ---- the kernel against the reference -------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape,axis", [((6, 9), -1), ((3, 4, 7), -1), ((3, 7, 4), 1),
                                        ((5, 2, 3), 0), ((1, 2500), -1)])
@pytest.mark.parametrize("name,kwargs", CASES, ids=CASE_IDS)
def test_kernel_matches_reference(name, kwargs, shape, axis, reduction, dtype):
    x, y, kw = _inputs(name, kwargs, dtype, shape, axis)
    loss_shape = tuple(s for d, s in enumerate(shape) if d != axis % len(shape))
    rng = rng_for("upstream", name, shape, axis)
    upstream = rng.uniform(-2, 2, loss_shape) if reduction == "none" else -1.75
    value, (gx, gy) = _both(name, x, y, kw, reduction=reduction, grad_output=upstream)
    ref, (rgx, rgy) = _reference_both(name, x, y, kw, reduction=reduction, grad_output=upstream)
    t = REGISTRY[name].tol(dtype)
    assert value.dtype == gx.dtype == gy.dtype == np.dtype(dtype)
    assert gx.shape == gy.shape == shape
    assert_close(value, np.asarray(ref).astype(dtype), **t, what=f"{name} value")
    assert_close(gx, rgx.astype(dtype), **t, what=f"{name} d/d first")
    assert_close(gy, rgy.astype(dtype), **t, what=f"{name} d/d second")
    # argnums (0,) and (1,) alone: the same pass, the same bits
    g0 = fl.grad(getattr(fl, name))(x, y, **kw, reduction=reduction, grad_output=upstream)
    g1 = fl.grad(getattr(fl, name), argnums=1)(x, y, **kw, reduction=reduction,
                                               grad_output=upstream)
    assert_bitwise(g0, gx, what="argnums=0")
    assert_bitwise(g1, gy, what="argnums=1")
    assert_bitwise(getattr(fl, name)(x, y, **kw, reduction=reduction), value, what="plain call")


@pytest.mark.parametrize("name,kwargs", CASES, ids=CASE_IDS)
def test_axis_equals_moveaxis(name, kwargs):
    x, y, kw = _inputs(name, kwargs, np.float64, (3, 4, 7))
    moved_kw = dict(kw, axis=1)
    value, (gx, gy) = _both(name, x, y, kw, reduction="none")
    moved, (mx, my) = _both(name, np.moveaxis(x, -1, 1), np.moveaxis(y, -1, 1), moved_kw,
                            reduction="none")
    assert_bitwise(moved, value)
    assert_bitwise(mx, np.moveaxis(gx, -1, 1))
    assert_bitwise(my, np.moveaxis(gy, -1, 1))


# ---- gradients by central differences, both logits arrays -------------------------------------

@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name,kwargs", CASES, ids=CASE_IDS)
def test_kernel_gradients_match_central_differences(name, kwargs, reduction):
    x, y, kw = _inputs(name, kwargs, np.float64, (4, 5), key="fd")
    rng = rng_for("fd-upstream", name, reduction)
    upstream = rng.uniform(-2, 2, (4,)) if reduction == "none" else 0.6
    _, grads = _both(name, x, y, kw, reduction=reduction, grad_output=upstream)
    kw = dict(kw, reduction=reduction)
    fd = tolerance("finite_difference")
    for argnum, g in enumerate(grads):
        numeric = numerical_gradient(getattr(reference, name), (x, y), argnum, kw, upstream)
        scale = max(1.0, float(np.max(np.abs(numeric))))
        np.testing.assert_allclose(g, numeric, rtol=fd["rtol"], atol=fd["atol"] * scale)


# ---- oracles --------------------------------------------------------------------------------------

def _torch_rows(torch, F, x, y, temperature):
    lp = F.log_softmax(x / temperature, dim=-1)
    lq = F.log_softmax(y / temperature, dim=-1)
    return F.kl_div(lq, lp, reduction="none", log_target=True).sum(-1)


@pytest.mark.parametrize("temperature", [1.0, 2.5])
def test_kl_divergence_matches_torch_kl_div_batchmean(temperature):
    torch = _optional("torch")
    F = torch.nn.functional
    x, y, _ = _inputs("kl_divergence", {}, np.float64, (8, 11), key="torch")
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.tensor(y, requires_grad=True)
    ref = F.kl_div(F.log_softmax(yt / temperature, 1), F.log_softmax(xt / temperature, 1),
                   reduction="batchmean", log_target=True)
    (ref * 1.5).backward()
    value, (gx, gy) = _both("kl_divergence", x, y, {"temperature": temperature},
                            grad_output=1.5)
    t = tolerance("torch_float64")
    np.testing.assert_allclose(value, ref.item(), **t)
    np.testing.assert_allclose(gx, xt.grad.numpy(), **t)
    np.testing.assert_allclose(gy, yt.grad.numpy(), **t)


@pytest.mark.parametrize("t2_scale", [True, False])
def test_distillation_matches_torch_composed_with_cross_entropy(t2_scale):
    torch = _optional("torch")
    F = torch.nn.functional
    x, y, kw = _inputs("distillation", {}, np.float64, (8, 11), key="torch-kd")
    T, alpha, beta = 3.0, 0.3, 0.8
    labels = torch.tensor(kw["labels"])
    s = torch.tensor(x, requires_grad=True)
    u = torch.tensor(y, requires_grad=True)
    keep = labels != -100
    soft = _torch_rows(torch, F, u, s, T) * (T * T if t2_scale else 1.0)
    hard = F.cross_entropy(s, labels, ignore_index=-100, reduction="none")
    ref = ((alpha * hard + beta * soft) * keep).sum() / keep.sum()
    ref.backward()
    value, (gs, gt) = _both("distillation", x, y, kw, temperature=T, alpha=alpha, beta=beta,
                            t2_scale=t2_scale)
    t = tolerance("torch_float64_autograd")
    np.testing.assert_allclose(value, ref.item(), **t)
    np.testing.assert_allclose(gs, s.grad.numpy(), **t)
    np.testing.assert_allclose(gt, u.grad.numpy(), **t)


def test_optax_kl_divergences_agree():
    optax = _optional("optax")
    jnp = _optional("jax.numpy")
    jax = _optional("jax")
    x, y, _ = _inputs("kl_divergence", {}, np.float32, (6, 9), key="optax")
    log_q = jax.nn.log_softmax(jnp.asarray(y), -1)
    p = jax.nn.softmax(jnp.asarray(x), -1)
    # optax.kl_divergence(log_predictions, targets) = sum targets (log targets - log_pred)
    kl = np.asarray(optax.kl_divergence(log_q, p))
    # generalized_kl_divergence (formerly convex_kl_divergence) adds sum(exp(log_pred) -
    # targets), ~0 for two distributions
    convex = np.asarray(optax.losses.generalized_kl_divergence(log_q, p))
    ours = fl.kl_divergence(x, y, reduction="none")
    t = tolerance("jax_float32")
    np.testing.assert_allclose(ours, kl, **t)
    np.testing.assert_allclose(ours, convex, **t)


# ---- equivalences -------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_distillation_without_soft_term_is_cross_entropy(dtype, reduction):
    x, y, kw = _inputs("distillation", {}, dtype, (7, 6), key="beta0")
    value, (gs, gt) = _both("distillation", x, y, kw, beta=0.0, alpha=1.0, reduction=reduction)
    ce, g_ce = fl.value_and_grad(fl.cross_entropy)(x, kw["labels"], reduction=reduction)
    t = REGISTRY["cross_entropy"].tol(dtype)
    assert_close(value, ce, **t)
    assert_close(gs, g_ce, **t)
    assert not gt.any()  # beta = 0: the teacher does not matter


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_distillation_soft_term_is_kl_of_teacher_to_student(dtype, reduction):
    x, y, _ = _inputs("distillation", {"labels": None}, dtype, (7, 6), key="alpha0")
    labels = np.arange(7) % 6
    value, (gs, gt) = _both("distillation", x, y, {"labels": labels}, alpha=0.0, beta=1.0,
                            temperature=1.0, t2_scale=False, reduction=reduction)
    kl, (g_teacher, g_student) = _both("kl_divergence", y, x, {}, reduction=reduction)
    t = REGISTRY["kl_divergence"].tol(dtype)
    assert_close(value, kl, **t)
    assert_close(gs, g_student, **t)
    assert_close(gt, g_teacher, **t)


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_js_divergence_is_symmetric_at_one_half_and_bounded_by_log_2(dtype):
    x, y, _ = _inputs("js_divergence", {}, dtype, (9, 8), key="sym")
    x = x * 5  # confident rows, far apart
    a, (ax, ay) = _both("js_divergence", x, y, {}, reduction="none")
    b, (bx, by) = _both("js_divergence", y, x, {}, reduction="none")
    t = REGISTRY["js_divergence"].tol(dtype)
    assert_close(a, b, **t)
    assert_close(ax, by, **t)
    assert_close(ay, bx, **t)
    assert np.all(a >= 0) and np.all(a <= np.log(2) * (1 + tolerance("float32_few_roundings")[
        "rtol"]))


@pytest.mark.parametrize("beta", [0.0, 1.0])
def test_js_divergence_is_zero_at_the_endpoints(beta):
    x, y, _ = _inputs("js_divergence", {}, np.float64, (5, 4), key="ends")
    value, (gx, gy) = _both("js_divergence", x, y, {}, beta=beta, reduction="none")
    assert not value.any() and not gx.any() and not gy.any()
    # ... and continuous there: the value at beta = 1e-6 is O(beta)
    near = fl.js_divergence(x, y, beta=abs(beta - 1e-6), reduction="none")
    assert np.all(near >= 0) and np.all(near < 1e-5)
    # a NaN still propagates to its row
    x[1, 2] = np.nan
    value, (gx, _) = _both("js_divergence", x, y, {}, beta=beta, reduction="none")
    assert np.isnan(value[1]) and np.isnan(gx[1]).all() and not value[[0, 2, 3, 4]].any()


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("name", ["kl_divergence", "js_divergence"])
def test_divergence_of_a_distribution_from_itself_is_zero(name, dtype):
    x, _, _ = _inputs(name, {}, dtype, (6, 300), key="self")
    value, (gx, gy) = _both(name, x, x.copy(), {}, reduction="none")
    assert not value.any()  # every log ratio is exactly 0
    assert np.max(np.abs(gx)) <= tolerance("float32_few_roundings")["rtol"]
    assert np.max(np.abs(gy)) <= tolerance("float32_few_roundings")["rtol"]


def test_small_divergences_are_accurate_to_the_absolute_floor():
    """q = p perturbed by 1e-4: KL ~ 5e-9, within the registry's absolute floor of the reference
    (the log-normalisers' rounding reaches the value whole: see ABS_FLOOR_DIVERGENCE) and never
    negative."""
    rng = rng_for("small-kl")
    for dtype in DTYPES:
        x = rng.standard_normal((4, 50))
        y = x + 1e-4 * rng.standard_normal((4, 50))
        ours = fl.kl_divergence(x.astype(dtype), y.astype(dtype), reduction="none")
        ref = reference.kl_divergence(x.astype(dtype), y.astype(dtype), reduction="none")
        assert np.all(ours >= 0)
        assert_close(ours, ref.astype(dtype), **REGISTRY["kl_divergence"].tol(dtype))


# ---- edge cases -----------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_one_hot_teacher_with_minus_infinite_logits(dtype):
    """A one-hot teacher (-inf off its class): 0 log 0 = 0, no NaN; at T = 1 without the T^2 and
    the hard term, KL(onehot || softmax(z_s)) is the cross-entropy of that class."""
    rng = rng_for("one-hot")
    x = rng.standard_normal((5, 6)).astype(dtype)
    labels = np.array([0, 3, 5, 2, 2])
    teacher = np.full((5, 6), -INF, dtype)
    teacher[np.arange(5), labels] = 0.0
    value, (gs, gt) = _both("distillation", x, teacher, {}, alpha=0.0, beta=1.0,
                            temperature=1.0, t2_scale=False, reduction="none")
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(gs)) and np.all(np.isfinite(gt))
    ce, g_ce = fl.value_and_grad(fl.cross_entropy)(x, labels, reduction="none")
    t = REGISTRY["distillation"].tol(dtype)
    assert_close(value, ce, **t)
    assert_close(gs, g_ce, **t)
    assert not gt.any()  # a one-hot teacher at its limit: no slope anywhere
    kl, (gp, gq) = _both("kl_divergence", teacher, x, {}, reduction="none")
    assert_close(kl, ce, **t)
    assert np.all(np.isfinite(gp)) and not gp.any()


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_large_temperatures(dtype):
    """KL at temperature T is O(1/T^2) while its error stays absolute (the registry's floor), so
    the T^2-scaled soft term carries that floor times T^2 (the docstring says so); within it the
    kernel keeps matching the reference, and the gradients within theirs."""
    x, y, kw = _inputs("distillation", {"labels": None}, dtype, (6, 9), key="large-T")
    for T in (50.0, 1e3) if dtype == np.float64 else (20.0,):
        value, (gs, gt) = _both("distillation", x, y, kw, temperature=T, reduction="none")
        ref, (rgs, rgt) = _reference_both("distillation", x, y, kw, temperature=T,
                                          reduction="none")
        t = REGISTRY["distillation"].tol(dtype)
        assert_close(value, ref.astype(dtype), t["rtol"], t["atol"],
                     abs_floor=t["abs_floor"] * T * T)
        assert_close(gs, rgs.astype(dtype), t["rtol"], t["atol"], abs_floor=t["abs_floor"] * T)
        assert_close(gt, rgt.astype(dtype), t["rtol"], t["atol"], abs_floor=t["abs_floor"] * T)
        kl = fl.kl_divergence(x, y, temperature=T, reduction="none")
        assert np.all(kl >= 0) and np.all(kl < 10.0 / T ** 2 * np.max(np.abs(x - y)) ** 2)


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_all_rows_ignored_follows_cross_entropy(dtype):
    """Every label ignore_index: mean is nan with zero gradients (as cross_entropy), sum 0."""
    x, y, _ = _inputs("distillation", {"labels": None}, dtype, (5, 4), key="ignored")
    for ignore in (-100, 2):
        labels = np.full(5, ignore)
        kw = {"labels": labels, "ignore_index": ignore}
        mean, (gs, gt) = _both("distillation", x, y, kw)
        ce_mean, g_ce = fl.value_and_grad(fl.cross_entropy)(x, labels, ignore_index=ignore)
        assert np.isnan(mean) and np.isnan(ce_mean)
        assert not gs.any() and not gt.any() and not g_ce.any()
        total, (gs, gt) = _both("distillation", x, y, kw, reduction="sum", grad_output=3.0)
        assert total == 0.0 and not gs.any() and not gt.any()
        none = fl.distillation(x, y, **kw, reduction="none")
        assert_bitwise(none, np.zeros(5, dtype))


def test_ignored_rows_give_zero_for_both_terms_and_gradients():
    x, y, _ = _inputs("distillation", {"labels": None}, np.float64, (6, 4), key="ign-rows")
    labels = np.array([0, -100, 1, 2, -100, 3])
    value, (gs, gt) = _both("distillation", x, y, {"labels": labels}, reduction="none")
    kept = labels != -100
    assert not value[~kept].any() and not gs[~kept].any() and not gt[~kept].any()
    sub, (ss, st) = _both("distillation", x[kept], y[kept], {"labels": labels[kept]})
    mean, (ms, mt) = _both("distillation", x, y, {"labels": labels})
    t = tolerance("float64_reordered")
    np.testing.assert_allclose(mean, sub, **t)
    np.testing.assert_allclose(ms[kept], ss, **t)
    np.testing.assert_allclose(mt[kept], st, **t)


@pytest.mark.parametrize("name", NAMES)
def test_plus_infinite_logit_makes_the_row_nan(name):
    x, y, kw = _inputs(name, {}, np.float64, (3, 4), key="inf")
    kw.pop("labels", None)
    for which in (0, 1):
        a, b = x.copy(), y.copy()
        (a if which == 0 else b)[1, 2] = INF
        value, (ga, gb) = _both(name, a, b, kw, reduction="none")
        assert np.isnan(value[1]) and np.isnan(ga[1]).all() and np.isnan(gb[1]).all()
        assert np.all(np.isfinite(value[[0, 2]])) and np.all(np.isfinite(ga[[0, 2]]))


@pytest.mark.parametrize("name", NAMES)
def test_empty_inputs_and_one_row(name):
    for shape in [(0, 4), (2, 0, 3)]:
        x = np.zeros(shape)
        mean, (gx, gy) = _both(name, x, x.copy(), {})
        assert np.isnan(mean) and gx.shape == gy.shape == shape
        assert _both(name, x, x.copy(), {}, reduction="sum")[0] == 0.0
    x, y, _ = _inputs(name, {"labels": None}, np.float64, (5,), key="1-d")
    loss, (gx, gy) = _both(name, x, y, {}, reduction="none")
    loss2, (gx2, gy2) = _both(name, x[None], y[None], {}, reduction="none")
    assert loss.shape == () and float(loss) == float(loss2[0])
    assert_bitwise(gx, gx2[0])
    assert_bitwise(gy, gy2[0])


def test_labels_out_of_range_and_ignore_index_anywhere():
    x, y, _ = _inputs("distillation", {"labels": None}, np.float64, (2, 3), key="labels")
    with pytest.raises(ValueError, match=r"^\[fastloss\.distillation\] labels label 3 "
                                         r"out of range \[0, 3\) at index \(1,\)"):
        fl.distillation(x, y, np.array([0, 3]))
    for ignore in (-1, 7, 2):
        value = fl.distillation(x, y, np.array([0, ignore]), ignore_index=ignore,
                                reduction="none")
        assert value[1] == 0.0 and np.isfinite(value[0]) and value[0] > 0


# ---- the framework adapters: both gradients -------------------------------------------------------

@pytest.mark.parametrize("name,kwargs", CASES, ids=CASE_IDS)
def test_torch_gradients_of_both_logits(name, kwargs):
    torch = _optional("torch")
    flt = _optional("fastloss.torch")
    x, y, kw = _inputs(name, kwargs, np.float64, (6, 5), key="torch-both")
    kw.pop("axis")
    if kw.get("labels") is not None:
        kw["labels"] = torch.tensor(kw["labels"])
    a = torch.tensor(x, requires_grad=True)
    b = torch.tensor(y, requires_grad=True)
    loss = getattr(flt, name)(a, b, **kw, reduction="none")
    upstream = torch.linspace(-1.0, 2.0, 6, dtype=torch.float64)
    (loss * upstream).sum().backward()
    np_kw = {k: (v.numpy() if hasattr(v, "numpy") else v) for k, v in kw.items()}
    value, (gx, gy) = _both(name, x, y, np_kw, reduction="none",
                            grad_output=upstream.numpy())
    # (torch multiplies the saved gradient by the upstream one; the NumPy call fuses it)
    t = tolerance("float64_reordered")
    assert_bitwise(loss.detach().numpy(), value)
    np.testing.assert_allclose(a.grad.numpy(), gx, **t)
    np.testing.assert_allclose(b.grad.numpy(), gy, **t)
    # only the teacher's (argnums=(1,)): the student need not require grad
    b2 = torch.tensor(y, requires_grad=True)
    getattr(flt, name)(torch.tensor(x), b2, **kw, reduction="sum").backward()
    np.testing.assert_allclose(b2.grad.numpy(), fl.grad(getattr(fl, name), argnums=1)(
        x, y, **np_kw, reduction="sum"), **tolerance("float64_reordered"))


@pytest.mark.parametrize("name,kwargs", CASES, ids=CASE_IDS)
def test_jax_gradients_of_both_logits(name, kwargs):
    jax = _optional("jax")
    jnp = _optional("jax.numpy")
    flj = _optional("fastloss.jax")
    x, y, kw = _inputs(name, kwargs, np.float32, (6, 5), key="jax-both")
    if kw.get("labels") is not None:
        kw["labels"] = jnp.asarray(kw["labels"])
    fn = getattr(flj, name)
    upstream = jnp.linspace(-1.0, 2.0, 6, dtype=jnp.float32)
    gx, gy = jax.jit(jax.grad(lambda a, b: jnp.sum(fn(a, b, **kw, reduction="none") * upstream),
                              argnums=(0, 1)))(jnp.asarray(x), jnp.asarray(y))
    np_kw = {k: (np.asarray(v) if k == "labels" and v is not None else v) for k, v in kw.items()}
    _, (ex, ey) = _both(name, x, y, np_kw, reduction="none", grad_output=np.asarray(upstream))
    t = tolerance("jax_float32")
    np.testing.assert_allclose(gx, ex, **t)
    np.testing.assert_allclose(gy, ey, **t)
