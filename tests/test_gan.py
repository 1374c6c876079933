"""The GAN losses (gan_discriminator, gan_generator): kernels against the float64 reference for
every kind, reduction and dtype with real and fake of different lengths, huge and infinite
logits, half precision, bitwise equality across thread counts, and the error messages. The
reference's finite differences, the composed PyTorch oracles, Hypothesis and the stated
properties are in tests/test_gan_oracles.py; the framework adapters in
tests/test_gan_adapters.py. The helpers here are shared with those files."""

import numpy as np
import pytest

import fastloss
from fastloss import reference as R
from helpers import assert_bitwise, assert_close, rng_for, tol

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
