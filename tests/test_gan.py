"""The GAN losses (gan_discriminator, gan_generator): kernels against the float64 reference for
every kind, reduction and dtype with real and fake of different lengths, the reference's
gradients against finite differences for both inputs, composed PyTorch oracles in the style of
torchgan / StudioGAN (written here with torch.nn.functional), huge and infinite logits, bitwise
equality across thread counts, and the error messages. The framework adapters are checked in
tests/test_gan_adapters.py."""

import numpy as np
import pytest

import fastloss
from fastloss import reference as R
from finite_differences import REL_STEP
from helpers import assert_bitwise, assert_close, rng_for, tol, tolerance

DTYPES = (np.float32, np.float64)
REDUCTIONS = ("mean", "sum", "none")
D_KINDS = ("bce", "wasserstein", "least_squares", "hinge")
G_KINDS = ("bce", "minimax", "wasserstein", "least_squares", "hinge")
D_CASES = [(k, b) for k in D_KINDS for b in ((1.0, 0.9) if k in ("bce", "least_squares")
                                               else (1.0,))]
# (real shape, fake shape): different lengths and shapes, empty sides, SIMD widths +- 1, the
# chunk (1024) and the threading threshold (65536) crossed on one side only.
SHAPE_PAIRS = [((7,), (5,)), ((1,), (0,)), ((0,), (3,)), ((33,), (4, 8)), ((1025,), (17,)),
               ((3, 7, 11), (2, 5)), ((65537,), (1023,)), ((), (9,))]
G_SHAPES = [(), (0,), (1,), (17,), (1025,), (33, 65), (65537,)]


def _outputs(rng, shape, dtype, scale=3.0):
    """Outputs on a 1/64 grid shifted by 1/128: exact in float32 and never at the hinge kinks."""
    return (np.round(rng.standard_normal(shape) * scale * 64) / 64 + 1 / 128).astype(dtype)


def _kw(kind, b, reduction):
    kw = {"kind": kind, "reduction": reduction}
    if b != 1.0:
        kw["real_label"] = b
    return kw


def _upstream(rng, reduction, real_shape, fake_shape, dtype):
    if reduction != "none":
        return 0.37, 0.37
    g = (rng.uniform(-1.5, 1.5, real_shape).astype(dtype),
         rng.uniform(-1.5, 1.5, fake_shape).astype(dtype))
    return g, tuple(a.astype(np.float64) for a in g)


# ---- kernel against the reference ---------------------------------------------------------------

@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("shapes", SHAPE_PAIRS, ids=str)
@pytest.mark.parametrize("kind,b", D_CASES)
def test_discriminator_against_reference(kind, b, shapes, dtype, reduction):
    rng = rng_for("gan_d", kind, b, shapes, np.dtype(dtype).name, reduction)
    real, fake = _outputs(rng, shapes[0], dtype), _outputs(rng, shapes[1], dtype)
    kw = _kw(kind, b, reduction)
    g, g_ref = _upstream(rng, reduction, shapes[0], shapes[1], dtype)
    before = (real.copy(), fake.copy())
    value, (d_real, d_fake) = fastloss.value_and_grad(
        fastloss.gan_discriminator, argnums=(0, 1))(real, fake, grad_output=g, **kw)
    plain = fastloss.gan_discriminator(real, fake, **kw)
    r64, f64 = real.astype(np.float64), fake.astype(np.float64)
    ref = R.gan_discriminator(r64, f64, **kw)
    ref_real, ref_fake = R.gan_discriminator_grad(r64, f64, grad_output=g_ref, argnums=(0, 1),
                                                  **kw)
    t = tol("gan_discriminator", dtype)
    if reduction == "none":
        assert isinstance(value, tuple) and len(value) == 2
        for got, want, p, what in zip(value, ref, plain, ("real", "fake")):
            assert got.dtype == dtype and got.shape == want.shape
            assert_close(got, want, t["rtol"], t["atol"], what=f"{what} terms")
            assert_bitwise(p, got, what=f"plain {what} terms")
    else:
        assert isinstance(value, np.ndarray) and value.shape == () and value.dtype == dtype
        assert_close(value, ref, t["rtol"], t["atol"], what="loss")
        assert_bitwise(plain, value, what="plain call")
    assert d_real.dtype == dtype and d_real.shape == real.shape
    assert d_fake.dtype == dtype and d_fake.shape == fake.shape
    assert_close(d_real, ref_real, t["rtol"], t["atol"], what="d/d real")
    assert_close(d_fake, ref_fake, t["rtol"], t["atol"], what="d/d fake")
    np.testing.assert_array_equal(real, before[0])
    np.testing.assert_array_equal(fake, before[1])


@pytest.mark.parametrize("argnums", [0, 1, (1,), (1, 0)], ids=str)
def test_discriminator_argnums_select_the_passes(argnums):
    rng = rng_for("gan_d_argnums", argnums)
    real, fake = _outputs(rng, (40,), np.float64), _outputs(rng, (9,), np.float64)
    _, grads = fastloss.value_and_grad(fastloss.gan_discriminator, argnums=argnums)(
        real, fake, grad_output=-2.0, kind="least_squares")
    want = R.gan_discriminator_grad(real, fake, grad_output=-2.0, argnums=argnums,
                                    kind="least_squares")
    if isinstance(argnums, tuple):
        assert isinstance(grads, tuple) and len(grads) == len(argnums)
        for got, w in zip(grads, want):
            assert_close(got, w, **tol("gan_discriminator", np.float64))
    else:
        assert_close(grads, want, **tol("gan_discriminator", np.float64))


def test_discriminator_grad_into():
    rng = rng_for("gan_d_into")
    real, fake = _outputs(rng, (50,), np.float32), _outputs(rng, (7,), np.float32)
    into_r, into_f = np.empty_like(real), np.empty_like(fake)
    _, (g_r, g_f) = fastloss.value_and_grad(fastloss.gan_discriminator, argnums=(0, 1))(
        real, fake, grad_into=(into_r, into_f))
    assert g_r is into_r and g_f is into_f
    _, (w_r, w_f) = fastloss.value_and_grad(fastloss.gan_discriminator, argnums=(0, 1))(real, fake)
    assert_bitwise(g_r, w_r)
    assert_bitwise(g_f, w_f)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("shape", G_SHAPES, ids=str)
@pytest.mark.parametrize("kind", G_KINDS)
def test_generator_against_reference(kind, shape, dtype, reduction, weighted):
    rng = rng_for("gan_g", kind, shape, np.dtype(dtype).name, reduction, weighted)
    fake = _outputs(rng, shape, dtype)
    sw = rng.uniform(0.0, 2.0, shape).astype(dtype) if weighted else None
    g = rng.uniform(-1.5, 1.5, shape).astype(dtype) if reduction == "none" else 0.37
    g_ref = g.astype(np.float64) if reduction == "none" else g
    value, grad = fastloss.value_and_grad(fastloss.gan_generator)(
        fake, kind=kind, reduction=reduction, sample_weight=sw, grad_output=g)
    sw_ref = None if sw is None else sw.astype(np.float64)
    f64 = fake.astype(np.float64)
    ref = R.gan_generator(f64, kind=kind, reduction=reduction, sample_weight=sw_ref)
    ref_grad = R.gan_generator_grad(f64, kind=kind, reduction=reduction, sample_weight=sw_ref,
                                    grad_output=g_ref)
    t = tol("gan_generator", dtype)
    assert value.dtype == dtype and grad.dtype == dtype and grad.shape == fake.shape
    assert_close(value, ref, t["rtol"], t["atol"], what="loss")
    assert_close(grad, ref_grad, t["rtol"], t["atol"], what="gradient")
    assert_bitwise(fastloss.gan_generator(fake, kind=kind, reduction=reduction,
                                          sample_weight=sw), value, what="plain call")


# ---- huge and infinite outputs ------------------------------------------------------------------

EXTREME = np.array([1e4, -1e4, 3e38, -3e38, np.inf, -np.inf, 0.0, 40.0, -40.0])


def _in_dtype(a, dtype):
    """The float64 reference rounded to the kernel's dtype: (3e38)^2 / 2 overflows to inf in
    float32, as it must."""
    with np.errstate(over="ignore"):
        return np.asarray(a).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("kind,b", D_CASES)
def test_discriminator_extreme_outputs(kind, b, dtype):
    x = EXTREME.astype(dtype)
    kw = _kw(kind, b, "none")
    (lr, lf) = fastloss.gan_discriminator(x, x[::-1], **kw)
    _, (gr, gf) = fastloss.value_and_grad(fastloss.gan_discriminator, argnums=(0, 1))(
        x, x[::-1], **kw)
    x64 = x.astype(np.float64)
    rr, rf = R.gan_discriminator(x64, x64[::-1], **kw)
    dr, df = R.gan_discriminator_grad(x64, x64[::-1], argnums=(0, 1), **kw)
    t = tol("gan_discriminator", dtype)
    for got, want, what in ((lr, rr, "real"), (lf, rf, "fake"), (gr, dr, "d real"),
                            (gf, df, "d fake")):
        assert_close(got, _in_dtype(want, dtype), t["rtol"], t["atol"], what=what)
    if kind == "bce":
        # the logistic terms keep their limits: no NaN for any logit
        assert not any(np.isnan(a).any() for a in (lr, lf, gr, gf))
        assert lr[4] == 0.0 if b == 1.0 else lr[4] == np.inf
        assert lf[::-1][5] == 0.0 and gf[::-1][5] == 0.0  # fake = -inf: softplus(-inf) = 0


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("kind", G_KINDS)
def test_generator_extreme_outputs(kind, dtype):
    x = EXTREME.astype(dtype)
    value = fastloss.gan_generator(x, kind=kind, reduction="none")
    _, grad = fastloss.value_and_grad(fastloss.gan_generator)(x, kind=kind, reduction="none")
    x64 = x.astype(np.float64)
    t = tol("gan_generator", dtype)
    assert_close(value, _in_dtype(R.gan_generator(x64, kind=kind, reduction="none"), dtype), **t)
    assert_close(grad, _in_dtype(R.gan_generator_grad(x64, kind=kind, reduction="none"), dtype),
                 **t)
    if kind in ("bce", "minimax"):
        assert not np.isnan(value).any() and not np.isnan(grad).any()
        assert value[0] == (0.0 if kind == "bce" else -1e4)  # softplus(-1e4), -softplus(1e4)
        assert grad[1] == (-1.0 if kind == "bce" else 0.0)   # no saturation for bce at -1e4


def test_large_logits_mean_is_exact():
    real = np.array([1e4, 2e4], np.float32)
    fake = np.array([-1e4, -3e4, 5e3], np.float32)
    # softplus(-1e4) = 0 exactly in float32, softplus(5e3) = 5e3
    assert fastloss.gan_discriminator(real, fake) == np.float32(5e3 / 3)
    assert float(fastloss.gan_discriminator(real, fake, real_label=0.5)) == \
        np.float32(0.5 * 1.5e4 + 5e3 / 3)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("kind", D_KINDS)
def test_discriminator_both_sides_empty(kind, dtype):
    e = np.zeros((0, 3), dtype)
    vg = fastloss.value_and_grad(fastloss.gan_discriminator, argnums=(0, 1))
    mean, (g_r, g_f) = vg(e, e[:, :2], kind=kind)
    assert mean.shape == () and mean.dtype == dtype and np.isnan(mean)
    assert g_r.shape == (0, 3) and g_f.shape == (0, 2) and g_r.dtype == dtype
    total, _ = vg(e, e, kind=kind, reduction="sum")
    assert total == 0.0 and total.dtype == dtype
    (lr, lf), _ = vg(e, e[:, :1], kind=kind, reduction="none")
    assert lr.shape == (0, 3) and lf.shape == (0, 1) and lr.dtype == dtype
    # one empty side: its mean is nan, so the sum of the two means is nan (as the peers')
    assert np.isnan(fastloss.gan_discriminator(np.ones(3, dtype), e[:, 0], kind=kind))


def test_half_precision_is_computed_in_float32():
    x = np.array([0.5, -1.0, 3.0], np.float16)
    v, (g_r, g_f) = fastloss.value_and_grad(fastloss.gan_discriminator, argnums=(0, 1))(x, x[:2])
    w, (w_r, w_f) = fastloss.value_and_grad(fastloss.gan_discriminator, argnums=(0, 1))(
        x.astype(np.float32), x[:2].astype(np.float32))
    assert v.dtype == np.float32 and v == w
    assert g_r.dtype == np.float16 and g_f.dtype == np.float16
    assert_bitwise(g_r, w_r.astype(np.float16))
    assert_bitwise(g_f, w_f.astype(np.float16))
    v, g = fastloss.value_and_grad(fastloss.gan_generator)(x, kind="minimax")
    assert v.dtype == np.float32 and g.dtype == np.float16
    with pytest.raises(TypeError, match=r"fake must have the dtype of real \(float16\), got "
                                        r"float32"):
        fastloss.gan_discriminator(x, x.astype(np.float32))


def test_nan_propagates():
    x = np.array([np.nan, 1.0])
    for kind in D_KINDS:
        lr, lf = fastloss.gan_discriminator(x, x, kind=kind, reduction="none")
        assert np.isnan(lr[0]) and np.isnan(lf[0]) and not np.isnan(lr[1])
    for kind in G_KINDS:
        _, g = fastloss.value_and_grad(fastloss.gan_generator)(x, kind=kind, reduction="none")
        assert np.isnan(g[0]) and not np.isnan(g[1])


# ---- Hypothesis: any finite outputs, any lengths --------------------------------------------------

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402


@st.composite
def _gan_case(draw):
    dtype = draw(st.sampled_from(DTYPES))
    width = 32 if dtype == np.float32 else 64
    # |x| <= 2^50: (x - 1)^2 / 2 stays finite in float32, and float32 and float64 agree on which
    # side of a hinge each output falls (the reference reads the kernel's rounded inputs)
    values = st.floats(-2.0 ** 50, 2.0 ** 50, allow_nan=False, allow_infinity=False, width=width)
    real = draw(hnp.arrays(dtype, hnp.array_shapes(min_dims=0, max_dims=2, min_side=0,
                                                   max_side=9), elements=values))
    fake = draw(hnp.arrays(dtype, hnp.array_shapes(min_dims=0, max_dims=2, min_side=0,
                                                   max_side=9), elements=values))
    kind, b = draw(st.sampled_from(D_CASES))
    g_kind = draw(st.sampled_from(G_KINDS))
    reduction = draw(st.sampled_from(REDUCTIONS))
    return real, fake, kind, b, g_kind, reduction


@settings(deadline=None)
@given(_gan_case())
def test_any_finite_outputs(case):
    real, fake, kind, b, g_kind, reduction = case
    kw = _kw(kind, b, reduction)
    value, (d_r, d_f) = fastloss.value_and_grad(fastloss.gan_discriminator, argnums=(0, 1))(
        real, fake, **kw)
    plain = fastloss.gan_discriminator(real, fake, **kw)
    r64, f64 = real.astype(np.float64), fake.astype(np.float64)
    ref = R.gan_discriminator(r64, f64, **kw)
    ref_r, ref_f = R.gan_discriminator_grad(r64, f64, argnums=(0, 1), **kw)
    t = tol("gan_discriminator", real.dtype)
    for got, want, p in zip(*(v if reduction == "none" else (v,) for v in (value, ref, plain))):
        assert_bitwise(p, got)
        assert_close(got, _in_dtype(want, real.dtype), **t)
    assert_close(d_r, ref_r.astype(real.dtype), **t)
    assert_close(d_f, ref_f.astype(real.dtype), **t)
    assert not np.isnan(d_r).any() and not np.isnan(d_f).any()
    g_value, g = fastloss.value_and_grad(fastloss.gan_generator)(fake, kind=g_kind,
                                                                 reduction=reduction)
    assert_close(g_value, _in_dtype(R.gan_generator(f64, kind=g_kind, reduction=reduction),
                                    fake.dtype), **tol("gan_generator", fake.dtype))
    assert_close(g, R.gan_generator_grad(f64, kind=g_kind, reduction=reduction).astype(
        fake.dtype), **tol("gan_generator", fake.dtype))
    assert not np.isnan(g).any()


# ---- the reference's gradients against finite differences ---------------------------------------

def _objective(kw, g):
    """sum(grad_output * loss) of the reference, a scalar for every reduction."""
    def f(real, fake):
        out = R.gan_discriminator(real, fake, **kw)
        if kw["reduction"] == "none":
            return float(np.sum(g[0] * out[0]) + np.sum(g[1] * out[1]))
        return float(g * out)
    return f


def _central(f, arrays, index):
    arrays = list(arrays)
    x = arrays[index]
    out = np.zeros(x.shape)
    for idx in np.ndindex(*x.shape):
        h = REL_STEP * max(1.0, abs(x[idx]))
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        arrays[index] = xp
        up = f(*arrays)
        arrays[index] = xm
        down = f(*arrays)
        out[idx] = (up - down) / (xp[idx] - xm[idx])
    arrays[index] = x
    return out


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kind,b", D_CASES)
def test_discriminator_reference_gradient_by_finite_differences(kind, b, reduction):
    rng = rng_for("gan_d_fd", kind, b, reduction)
    real, fake = _outputs(rng, (6,), np.float64), _outputs(rng, (2, 2), np.float64)
    kw = _kw(kind, b, reduction)
    g = ((rng.uniform(-2, 2, (6,)), rng.uniform(-2, 2, (2, 2))) if reduction == "none"
         else -0.7)
    d_real, d_fake = R.gan_discriminator_grad(real, fake, grad_output=g, argnums=(0, 1), **kw)
    f = _objective(kw, g)
    t = tolerance("finite_difference")
    assert_close(d_real, _central(f, (real, fake), 0), **t, what="d/d real")
    assert_close(d_fake, _central(f, (real, fake), 1), **t, what="d/d fake")


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kind", G_KINDS)
def test_generator_reference_gradient_by_finite_differences(kind, reduction):
    rng = rng_for("gan_g_fd", kind, reduction)
    fake = _outputs(rng, (3, 3), np.float64)
    sw = rng.uniform(0.2, 2.0, (3,))
    g = rng.uniform(-2, 2, (3, 3)) if reduction == "none" else 1.3
    kw = {"kind": kind, "reduction": reduction, "sample_weight": sw}
    want = R.gan_generator_grad(fake, grad_output=g, **kw)
    f = lambda x: float(np.sum(g * R.gan_generator(x, **kw)))  # noqa: E731
    assert_close(want, _central(f, (fake,), 0), **tolerance("finite_difference"))


# ---- composed PyTorch oracles (torchgan / StudioGAN style) --------------------------------------

def _torch_discriminator(F, torch, r, f, kind, b):
    """The peers' formulas, written with torch.nn.functional: torchgan's minimax discriminator
    loss (BCE-with-logits against 1 - smoothing and 0, sum of two means), StudioGAN's d_wasserstein,
    d_ls and d_hinge."""
    if kind == "bce":
        return (F.binary_cross_entropy_with_logits(r, torch.full_like(r, b))
                + F.binary_cross_entropy_with_logits(f, torch.zeros_like(f)))
    if kind == "wasserstein":
        return f.mean() - r.mean()
    if kind == "least_squares":
        return 0.5 * (F.mse_loss(r, torch.full_like(r, b)) + (f ** 2).mean())
    return F.relu(1.0 - r).mean() + F.relu(1.0 + f).mean()


def _torch_generator(F, torch, f, kind):
    if kind == "bce":  # torchgan nonsaturating=True, StudioGAN g_vanilla
        return F.binary_cross_entropy_with_logits(f, torch.ones_like(f))
    if kind == "minimax":  # torchgan nonsaturating=False: -BCE(f, 0)
        return -F.binary_cross_entropy_with_logits(f, torch.zeros_like(f))
    if kind == "least_squares":
        return 0.5 * F.mse_loss(f, torch.ones_like(f))
    return -f.mean()


@pytest.mark.parametrize("kind,b", D_CASES)
def test_discriminator_against_composed_torch(kind, b):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = rng_for("gan_d_torch", kind, b)
    real, fake = _outputs(rng, (300,), np.float64), _outputs(rng, (7, 11), np.float64)
    r = torch.tensor(real, requires_grad=True)
    f = torch.tensor(fake, requires_grad=True)
    want = _torch_discriminator(F, torch, r, f, kind, b)
    want.backward()
    value, (d_r, d_f) = fastloss.value_and_grad(fastloss.gan_discriminator, argnums=(0, 1))(
        real, fake, **_kw(kind, b, "mean"))
    t = tolerance("torch_float64")
    np.testing.assert_allclose(value, want.item(), **t)
    np.testing.assert_allclose(d_r, r.grad.numpy(), **t)
    np.testing.assert_allclose(d_f, f.grad.numpy(), **t)


@pytest.mark.parametrize("kind", G_KINDS)
def test_generator_against_composed_torch(kind):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    fake = _outputs(rng_for("gan_g_torch", kind), (5, 40), np.float64)
    f = torch.tensor(fake, requires_grad=True)
    want = _torch_generator(F, torch, f, kind)
    want.backward()
    value, grad = fastloss.value_and_grad(fastloss.gan_generator)(fake, kind=kind)
    t = tolerance("torch_float64")
    np.testing.assert_allclose(value, want.item(), **t)
    np.testing.assert_allclose(grad, f.grad.numpy(), **t)


# ---- the properties fastloss.properties states (its probes skip the GAN predictions) -----------

def _per_element(name, kind, b, x):
    """(terms, slopes) per element of x for each array the loss takes (real, fake or fake)."""
    if name == "gan_generator":
        vg = fastloss.value_and_grad(fastloss.gan_generator)
        return [vg(x, kind=kind, reduction="none")]
    kw = _kw(kind, b, "none")
    (lr, lf), (dr, df) = fastloss.value_and_grad(fastloss.gan_discriminator, argnums=(0, 1))(
        x, x, **kw)
    return [(lr, dr), (lf, df)]


@pytest.mark.parametrize("name,kind,b", [("gan_discriminator", k, b) for k, b in D_CASES]
                         + [("gan_generator", k, 1.0) for k in G_KINDS])
def test_stated_properties_hold(name, kind, b):
    params = {"kind": kind} if name == "gan_generator" else {"kind": kind, "real_label": b}
    facts = fastloss.properties(name, **params)
    x = np.linspace(-12.0, 12.0, 4801) + 1 / 1024  # a fine grid, off the hinge kinks
    h = x[1] - x[0]
    scale = tolerance("property_float64")
    for value, slope in _per_element(name, kind, b, x):
        if facts.gradient_bound is not None:
            assert np.max(np.abs(slope)) <= facts.gradient_bound * (1 + scale["rtol"])
        else:  # unbounded: the slope grows with |x|
            assert np.max(np.abs(slope)) > 10.0
        curvature = np.diff(slope) / h
        if facts.lipschitz is not None:
            assert np.max(np.abs(curvature)) <= facts.lipschitz * (1 + 1e-6) + 1e-9
        midpoint = value[1:-1] - 0.5 * (value[:-2] + value[2:])  # <= 0 where convex
        if facts.convex:
            assert np.max(midpoint) <= scale["atol"] + scale["rtol"] * np.max(np.abs(value))
        else:  # minimax is concave: a witness against convexity
            assert np.max(midpoint) > tolerance("property_witness")["atol"]
        if facts.smooth:
            assert np.all(np.isfinite(slope))


# ---- determinism ---------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("kind", ["bce", "least_squares", "hinge"])
def test_bitwise_across_thread_counts(restore_threads, kind, dtype):
    rng = rng_for("gan_threads", kind, np.dtype(dtype).name)
    real, fake = _outputs(rng, (300_001,), dtype), _outputs(rng, (3, 70_001), dtype)
    g = (rng.uniform(-1, 1, real.shape).astype(dtype), rng.uniform(-1, 1, fake.shape).astype(dtype))
    vg_d = fastloss.value_and_grad(fastloss.gan_discriminator, argnums=(0, 1))
    vg_g = fastloss.value_and_grad(fastloss.gan_generator)
    results = {}
    for n in (1, 2, 3, 8):
        restore_threads.set_num_threads(n)
        out = []
        for reduction in REDUCTIONS:
            up = g if reduction == "none" else 0.37
            v, (dr, df) = vg_d(real, fake, kind=kind, reduction=reduction, grad_output=up)
            out += list(v) if reduction == "none" else [v]
            out += [dr, df]
            v, d = vg_g(fake, kind=kind, reduction=reduction,
                        grad_output=g[1] if reduction == "none" else 0.37)
            out += [v, d]
        results[n] = out
    for n in (2, 3, 8):
        for i, (a, e) in enumerate(zip(results[n], results[1])):
            assert_bitwise(a, e, what=f"{n} threads, result {i}")


# ---- errors --------------------------------------------------------------------------------------

@pytest.mark.parametrize("call,exc,message", [
    (lambda x: fastloss.gan_discriminator(x, x, kind="wgan"), ValueError,
     "[fastloss.gan_discriminator] kind must be one of 'bce', 'wasserstein', 'least_squares', "
     "'hinge', got 'wgan'"),
    (lambda x: fastloss.gan_discriminator(x, x, kind="minimax"), ValueError,
     "[fastloss.gan_discriminator] kind must be one of"),
    (lambda x: fastloss.gan_generator(x, kind="ns"), ValueError,
     "[fastloss.gan_generator] kind must be one of 'bce', 'minimax', 'wasserstein', "
     "'least_squares', 'hinge', got 'ns'"),
    (lambda x: fastloss.gan_discriminator(x, x, real_label=0.0), ValueError,
     "[fastloss.gan_discriminator] real_label must be in (0, 1], got 0.0"),
    (lambda x: fastloss.gan_discriminator(x, x, real_label=1.1), ValueError,
     "[fastloss.gan_discriminator] real_label must be in (0, 1], got 1.1"),
    (lambda x: fastloss.gan_discriminator(x, x, real_label=float("nan")), ValueError,
     "[fastloss.gan_discriminator] real_label must be finite"),
    (lambda x: fastloss.gan_discriminator(x, x, real_label="0.9"), TypeError,
     "[fastloss.gan_discriminator] real_label must be a real number"),
    (lambda x: fastloss.gan_discriminator(x, x, kind="hinge", real_label=0.9), ValueError,
     "[fastloss.gan_discriminator] real_label applies to kind 'bce' and 'least_squares' only"),
    (lambda x: fastloss.gan_discriminator(x.astype(np.int64), x), TypeError,
     "[fastloss.gan_discriminator] real must be float32 or float64, got dtype int64"),
    (lambda x: fastloss.gan_discriminator(x, x.astype(np.int32)), TypeError,
     "[fastloss.gan_discriminator] fake must be float32 or float64, got dtype int32"),
    (lambda x: fastloss.gan_discriminator(x, x.astype(np.float32)), TypeError,
     "[fastloss.gan_discriminator] fake must have the dtype of real (float64), got float32"),
    (lambda x: fastloss.gan_generator(x.astype(bool)), TypeError,
     "[fastloss.gan_generator] fake must be float32 or float64, got dtype bool"),
    (lambda x: fastloss.gan_discriminator(x, x, reduction="avg"), ValueError,
     "[fastloss.gan_discriminator] reduction must be 'mean', 'sum' or 'none', got 'avg'"),
    (lambda x: fastloss.gan_generator(x, sample_weight=-x), ValueError,
     "[fastloss.gan_generator] sample_weight"),
    (lambda x: fastloss.value_and_grad(fastloss.gan_discriminator, argnums=2)(x, x), ValueError,
     "[fastloss.gan_discriminator] argnums position 2 is not a differentiable argument"),
    (lambda x: fastloss.value_and_grad(fastloss.gan_discriminator)(
        x, x, reduction="none", grad_output=x), TypeError,
     "[fastloss.gan_discriminator] grad_output of reduction='none' must be a pair"),
    (lambda x: fastloss.value_and_grad(fastloss.gan_discriminator)(
        x, x, grad_output=np.ones(3)), ValueError,
     "[fastloss.gan_discriminator] grad_output of a reduced loss must be a scalar"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_errors(call, exc, message):
    x = np.array([0.5, -1.5, 2.0])
    with pytest.raises(exc) as info:
        call(x)
    assert str(info.value).startswith(message), str(info.value)


def test_reference_errors_match():
    x = np.array([0.5])
    with pytest.raises(ValueError, match=r"\[fastloss.gan_discriminator\] real_label must be in"):
        R.gan_discriminator(x, x, real_label=0.0)
    with pytest.raises(ValueError, match=r"\[fastloss.gan_generator\] kind must be one of"):
        R.gan_generator(x, kind="x")
