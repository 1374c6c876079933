"""cosine_embedding (torch.nn.functional.cosine_embedding_loss) against its float64 reference
and PyTorch: every reduction and dtype, feature counts around the SIMD lanes, rows around the
driver's blocks, zero embeddings, the hinge's kink, inf/NaN, finite differences, bitwise equality
across thread counts and ISAs, layouts, errors, and the fastloss.torch and fastloss.jax forms."""

from __future__ import annotations

import numpy as np
import pytest

import fastloss
from fastloss import reference
from fastloss._registry import REGISTRY
from finite_differences import numerical_gradient
from helpers import assert_close, rng_for, tol, tolerance

DTYPES = (np.float32, np.float64)
REDUCTIONS = ("mean", "sum", "none")
DIMS = (1, 7, 8, 9, 16, 17, 33, 128)  # around the 8 lanes of the feature sums
ROWS = (1, 255, 256, 257, 513)        # around the driver's blocks at D = 128
VG = fastloss.value_and_grad(fastloss.cosine_embedding, argnums=(0, 1))


def pairs(rng, n, d, dtype):
    x1 = rng.normal(size=(n, d))
    x2 = x1 * rng.choice([-1.0, 1.0], size=(n, 1)) + rng.normal(size=(n, d))
    return x1.astype(dtype), x2.astype(dtype), rng.integers(0, 2, n) * 2 - 1


def check(x1, x2, y, dtype, reduction, margin=0.0, weighted=False, rng=None):
    rng = rng or rng_for("cosine check")
    shape = y.shape
    sw = rng.uniform(0.0, 2.0, shape) if weighted else None
    up = rng.uniform(-2.0, 2.0, shape) if reduction == "none" else 0.7
    kw = dict(margin=margin, reduction=reduction, sample_weight=sw)
    value, (g1, g2) = VG(x1, x2, y, grad_output=up, **kw)
    ref_args = (x1.astype(np.float64), x2.astype(np.float64), y)
    want = reference.cosine_embedding(*ref_args, **kw)
    want_g1, want_g2 = reference.cosine_embedding_grad(*ref_args, grad_output=up,
                                                       argnums=(0, 1), **kw)
    t = tol("cosine_embedding", dtype)
    assert value.dtype == dtype and g1.dtype == dtype and g2.dtype == dtype
    assert_close(value, want, **t)
    assert_close(g1, want_g1, **t)
    assert_close(g2, want_g2, **t)
    assert_close(fastloss.cosine_embedding(x1, x2, y, **kw), want, **t)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("d", DIMS)
def test_against_reference(dtype, reduction, d):
    rng = rng_for("cosine", d, reduction, np.dtype(dtype).name)
    x1, x2, y = pairs(rng, 37, d, dtype)
    check(x1, x2, y, dtype, reduction, rng=rng)
    check(x1, x2, y, dtype, reduction, margin=0.3, weighted=True, rng=rng)


@pytest.mark.parametrize("n", ROWS)
def test_rows_around_blocks(n):
    rng = rng_for("cosine rows", n)
    x1, x2, y = pairs(rng, n, 128, np.float32)
    for reduction in REDUCTIONS:
        check(x1, x2, y, np.float32, reduction, margin=-0.2, rng=rng)


def test_leading_axes_and_strided_layouts():
    rng = rng_for("cosine layouts")
    x1, x2 = rng.normal(size=(3, 4, 10)), rng.normal(size=(3, 4, 10))
    y = rng.integers(0, 2, (3, 4)) * 2 - 1
    loss = fastloss.cosine_embedding(x1, x2, y, reduction="none")
    assert loss.shape == (3, 4)
    flat = fastloss.cosine_embedding(x1.reshape(12, 10), x2.reshape(12, 10), y.reshape(12),
                                     reduction="none")
    np.testing.assert_array_equal(loss.reshape(12), flat)
    # strided inputs (every other feature, a transposed view) give the contiguous copy's bits
    wide1, wide2 = rng.normal(size=(6, 20)), rng.normal(size=(6, 20))
    yy = np.array([1, -1, 1, -1, -1, 1])
    np.testing.assert_array_equal(
        VG(wide1[:, ::2], wide2[:, ::2], yy, reduction="none")[1][0],
        VG(wide1[:, ::2].copy(), wide2[:, ::2].copy(), yy, reduction="none")[1][0])
    t1 = np.asfortranarray(wide1)
    np.testing.assert_array_equal(fastloss.cosine_embedding(t1, wide2, yy, reduction="none"),
                                  fastloss.cosine_embedding(wide1, wide2, yy, reduction="none"))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_zero_embeddings_stay_finite(dtype):
    # PyTorch's eps: a zero embedding has cosine 0, loss 1 (similar) or max(0, -m), and the
    # gradient of the formula (finite, large), never NaN
    x1 = np.zeros((2, 3), dtype)
    x2 = np.array([[1.0, 2.0, 2.0], [0.0, 0.0, 0.0]], dtype)
    y = np.array([1, 1])
    loss, (g1, g2) = VG(x1, x2, y, reduction="none")
    np.testing.assert_allclose(loss, [1.0, 1.0])
    assert np.all(np.isfinite(g1)) and np.all(np.isfinite(g2))
    want = reference.cosine_embedding_grad(x1.astype(np.float64), x2.astype(np.float64), y,
                                           reduction="none", argnums=(0, 1))
    assert_close(g1, want[0], **tol("cosine_embedding", dtype))
    assert_close(g2, want[1], **tol("cosine_embedding", dtype))
    dissimilar = fastloss.cosine_embedding(x1, x2, -y, margin=-0.25, reduction="none")
    np.testing.assert_allclose(dissimilar, [0.25, 0.25])


def test_kink_and_inactive_hinge_give_zero_gradient():
    x1 = np.array([[1.0, 0.0], [1.0, 0.0], [np.inf, 0.0]])
    x2 = np.array([[0.6, 0.8], [0.0, 1.0], [0.0, 1.0]])
    y = np.array([-1, -1, 1])
    loss, (g1, g2) = VG(x1[:2], x2[:2], y[:2], margin=0.6, reduction="none")
    # row 0 at the kink (cos = 0.6 = margin, but for the eps), row 1 below it: both 0
    assert loss.tolist() == [0.0, 0.0]
    assert not g1.any() and not g2.any()
    # an infinite coordinate: NaN loss and gradient (inf / inf), as PyTorch
    loss, (g1, _) = VG(x1, x2, y, reduction="none")
    assert np.isnan(loss[2]) and np.all(np.isnan(g1[2]))
    nan = x1.copy()
    nan[0, 1] = np.nan
    loss, (g1, g2) = VG(nan, x2, y, reduction="none")
    assert np.isnan(loss[0]) and np.all(np.isnan(g1[0])) and np.all(np.isnan(g2[0]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_finite_differences_of_the_reference(reduction):
    rng = rng_for("cosine fd", reduction)
    x1, x2, y = pairs(rng, 6, 5, np.float64)
    kinks = REGISTRY["cosine_embedding"].kinks((x1, x2), {"target": y, "margin": 0.2})
    assert np.all(kinks > 1e-3)  # (finite differences of a step ~1e-6 stay on one side)
    up = rng.uniform(-2, 2, 6) if reduction == "none" else 1.3
    kw = dict(margin=0.2, reduction=reduction, sample_weight=rng.uniform(0.5, 2.0, 6))
    for index in (0, 1):
        num = numerical_gradient(lambda a, b: reference.cosine_embedding(a, b, y, **kw),
                                 (x1, x2), index, {}, up)
        ana = reference.cosine_embedding_grad(x1, x2, y, grad_output=up, argnums=index, **kw)
        assert_close(ana, num, **tolerance("finite_difference"))


def test_bitwise_across_threads():
    rng = rng_for("cosine threads")
    x1, x2, y = pairs(rng, 3001, 65, np.float32)  # 196065 features: the pool is used
    sw = rng.uniform(0, 2, 3001).astype(np.float32)
    before = fastloss.get_num_threads()
    results = []
    try:
        for n in (1, 2, 3, 8):
            fastloss.set_num_threads(n)
            results.append([VG(x1, x2, y, reduction=r, sample_weight=sw) for r in REDUCTIONS])
    finally:
        fastloss.set_num_threads(before)
    for other in results[1:]:
        for (v0, (a0, b0)), (v, (a, b)) in zip(results[0], other):
            assert v0.tobytes() == v.tobytes()
            assert a0.tobytes() == a.tobytes() and b0.tobytes() == b.tobytes()


def test_same_bits_on_every_isa(restore_isa):
    rng = rng_for("cosine isa")
    x1, x2, y = pairs(rng, 300, 37, np.float32)
    results = {}
    for isa in restore_isa.compiled_isas():
        if not restore_isa.isa_supported(isa):
            continue
        restore_isa.select_isa(isa)
        value, (g1, g2) = VG(x1, x2, y, reduction="none")
        results[isa] = value.tobytes() + g1.tobytes() + g2.tobytes()
    assert len(set(results.values())) == 1, sorted(results)


def test_one_row_and_empty():
    x1, x2 = np.array([0.5, -1.0, 2.0]), np.array([0.0, 1.0, 1.5])
    loss, (g1, g2) = VG(x1, x2, np.array(1), reduction="none")
    assert loss.shape == () and g1.shape == g2.shape == (3,)
    assert float(loss) == float(fastloss.cosine_embedding(x1[None], x2[None], np.array([1]),
                                                          reduction="none")[0])
    x = np.zeros((0, 4))
    assert np.isnan(fastloss.cosine_embedding(x, x, np.zeros(0)))
    assert fastloss.cosine_embedding(x, x, np.zeros(0), reduction="sum") == 0
    assert fastloss.cosine_embedding(x, x, np.zeros(0), reduction="none").shape == (0,)


@pytest.mark.parametrize("call, exc, match", [
    (lambda x, y: fastloss.cosine_embedding(x, x[:, :3], y), ValueError,
     r"\[fastloss.cosine_embedding\] x2 must have the number of features"),
    (lambda x, y: fastloss.cosine_embedding(x, x, y[:3]), ValueError,
     "target must have the row shape"),
    (lambda x, y: fastloss.cosine_embedding(x, x, (y + 1) // 2), ValueError,
     r"target must be 1 or -1, got 0 at index \(1,\)"),
    (lambda x, y: fastloss.cosine_embedding(x, x, y * 0.5), ValueError, "target must be 1 or -1"),
    (lambda x, y: fastloss.cosine_embedding(x, x, y, margin=np.nan), ValueError,
     "margin must be finite"),
    (lambda x, y: fastloss.cosine_embedding(x, x, y, margin="0"), TypeError, "margin"),
    (lambda x, y: fastloss.cosine_embedding(x.astype(int), x, y), TypeError, "x1 must be float32"),
    (lambda x, y: fastloss.cosine_embedding(x, x.astype(np.float32), y), TypeError,
     "x2 must have the dtype of x1"),
    (lambda x, y: fastloss.cosine_embedding(x, x, y.astype(str)), TypeError,
     "target must hold real"),
    (lambda x, y: fastloss.value_and_grad(fastloss.cosine_embedding, argnums=2)(x, x, y),
     ValueError, "target has no gradient"),
    (lambda x, y: fastloss.value_and_grad(fastloss.cosine_embedding)(x, x.copy(), y, grad_into=x),
     ValueError, "grad_into"),
])
def test_errors(call, exc, match):
    x = np.linspace(-1.0, 1.0, 20).reshape(4, 5)
    y = np.array([1, -1, 1, -1])
    with pytest.raises(exc, match=match):
        call(x, y)


# ---- PyTorch --------------------------------------------------------------------------------

@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.35, -0.5])
def test_matches_torch_functional(reduction, margin):
    torch = pytest.importorskip("torch")
    import fastloss.torch as flt

    rng = rng_for("cosine torch", reduction, margin)
    x1, x2, y = pairs(rng, 40, 9, np.float64)
    target = torch.tensor(y)
    ours = [torch.tensor(a, requires_grad=True) for a in (x1, x2)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x1, x2)]
    loss = flt.cosine_embedding_loss(*ours, target, margin=margin, reduction=reduction)
    want = torch.nn.functional.cosine_embedding_loss(*theirs, target, margin=margin,
                                                     reduction=reduction)
    t64 = tolerance("torch_float64")
    np.testing.assert_allclose(loss.detach().numpy(), want.detach().numpy(), **t64)
    up = torch.tensor(rng.uniform(-2, 2, want.shape), dtype=torch.float64)
    (loss * up).sum().backward()
    (want * up).sum().backward()
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **t64)


def test_torch_module_float32_legacy_reduction_and_gradcheck():
    torch = pytest.importorskip("torch")
    import fastloss.torch as flt

    rng = rng_for("cosine torch module")
    x1, x2, y = pairs(rng, 8, 6, np.float32)
    a, b, t = torch.tensor(x1), torch.tensor(x2), torch.tensor(y)
    module = flt.CosineEmbeddingLoss(margin=0.2, reduction="sum")
    want = torch.nn.CosineEmbeddingLoss(margin=0.2, reduction="sum")(a, b, t)
    t32 = tol("cosine_embedding", np.float32)
    assert_close(module(a, b, t).numpy(), want.numpy(), **t32)
    with pytest.warns(UserWarning, match="size_average"):
        legacy = flt.cosine_embedding_loss(a, b, t, size_average=False).item()
    assert_close(np.float32(legacy), torch.nn.functional.cosine_embedding_loss(
        a, b, t, reduction="sum").numpy(), **t32)
    a64, b64 = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in pairs(
        rng, 5, 4, np.float64)[:2])
    t5 = torch.tensor([1, -1, 1, -1, -1])
    for reduction in ("none", "mean"):
        assert torch.autograd.gradcheck(
            lambda u, v: flt.cosine_embedding_loss(u, v, t5, margin=-0.9, reduction=reduction),
            (a64, b64), eps=1e-6, atol=tolerance("finite_difference")["atol"])
    with pytest.raises(ValueError, match=r"target must be 1 or -1"):
        flt.cosine_embedding_loss(a, b, (t + 1) // 2)


# ---- JAX ------------------------------------------------------------------------------------

@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_jax_matches_the_numpy_api(reduction):
    """Values are the NumPy API's bits; gradients are its unit-upstream gradients times the
    cotangent in float32 (the pure_callback path's backward), so within rounding of them."""
    jax = pytest.importorskip("jax")
    import fastloss.jax as flj

    rng = rng_for("cosine jax", reduction)
    x1, x2, y = pairs(rng, 6, 5, np.float32)
    up = rng.uniform(-2, 2, 6).astype(np.float32) if reduction == "none" else np.float32(1.5)
    kw = dict(margin=0.1, reduction=reduction)
    f = jax.jit(jax.value_and_grad(
        lambda a, b: (flj.cosine_embedding(a, b, y, **kw) * up).sum(), argnums=(0, 1)))
    value, grads = f(x1, x2)
    want, want_grads = VG(x1, x2, y, grad_output=up if reduction == "none" else float(up), **kw)
    np.testing.assert_array_equal(np.asarray(flj.cosine_embedding(x1, x2, y, **kw)), want)
    for g, w in zip(grads, want_grads):
        assert_close(np.asarray(g), w, **tol("cosine_embedding", np.float32))
    with pytest.raises(ValueError, match=r"\[fastloss.jax.cosine_embedding\] target must have"):
        flj.cosine_embedding(x1, x2, y[:2])
