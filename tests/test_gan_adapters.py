"""fastloss.torch's and fastloss.jax's GAN losses: values and gradients (to real and to fake)
against the NumPy API and against formulas written inline with torch / jax.numpy, every
reduction (none: a pair, each with its own cotangent), upstream gradients other than one, and
their errors."""

import numpy as np
import pytest

import fastloss
from helpers import assert_close, rng_for, tol, tolerance

D_CASES = [("bce", 1.0), ("bce", 0.9), ("wasserstein", 1.0), ("least_squares", 1.0),
           ("least_squares", 0.8), ("hinge", 1.0)]
G_KINDS = ("bce", "minimax", "wasserstein", "least_squares", "hinge")
REDUCTIONS = ("mean", "sum", "none")


def _outputs(rng, shape, dtype):
    return (np.round(rng.standard_normal(shape) * 3 * 64) / 64 + 1 / 128).astype(dtype)


def _numpy_discriminator(real, fake, kw, g):
    return fastloss.value_and_grad(fastloss.gan_discriminator, argnums=(0, 1))(
        real, fake, grad_output=g, **kw)


# ---- fastloss.torch ------------------------------------------------------------------------------

@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind,b", D_CASES)
def test_torch_discriminator(kind, b, dtype, reduction):
    torch = pytest.importorskip("torch")
    import fastloss.torch as flt
    rng = rng_for("gan_torch_d", kind, b, dtype, reduction)
    real, fake = _outputs(rng, (37,), dtype), _outputs(rng, (4, 6), dtype)
    r = torch.tensor(real, requires_grad=True)
    f = torch.tensor(fake, requires_grad=True)
    kw = {"kind": kind, "real_label": b, "reduction": reduction}
    out = flt.gan_discriminator_loss(r, f, **kw)
    if reduction == "none":
        g = (rng.uniform(-2, 2, real.shape).astype(dtype), rng.uniform(-2, 2, fake.shape).astype(dtype))
        torch.autograd.backward(out, (torch.tensor(g[0]), torch.tensor(g[1])))
        value = tuple(o.detach().numpy() for o in out)
    else:
        g = -1.7
        (g * out).backward()
        value = out.detach().numpy()
    want, (want_r, want_f) = _numpy_discriminator(real, fake, kw, g)
    t = tol("gan_discriminator", dtype)
    if reduction == "none":
        for got, w in zip(value, want):
            assert_close(got, w, **t)
    else:
        assert_close(value, want, **t)
    assert r.grad.dtype == r.dtype and f.grad.dtype == f.dtype
    assert_close(r.grad.numpy(), want_r, **t, what="d/d real")
    assert_close(f.grad.numpy(), want_f, **t, what="d/d fake")


@pytest.mark.parametrize("kind,b", D_CASES)
def test_torch_discriminator_against_composed_torch(kind, b):
    torch = pytest.importorskip("torch")
    import fastloss.torch as flt
    F = torch.nn.functional
    rng = rng_for("gan_torch_oracle", kind, b)
    real, fake = _outputs(rng, (64,), np.float64), _outputs(rng, (10,), np.float64)
    r1, f1 = (torch.tensor(a, requires_grad=True) for a in (real, fake))
    r2, f2 = (torch.tensor(a, requires_grad=True) for a in (real, fake))
    if kind == "bce":
        want = (F.binary_cross_entropy_with_logits(r2, torch.full_like(r2, b))
                + F.binary_cross_entropy_with_logits(f2, torch.zeros_like(f2)))
    elif kind == "wasserstein":
        want = f2.mean() - r2.mean()
    elif kind == "least_squares":
        want = 0.5 * ((r2 - b) ** 2).mean() + 0.5 * (f2 ** 2).mean()
    else:
        want = F.relu(1 - r2).mean() + F.relu(1 + f2).mean()
    got = flt.gan_discriminator_loss(r1, f1, kind=kind, real_label=b)
    (0.5 * got).backward()
    (0.5 * want).backward()
    t = tolerance("torch_adapter_float64")
    torch.testing.assert_close(got, want, **t)
    torch.testing.assert_close(r1.grad, r2.grad, **t)
    torch.testing.assert_close(f1.grad, f2.grad, **t)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kind", G_KINDS)
def test_torch_generator(kind, reduction):
    torch = pytest.importorskip("torch")
    import fastloss.torch as flt
    rng = rng_for("gan_torch_g", kind, reduction)
    fake = _outputs(rng, (5, 9), np.float64)
    sw = rng.uniform(0.1, 2.0, (9,))
    f = torch.tensor(fake, requires_grad=True)
    out = flt.gan_generator_loss(f, kind=kind, reduction=reduction,
                                 sample_weight=torch.tensor(sw))
    g = rng.uniform(-2, 2, fake.shape) if reduction == "none" else 2.5
    out.backward(torch.tensor(g) if reduction == "none" else torch.tensor(g, dtype=out.dtype))
    want, want_g = fastloss.value_and_grad(fastloss.gan_generator)(
        fake, kind=kind, reduction=reduction, sample_weight=sw, grad_output=g)
    t = tol("gan_generator", np.float64)
    assert_close(out.detach().numpy(), want, **t)
    assert_close(f.grad.numpy(), want_g, **t)


@pytest.mark.parametrize("kind,b", D_CASES)
def test_torch_gradcheck(kind, b):
    torch = pytest.importorskip("torch")
    import fastloss.torch as flt
    rng = rng_for("gan_gradcheck", kind, b)
    r = torch.tensor(_outputs(rng, (6,), np.float64), requires_grad=True)
    f = torch.tensor(_outputs(rng, (4,), np.float64), requires_grad=True)
    for reduction in REDUCTIONS:
        assert torch.autograd.gradcheck(lambda a, c: flt.gan_discriminator_loss(
            a, c, kind=kind, real_label=b, reduction=reduction), (r, f))
    g_kind = {"bce": "minimax"}.get(kind, kind)
    assert torch.autograd.gradcheck(lambda c: flt.gan_generator_loss(c, kind=g_kind), (f,))


def test_torch_only_the_tensors_that_require_grad():
    torch = pytest.importorskip("torch")
    import fastloss.torch as flt
    real = torch.randn(8, dtype=torch.float64, requires_grad=True)
    fake = torch.randn(3, dtype=torch.float64)
    flt.gan_discriminator_loss(real, fake, kind="hinge").backward()
    assert real.grad is not None and fake.grad is None
    plain = flt.gan_discriminator_loss(real.detach(), fake)
    assert plain.grad_fn is None
    assert float(plain) == float(fastloss.gan_discriminator(real.detach().numpy(), fake.numpy()))


def test_torch_modules_and_double_backward():
    torch = pytest.importorskip("torch")
    import fastloss.torch as flt
    real = torch.randn(8, dtype=torch.float64, requires_grad=True)
    fake = torch.randn(5, dtype=torch.float64, requires_grad=True)
    d = flt.GANDiscriminatorLoss(kind="least_squares", real_label=0.9)(real, fake)
    assert d.item() == flt.gan_discriminator_loss(real, fake, kind="least_squares",
                                                  real_label=0.9).item()
    g = flt.GANGeneratorLoss(kind="minimax")(fake)
    (grad,) = torch.autograd.grad(g, fake, create_graph=False)
    assert grad.shape == fake.shape
    with pytest.raises(RuntimeError, match="double backward is not supported"):
        torch.autograd.grad(flt.gan_generator_loss(fake), fake, create_graph=True)


def test_torch_errors():
    torch = pytest.importorskip("torch")
    import fastloss.torch as flt
    x = torch.zeros(3)
    with pytest.raises(ValueError, match=r"^\[fastloss.torch.gan_discriminator_loss\] kind must"):
        flt.gan_discriminator_loss(x, x, kind="ns")
    with pytest.raises(ValueError, match=r"^\[fastloss.torch.gan_discriminator_loss\] real_label"):
        flt.gan_discriminator_loss(x, x, real_label=1.5)
    with pytest.raises(TypeError, match=r"^\[fastloss.torch.gan_generator_loss\] fake must be a "
                                        r"torch.Tensor"):
        flt.gan_generator_loss([0.0])
    with pytest.raises(ValueError, match=r"^\[fastloss.torch.GANGeneratorLoss\] reduction"):
        flt.GANGeneratorLoss(reduction="avg")
    for bad in (torch.ones(3, dtype=torch.bool), torch.ones(3, dtype=torch.int64)):
        with pytest.raises(TypeError, match=r"^\[fastloss.torch.gan_discriminator_loss\] fake "
                                            r"must be a floating tensor"):
            flt.gan_discriminator_loss(x, bad)
        with pytest.raises(TypeError, match=r"^\[fastloss.torch.gan_generator_loss\] fake "
                                            r"must be a floating tensor"):
            flt.gan_generator_loss(bad)


# ---- fastloss.jax --------------------------------------------------------------------------------

def _jax_discriminator(jnp, jax, r, f, kind, b):
    if kind == "bce":
        return (jnp.mean(b * jax.nn.softplus(-r) + (1 - b) * jax.nn.softplus(r))
                + jnp.mean(jax.nn.softplus(f)))
    if kind == "wasserstein":
        return jnp.mean(f) - jnp.mean(r)
    if kind == "least_squares":
        return 0.5 * jnp.mean((r - b) ** 2) + 0.5 * jnp.mean(f ** 2)
    return jnp.mean(jax.nn.relu(1 - r)) + jnp.mean(jax.nn.relu(1 + f))


def _jax_generator(jnp, jax, f, kind):
    return {"bce": lambda: jax.nn.softplus(-f), "minimax": lambda: -jax.nn.softplus(f),
            "least_squares": lambda: 0.5 * (f - 1) ** 2}.get(kind, lambda: -f)()


@pytest.mark.parametrize("kind,b", D_CASES)
def test_jax_discriminator(kind, b):
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp
    import fastloss.jax as flj
    rng = rng_for("gan_jax_d", kind, b)
    real, fake = _outputs(rng, (41,), np.float32), _outputs(rng, (3, 5), np.float32)
    kw = {"kind": kind, "real_label": b}
    got, (g_r, g_f) = jax.jit(jax.value_and_grad(
        lambda r, f: 1.5 * flj.gan_discriminator(r, f, **kw), argnums=(0, 1)))(real, fake)
    want, (w_r, w_f) = jax.value_and_grad(
        lambda r, f: 1.5 * _jax_discriminator(jnp, jax, r, f, kind, b), argnums=(0, 1))(real, fake)
    t = tolerance("jax_float32")
    np.testing.assert_allclose(got, want, **t)
    np.testing.assert_allclose(g_r, w_r, **t)
    np.testing.assert_allclose(g_f, w_f, **t)
    # the pair of terms, each with its own cotangent
    (lr, lf), vjp = jax.vjp(lambda r, f: flj.gan_discriminator(r, f, reduction="none", **kw),
                            real, fake)
    c_r, c_f = rng.uniform(-2, 2, real.shape).astype(np.float32), \
        rng.uniform(-2, 2, fake.shape).astype(np.float32)
    d_r, d_f = vjp((c_r, c_f))
    (n_r, n_f), (e_r, e_f) = _numpy_discriminator(real, fake, {**kw, "reduction": "none"},
                                                  (c_r, c_f))
    for a, e in ((lr, n_r), (lf, n_f), (d_r, e_r), (d_f, e_f)):
        np.testing.assert_allclose(a, e, **t)


@pytest.mark.parametrize("kind", G_KINDS)
def test_jax_generator(kind):
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp
    import fastloss.jax as flj
    rng = rng_for("gan_jax_g", kind)
    fake = _outputs(rng, (6, 7), np.float32)
    sw = rng.uniform(0.1, 2.0, (7,)).astype(np.float32)
    got, g = jax.value_and_grad(lambda f: flj.gan_generator(
        f, kind=kind, reduction="sum", sample_weight=sw))(fake)
    want, w = jax.value_and_grad(lambda f: jnp.sum(sw * _jax_generator(jnp, jax, f, kind)))(fake)
    t = tolerance("jax_float32")
    np.testing.assert_allclose(got, want, **t)
    np.testing.assert_allclose(g, w, **t)


def test_jax_errors():
    pytest.importorskip("jax")
    import fastloss.jax as flj
    x = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match=r"^\[fastloss.jax.gan_discriminator\] kind must"):
        flj.gan_discriminator(x, x, kind="x")
    with pytest.raises(ValueError, match=r"^\[fastloss.jax.gan_discriminator\] real_label must"):
        flj.gan_discriminator(x, x, real_label=0.0)
    with pytest.raises(TypeError, match=r"^\[fastloss.jax.gan_discriminator\] fake must be a "
                                        r"float array"):
        flj.gan_discriminator(x, x.astype(np.int32))
    with pytest.raises(TypeError, match=r"^\[fastloss.jax.gan_generator\] fake must be a float"):
        flj.gan_generator(np.zeros(3, np.int32))
