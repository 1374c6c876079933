"""The GAN losses against independent oracles: the float64 reference's gradients against
central finite differences for both inputs, composed PyTorch formulas in the style of torchgan /
StudioGAN (written here with torch.nn.functional), Hypothesis over any finite outputs and
lengths, and the properties fastloss.properties states (which its generic probes skip)."""

import numpy as np
import pytest

import fastloss
from fastloss import reference as R
from finite_differences import REL_STEP
from helpers import assert_bitwise, assert_close, rng_for, tol, tolerance
from test_gan import D_CASES, DTYPES, G_KINDS, REDUCTIONS, _in_dtype, _kw, _outputs

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


