"""The embedding driver and the metric-learning losses against their float64 references and
PyTorch: every reduction, feature counts around the SIMD widths, row counts around the driver's
blocks, coincident embeddings, margin 0, inf/NaN, finite differences, bitwise equality across
thread counts, layouts, and errors."""

from __future__ import annotations

import numpy as np
import pytest

import fastloss
from fastloss import reference
from finite_differences import numerical_gradient
from helpers import assert_close, rng_for, tol, tolerance

DTYPES = (np.float32, np.float64)
REDUCTIONS = ("mean", "sum", "none")
# Around the 8 lanes of the feature sums (and 16, 32 for wider registers), and a long row.
DIMS = (1, 7, 8, 9, 16, 17, 33, 128)
# Blocks hold kRowBlockElements = 2^15 features: at D = 128, 256 rows a block.
ROWS = (1, 255, 256, 257, 513)


def pairs(rng, n, d, dtype, *, scale=None):
    x1 = rng.normal(size=(n, d))
    x2 = x1 + rng.normal(size=(n, d)) * (scale if scale is not None else 1 / np.sqrt(d))
    return x1.astype(dtype), x2.astype(dtype), rng.integers(0, 2, n)


def check_contrastive(x1, x2, y, dtype, reduction, margin=1.0, weighted=False, rng=None):
    rng = rng or rng_for("contrastive check")
    shape = y.shape
    sw = rng.uniform(0.0, 2.0, shape) if weighted else None
    up = rng.uniform(-2.0, 2.0, shape) if reduction == "none" else 0.7
    kw = dict(margin=margin, reduction=reduction, sample_weight=sw)
    vg = fastloss.value_and_grad(fastloss.contrastive, argnums=(0, 1))
    value, (g1, g2) = vg(x1, x2, y, grad_output=up, **kw)
    ref_args = (x1.astype(np.float64), x2.astype(np.float64), y)
    want = reference.contrastive(*ref_args, **kw)
    want_g1, want_g2 = reference.contrastive_grad(*ref_args, grad_output=up, argnums=(0, 1), **kw)
    t = tol("contrastive", dtype)
    assert value.dtype == dtype and g1.dtype == dtype and g2.dtype == dtype
    assert_close(value, want, **t)
    assert_close(g1, want_g1, **t)
    assert_close(g2, want_g2, **t)
    assert_close(fastloss.contrastive(x1, x2, y, **kw), want, **t)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("d", DIMS)
def test_contrastive_against_reference(dtype, reduction, d):
    rng = rng_for("contrastive", d, reduction, np.dtype(dtype).name)
    x1, x2, y = pairs(rng, 37, d, dtype)
    check_contrastive(x1, x2, y, dtype, reduction, rng=rng)
    check_contrastive(x1, x2, y, dtype, reduction, weighted=True, rng=rng)


@pytest.mark.parametrize("n", ROWS)
def test_contrastive_rows_around_blocks(n):
    rng = rng_for("contrastive rows", n)
    x1, x2, y = pairs(rng, n, 128, np.float32)
    for reduction in REDUCTIONS:
        check_contrastive(x1, x2, y, np.float32, reduction, weighted=True, rng=rng)


def test_contrastive_leading_axes_and_strided_layouts():
    rng = rng_for("contrastive layouts")
    x1 = rng.normal(size=(3, 5, 9))
    x2 = rng.normal(size=(3, 9, 5)).transpose(0, 2, 1)  # features strided
    y = rng.integers(0, 2, (5, 3)).T                    # labels transposed
    check_contrastive(x1, x2, y, np.float64, "none", rng=rng)
    check_contrastive(x1[:, ::2], x2[:, ::2], y[:, ::2], np.float64, "mean", rng=rng)
    # gradients written into strided buffers
    g1 = np.zeros((3, 5, 18))[..., ::2]
    g2 = np.zeros((5, 9, 3)).transpose(2, 0, 1)
    vg = fastloss.value_and_grad(fastloss.contrastive, argnums=(0, 1))
    _, (a, b) = vg(x1, x2, y, grad_into=(g1, g2), reduction="sum")
    assert a is g1 and b is g2
    w1, w2 = reference.contrastive_grad(x1, x2, y, argnums=(0, 1), reduction="sum")
    assert_close(g1, w1, **tol("contrastive", np.float64))
    assert_close(g2, w2, **tol("contrastive", np.float64))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_contrastive_coincident_embeddings_and_margin_zero(dtype):
    x = np.arange(12.0).reshape(3, 4).astype(dtype)
    y = np.array([0, 1, 0])
    vg = fastloss.value_and_grad(fastloss.contrastive, argnums=(0, 1))
    value, (g1, g2) = vg(x, x.copy(), y, reduction="none")
    # d = 0: similar pairs give 0, dissimilar ones m^2 / 2; every gradient is 0, never NaN
    assert value.tolist() == [0.5, 0.0, 0.5]
    assert np.all(g1 == 0) and np.all(g2 == 0)
    rng = rng_for("contrastive margin 0")
    x1, x2, y = pairs(rng, 20, 7, dtype)
    value, (g1, _) = vg(x1, x2, y, margin=0.0, reduction="none")
    assert np.all(value[y == 0] == 0) and np.all(g1[y == 0] == 0)
    check_contrastive(x1, x2, y, dtype, "mean", margin=0.0, rng=rng)


def test_contrastive_inf_and_nan():
    x1 = np.zeros((4, 3))
    x2 = np.array([[np.inf, 0, 0], [np.inf, 0, 0], [np.nan, 0, 0], [np.nan, 0, 0]])
    y = np.array([0, 1, 0, 1])
    value, (g1, g2) = fastloss.value_and_grad(fastloss.contrastive, argnums=(0, 1))(
        x1, x2, y, reduction="none")
    want = reference.contrastive(x1, x2, y, reduction="none")
    np.testing.assert_array_equal(value, want)
    assert value[0] == 0 and value[1] == np.inf and np.isnan(value[2:]).all()
    assert np.all(g1[0] == 0) and np.all(g2[0] == 0)      # far dissimilar: gradient 0
    assert g1[1, 0] == -np.inf and np.all(g1[1, 1:] == 0)  # far similar: c = 1, x1 - x2 = -inf
    # NaN: every gradient entry of a dissimilar pair, the NaN coordinate of a similar one (c = 1)
    assert np.isnan(g1[2]).all() and np.isnan(g2[2]).all()
    assert np.isnan(g1[3, 0]) and np.all(g1[3, 1:] == 0)
    wg = reference.contrastive_grad(x1, x2, y, reduction="none", argnums=0)
    np.testing.assert_array_equal(g1, wg)


def test_contrastive_label_dtypes():
    rng = rng_for("contrastive labels")
    x1, x2, y = pairs(rng, 10, 5, np.float64)
    want = fastloss.contrastive(x1, x2, y)
    for dtype in (np.float32, np.float64, np.int8, np.uint16, np.bool_):
        assert fastloss.contrastive(x1, x2, y.astype(dtype)) == want


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_contrastive_finite_differences_of_the_reference(reduction):
    rng = rng_for("contrastive fd", reduction)
    x1, x2, y = pairs(rng, 6, 5, np.float64)
    x2[0] = x1[0]  # d = 0 is a kink of dissimilar pairs: keep the row similar
    y[0] = 1
    kw = dict(margin=1.3, reduction=reduction, sample_weight=rng.uniform(0.5, 2.0, 6))
    up = rng.uniform(-2, 2, 6) if reduction == "none" else 0.8
    for index in (0, 1):
        num = numerical_gradient(lambda a, b: reference.contrastive(a, b, y, **kw), (x1, x2),
                                 index, {}, up)
        ana = reference.contrastive_grad(x1, x2, y, grad_output=up, argnums=index, **kw)
        assert_close(ana, num, **tolerance("finite_difference"))


def test_contrastive_bitwise_across_threads():
    rng = rng_for("contrastive threads")
    x1, x2, y = pairs(rng, 3001, 65, np.float32)  # 196065 features: the pool is used
    sw = rng.uniform(0, 2, 3001).astype(np.float32)
    vg = fastloss.value_and_grad(fastloss.contrastive, argnums=(0, 1))
    before = fastloss.get_num_threads()
    results = []
    try:
        for n in (1, 2, 3, 8):
            fastloss.set_num_threads(n)
            results.append([vg(x1, x2, y, reduction=r, sample_weight=sw) for r in REDUCTIONS])
    finally:
        fastloss.set_num_threads(before)
    for other in results[1:]:
        for (v0, (a0, b0)), (v, (a, b)) in zip(results[0], other):
            assert v0.tobytes() == v.tobytes()
            assert a0.tobytes() == a.tobytes() and b0.tobytes() == b.tobytes()


def test_contrastive_one_row_gives_a_0d_loss():
    x1, x2 = np.array([0.5, -1.0, 2.0]), np.array([0.0, 1.0, 1.5])
    vg = fastloss.value_and_grad(fastloss.contrastive, argnums=(0, 1))
    loss, (g1, g2) = vg(x1, x2, np.array(0), margin=3.0, reduction="none")
    assert loss.shape == () and g1.shape == g2.shape == (3,)
    loss2, (h1, h2) = vg(x1[None], x2[None], np.array([0]), margin=3.0, reduction="none")
    assert float(loss) == float(loss2[0])
    np.testing.assert_array_equal(g1, h1[0])
    np.testing.assert_array_equal(g2, h2[0])
    assert fastloss.contrastive(x1, x2, 1).shape == ()


def test_contrastive_empty():
    x = np.zeros((0, 4))
    assert np.isnan(fastloss.contrastive(x, x, np.zeros(0)))
    assert fastloss.contrastive(x, x, np.zeros(0), reduction="sum") == 0
    assert fastloss.contrastive(x, x, np.zeros(0), reduction="none").shape == (0,)
    # D = 0: every distance is 0
    z = np.zeros((2, 0))
    assert fastloss.contrastive(z, z, np.array([0, 1]), reduction="none").tolist() == [0.5, 0.0]


@pytest.mark.parametrize("call, exc, match", [
    (lambda x, y: fastloss.contrastive(x, x[:, :3], y), ValueError,
     r"\[fastloss.contrastive\] x2 must have the number of features"),
    (lambda x, y: fastloss.contrastive(x, x[:3], y), ValueError, "x2 must have the shape of x1"),
    (lambda x, y: fastloss.contrastive(x, x, y[:3]), ValueError, "similar must have the row shape"),
    (lambda x, y: fastloss.contrastive(x, x, y[:, None]), ValueError, "similar must have the row"),
    (lambda x, y: fastloss.contrastive(x, x, y + 0.5), ValueError,
     r"similar must be 0 or 1, got 0.5 at index \(0,\)"),
    (lambda x, y: fastloss.contrastive(x, x, y * 2 - 1), ValueError, "similar must be 0 or 1"),
    (lambda x, y: fastloss.contrastive(x, x, y, margin=-0.1), ValueError, "margin must be"),
    (lambda x, y: fastloss.contrastive(x, x, y, margin=np.nan), ValueError, "margin must be"),
    (lambda x, y: fastloss.contrastive(x.astype(int), x, y), TypeError, "x1 must be float32"),
    (lambda x, y: fastloss.contrastive(x, x.astype(np.float32), y), TypeError,
     "x2 must have the dtype of x1"),
    (lambda x, y: fastloss.contrastive(x, x, y.astype(str)), TypeError, "similar must hold real"),
    (lambda x, y: fastloss.contrastive(x[0, 0], x[0, 0], 1), ValueError, "feature axis"),
    (lambda x, y: fastloss.contrastive(x, x, y, reduction="avg"), ValueError, "reduction"),
    (lambda x, y: fastloss.value_and_grad(fastloss.contrastive, argnums=2)(x, x, y), ValueError,
     "similar has no gradient"),
])
def test_contrastive_errors(call, exc, match):
    x = np.ones((4, 5))
    y = np.array([0, 1, 1, 0])
    with pytest.raises(exc, match=match):
        call(x, y)


def test_contrastive_gradient_outputs_must_not_alias_inputs():
    rng = rng_for("contrastive aliasing")
    x1, x2, y = pairs(rng, 4, 5, np.float64)
    vg = fastloss.value_and_grad(fastloss.contrastive, argnums=(0, 1))
    for into in ((x1, None), (None, x1), (x2, None), (x1[:, ::-1], None)):
        with pytest.raises(ValueError, match=r"\[fastloss.contrastive\] grad_into"):
            vg(x1, x2, y, grad_into=into)
    g = np.empty_like(x1)
    with pytest.raises(ValueError, match="grad_into"):
        vg(x1, x2, y, grad_into=(g, g))


def test_contrastive_against_a_formula_written_with_torch():
    torch = pytest.importorskip("torch")
    rng = rng_for("contrastive torch")
    x1, x2, y = pairs(rng, 50, 17, np.float64)
    a = torch.tensor(x1, requires_grad=True)
    b = torch.tensor(x2, requires_grad=True)
    d = (a - b).norm(dim=-1)
    t = torch.tensor(y, dtype=torch.float64)
    loss = (0.5 * (t * d ** 2 + (1 - t) * torch.clamp(1.5 - d, min=0) ** 2)).mean()
    loss.backward()
    value, (g1, g2) = fastloss.value_and_grad(fastloss.contrastive, argnums=(0, 1))(
        x1, x2, y, margin=1.5)
    t64 = tolerance("torch_float64")
    np.testing.assert_allclose(value, loss.item(), **t64)
    np.testing.assert_allclose(g1, a.grad.numpy(), **t64)
    np.testing.assert_allclose(g2, b.grad.numpy(), **t64)


def test_contrastive_same_bits_on_every_isa(restore_isa):
    """The feature sums run in fixed lanes (fastloss/embedding.h) and the build contracts no
    FMAs: every compiled ISA the CPU supports gives the same bits."""
    rng = rng_for("contrastive isa")
    x1, x2, y = pairs(rng, 300, 37, np.float32)
    vg = fastloss.value_and_grad(fastloss.contrastive, argnums=(0, 1))
    results = {}
    for isa in restore_isa.compiled_isas():
        if not restore_isa.isa_supported(isa):
            continue
        restore_isa.select_isa(isa)
        value, (g1, g2) = vg(x1, x2, y, reduction="none")
        results[isa] = value.tobytes() + g1.tobytes() + g2.tobytes()
    assert len(set(results.values())) == 1, sorted(results)
