"""fastloss.triplet against its float64 reference and torch.nn.functional.triplet_margin_loss
(values and autograd gradients): every reduction, p = 2, 1 and general, swap, feature counts
around the SIMD widths, row counts around the driver's blocks, coincident embeddings, margin 0,
inf/NaN, finite differences, bitwise equality across thread counts, and errors."""

from __future__ import annotations

import numpy as np
import pytest

import fastloss
from fastloss import reference
from finite_differences import numerical_gradient
from helpers import assert_close, rng_for, tol, tolerance

DTYPES = (np.float32, np.float64)
REDUCTIONS = ("mean", "sum", "none")
DIMS = (1, 7, 8, 9, 16, 17, 33, 128)
ROWS = (1, 255, 256, 257, 513)
NORMS = ({}, {"p": 1.0}, {"p": 3.0}, {"p": 1.5, "swap": True}, {"swap": True},
         {"margin": 0.0}, {"eps": 0.0, "margin": 0.3})
VG = fastloss.value_and_grad(fastloss.triplet, argnums=(0, 1, 2))


def triplets(rng, n, d, dtype):
    a = rng.normal(size=(n, d))
    s = 1 / np.sqrt(d)
    return tuple(x.astype(dtype) for x in (a, a + rng.normal(size=(n, d)) * 0.6 * s,
                                           a + rng.normal(size=(n, d)) * 1.2 * s))


def check(args, dtype, reduction, kw, weighted=False, rng=None):
    rng = rng or rng_for("triplet check")
    shape = args[0].shape[:-1]
    sw = rng.uniform(0.0, 2.0, shape) if weighted else None
    up = rng.uniform(-2.0, 2.0, shape) if reduction == "none" else 0.7
    kw = dict(kw, reduction=reduction, sample_weight=sw)
    value, grads = VG(*args, grad_output=up, **kw)
    ref = tuple(a.astype(np.float64) for a in args)
    t = tol("triplet", dtype)
    assert_close(value, reference.triplet(*ref, **kw), **t)
    want = reference.triplet_grad(*ref, grad_output=up, argnums=(0, 1, 2), **kw)
    for g, w in zip(grads, want):
        assert g.dtype == dtype
        assert_close(g, w, **t)
    assert_close(fastloss.triplet(*args, **kw), reference.triplet(*ref, **kw), **t)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("d", DIMS)
def test_triplet_against_reference(dtype, reduction, d):
    rng = rng_for("triplet", d, reduction, np.dtype(dtype).name)
    args = triplets(rng, 29, d, dtype)
    for kw in NORMS:
        check(args, dtype, reduction, kw, weighted=bool(len(kw) % 2), rng=rng)


@pytest.mark.parametrize("n", ROWS)
def test_triplet_rows_around_blocks(n):
    rng = rng_for("triplet rows", n)
    args = triplets(rng, n, 128, np.float32)
    for reduction in REDUCTIONS:
        check(args, np.float32, reduction, {"swap": True}, weighted=True, rng=rng)


def test_triplet_strided_layouts_and_gradient_buffers():
    rng = rng_for("triplet layouts")
    a, p, n = (rng.normal(size=(4, 3, 10)) for _ in range(3))
    args = (a[..., ::2], p.transpose(1, 0, 2).copy().transpose(1, 0, 2)[..., 1::2], n[..., :5])
    check(args, np.float64, "none", {"p": 1.0}, rng=rng)
    bufs = (np.zeros((4, 3, 10))[..., ::2], np.zeros((5, 3, 4)).transpose(2, 1, 0), None)
    value, (ga, gp, gn) = VG(*args, grad_into=bufs, reduction="sum")
    assert ga is bufs[0] and gp is bufs[1]
    want = reference.triplet_grad(*args, argnums=(0, 1, 2), reduction="sum")
    for g, w in zip((ga, gp, gn), want):
        assert_close(g, w, **tol("triplet", np.float64))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_triplet_coincident_embeddings_and_margin_zero(dtype):
    x = np.arange(8.0).reshape(2, 4).astype(dtype)
    # eps = 0, coincident: every distance 0, loss = margin, every gradient 0 (never NaN)
    value, grads = VG(x, x.copy(), x.copy(), eps=0.0, reduction="none")
    assert value.tolist() == [1.0, 1.0]
    assert all(np.all(g == 0) for g in grads)
    # PyTorch's eps: d(x, x) = eps sqrt(D) for every pair, the same loss, finite gradients
    value, grads = VG(x, x.copy(), x.copy(), reduction="none")
    assert_close(value, np.ones(2), **tol("triplet", dtype))
    assert all(np.all(np.isfinite(g)) for g in grads)
    rng = rng_for("triplet margin 0")
    args = triplets(rng, 40, 9, dtype)
    check(args, dtype, "mean", {"margin": 0.0}, rng=rng)
    value, grads = VG(*args, margin=0.0, reduction="none")
    inactive = value == 0
    assert inactive.any() and all(np.all(g[inactive] == 0) for g in grads)


def test_triplet_inf_and_nan():
    a = np.zeros((3, 2))
    p = np.array([[np.nan, 0.0], [0.1, 0.0], [0.1, 0.0]])
    n = np.array([[1.0, 0.0], [np.inf, 0.0], [-np.inf, np.inf]])
    value, grads = VG(a, p, n, reduction="none")
    want = reference.triplet(a, p, n, reduction="none")
    np.testing.assert_array_equal(value, want)
    assert np.isnan(value[0]) and all(np.isnan(g[0]).all() for g in grads)
    assert value[1] == 0 and all(np.all(g[1] == 0) for g in grads)  # far negative: inactive
    assert value[2] == 0 and all(np.all(g[2] == 0) for g in grads)
    for g, w in zip(grads, reference.triplet_grad(a, p, n, reduction="none", argnums=(0, 1, 2))):
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("kw", NORMS, ids=str)
def test_triplet_finite_differences_of_the_reference(kw):
    rng = rng_for("triplet fd", str(kw))
    args = triplets(rng, 8, 5, np.float64)
    full = {"margin": 1.0, "p": 2.0, "eps": 1e-6, "swap": False, **kw}
    from fastloss._registry import REGISTRY
    clear = REGISTRY["triplet"].kinks(args, full) > 1e-2
    up = rng.uniform(-2, 2, 8)
    for index in range(3):
        num = numerical_gradient(lambda *x: reference.triplet(*x, reduction="none", **kw), args,
                                 index, {}, up)
        ana = reference.triplet_grad(*args, grad_output=up, argnums=index, reduction="none", **kw)
        assert_close(ana[clear], num[clear], **tolerance("finite_difference"))


@pytest.mark.parametrize("kw", NORMS, ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_triplet_against_torch(kw, reduction):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    if kw.get("margin") == 0.0:
        pytest.skip("PyTorch refuses margin <= 0 (fastloss takes margin >= 0)")
    rng = rng_for("triplet torch", str(kw), reduction)
    args = triplets(rng, 64, 17, np.float64)
    ts = [torch.tensor(x, requires_grad=True) for x in args]
    loss = F.triplet_margin_loss(*ts, reduction=reduction, **kw)
    up = rng.uniform(-2, 2, 64) if reduction == "none" else 0.7
    (loss * torch.as_tensor(up, dtype=torch.float64)).sum().backward()
    value, grads = VG(*args, grad_output=up, reduction=reduction, **kw)
    t64 = tolerance("torch_float64")
    np.testing.assert_allclose(value, loss.detach().numpy(), **t64)
    full = {"margin": 1.0, "p": 2.0, "eps": 1e-6, "swap": False, **kw}
    from fastloss._registry import REGISTRY
    clear = REGISTRY["triplet"].kinks(args, full) > 1e-9  # PyTorch differs at the kinks only
    for g, t in zip(grads, ts):
        np.testing.assert_allclose(g[clear], t.grad.numpy()[clear], **t64)


def test_triplet_bitwise_across_threads():
    rng = rng_for("triplet threads")
    args = triplets(rng, 2001, 65, np.float32)
    sw = rng.uniform(0, 2, 2001).astype(np.float32)
    before = fastloss.get_num_threads()
    results = []
    try:
        for n in (1, 2, 3, 8):
            fastloss.set_num_threads(n)
            out = []
            for kw in ({}, {"p": 1.5, "swap": True}):
                for r in REDUCTIONS:
                    value, grads = VG(*args, reduction=r, sample_weight=sw, **kw)
                    out.append(value.tobytes() + b"".join(g.tobytes() for g in grads))
            results.append(out)
    finally:
        fastloss.set_num_threads(before)
    assert all(r == results[0] for r in results[1:])


def test_triplet_empty_and_one_row():
    e = np.zeros((0, 3))
    assert np.isnan(fastloss.triplet(e, e, e)) and fastloss.triplet(e, e, e, reduction="sum") == 0
    a, p, n = np.array([0.0, 1.0]), np.array([0.5, 1.0]), np.array([2.0, 1.0])
    loss, grads = VG(a, p, n, reduction="none")
    loss2, grads2 = VG(a[None], p[None], n[None], reduction="none")
    assert loss.shape == () and float(loss) == float(loss2[0])
    for g, g2 in zip(grads, grads2):
        np.testing.assert_array_equal(g, g2[0])


@pytest.mark.parametrize("call, exc, match", [
    (lambda x: fastloss.triplet(x, x, x[:, :3]), ValueError,
     r"\[fastloss.triplet\] negative must have the number of features \(last axis\) of anchor"),
    (lambda x: fastloss.triplet(x, x[:2], x), ValueError, "positive must have the shape"),
    (lambda x: fastloss.triplet(x, x, x, margin=-1.0), ValueError, "margin must be"),
    (lambda x: fastloss.triplet(x, x, x, p=0.5), ValueError, "p must be a finite number >= 1"),
    (lambda x: fastloss.triplet(x, x, x, p=np.inf), ValueError, "p must be .*finite"),
    (lambda x: fastloss.triplet(x, x, x, eps=np.nan), ValueError, "eps must be finite"),
    (lambda x: fastloss.triplet(x, x, x, swap=1), TypeError, "swap must be a bool"),
    (lambda x: fastloss.triplet(x.astype(np.int32), x, x), TypeError, "anchor must be float32"),
    (lambda x: fastloss.triplet(x, x, x.astype(np.float32)), TypeError,
     "negative must have the dtype of anchor"),
    (lambda x: fastloss.triplet(x[0, 0], x[0, 0], x[0, 0]), ValueError, "feature axis"),
    (lambda x: fastloss.value_and_grad(fastloss.triplet, argnums=3)(x, x, x), ValueError,
     "argnums 3"),
    (lambda x: fastloss.value_and_grad(fastloss.triplet, argnums=(0, 2))(
        x, x + 1, x + 2, grad_into=(None, x)), ValueError, "grad_into"),
])
def test_triplet_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call(np.ones((4, 5)))
