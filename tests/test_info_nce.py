"""info_nce (the in-batch driver, cpp/src/cpu/info_nce.cc) against the float64 reference, a
composed PyTorch oracle (matmul + cross_entropy, autograd) and finite differences of the
reference; batch sizes around the driver's strip of 128 queries, feature counts around the SIMD
widths, both directions, every reduction with a non-unit upstream, sample weights, thread counts,
ISAs and layouts. The registry-wide tests cover the generic contract (errors, edge cases, fuzz)."""

import numpy as np
import pytest
import torch

import fastloss
import fastloss.torch  # noqa: F401 (fastloss.torch.info_nce)
from fastloss import _core, reference
from helpers import assert_bitwise, assert_close, tolerance

SPEC = fastloss._registry.REGISTRY["info_nce"]
STRIP = 128  # the driver's strip of queries (kStripRows)


def _batch(n, d, dtype=np.float64, seed=0, spread=0.7, scale=1.0):
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(n, d))
    k = q + spread * rng.normal(size=(n, d))
    return (scale * q).astype(dtype), (scale * k).astype(dtype)


def _check(dtype, q, k, **kw):
    """Value and both gradients of every reduction against the reference."""
    tol = SPEC.tol(dtype)
    n = q.shape[0]
    for reduction in ("mean", "sum", "none"):
        up = np.linspace(-1.5, 2.0, n) if reduction == "none" else -1.7
        value, (gq, gk) = fastloss.value_and_grad(fastloss.info_nce, argnums=(0, 1))(
            q, k, reduction=reduction, grad_output=up, **kw)
        ref = reference.info_nce(q, k, reduction=reduction, **kw)
        rq, rk = reference.info_nce_grad(q, k, grad_output=up, argnums=(0, 1),
                                         reduction=reduction, **kw)
        assert value.dtype == dtype and gq.dtype == dtype and gk.shape == k.shape
        assert_close(value, ref, **tol, what=f"value {reduction}")
        assert_close(gq, rq, **tol, what=f"d/dquery {reduction}")
        assert_close(gk, rk, **tol, what=f"d/dkey {reduction}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("n, d", [(1, 3), (2, 1), (7, 16), (STRIP - 1, 17), (STRIP, 8),
                                  (STRIP + 1, 33), (2 * STRIP + 5, 64)])
@pytest.mark.parametrize("symmetric", [False, True], ids=["oneway", "symmetric"])
def test_matches_the_reference(dtype, n, d, symmetric):
    q, k = _batch(n, d, dtype)
    _check(dtype, q, k, temperature=0.5, symmetric=symmetric)


@pytest.mark.parametrize("symmetric", [False, True], ids=["oneway", "symmetric"])
def test_confident_positives_keep_their_gradient(symmetric):
    """Unit embeddings at the default temperature 0.07: the positives' probabilities are close
    to 1, so each gradient is a small difference (the driver takes p - 1 as expm1)."""
    q, k = _batch(300, 32, np.float32, spread=0.2)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    k /= np.linalg.norm(k, axis=1, keepdims=True)
    _check(np.float32, q, k, symmetric=symmetric)


def test_sample_weight_weights_each_rows_loss():
    q, k = _batch(140, 12)
    w = np.random.default_rng(3).uniform(0.0, 2.0, 140)
    w[:5] = 0.0
    _check(np.float64, q, k, temperature=0.3, symmetric=True, sample_weight=w)


@pytest.mark.parametrize("symmetric", [False, True], ids=["oneway", "symmetric"])
def test_matches_pytorch_composed(symmetric):
    """matmul + cross_entropy with targets arange(N) (and its transpose), under autograd."""
    q, k = _batch(200, 24, np.float64)
    tq, tk = (torch.tensor(a, requires_grad=True) for a in (q, k))
    z = tq @ tk.T / 0.2
    labels = torch.arange(200)
    loss = torch.nn.functional.cross_entropy(z, labels)
    if symmetric:
        loss = 0.5 * (loss + torch.nn.functional.cross_entropy(z.T, labels))
    loss.backward()
    value, (gq, gk) = fastloss.value_and_grad(fastloss.info_nce, argnums=(0, 1))(
        q, k, temperature=0.2, symmetric=symmetric)
    tol = SPEC.tol(np.float64)
    assert_close(value, loss.item(), **tol, what="value")
    assert_close(gq, tq.grad.numpy(), **tol, what="d/dquery")
    assert_close(gk, tk.grad.numpy(), **tol, what="d/dkey")
    tq2, tk2 = (torch.tensor(a, requires_grad=True) for a in (q, k))
    out = fastloss.torch.info_nce(tq2, tk2, temperature=0.2, symmetric=symmetric)
    out.backward()
    assert_close(out.item(), loss.item(), **tol, what="fastloss.torch value")
    assert_close(tq2.grad.numpy(), tq.grad.numpy(), **tol, what="fastloss.torch d/dquery")


@pytest.mark.parametrize("symmetric", [False, True], ids=["oneway", "symmetric"])
def test_reference_gradient_is_the_finite_difference(symmetric):
    q, k = _batch(5, 3)
    w = np.array([1.0, 0.5, 2.0, 0.0, 1.5])
    kw = dict(temperature=0.4, symmetric=symmetric, sample_weight=w, reduction="sum")
    h = 1e-6
    for argnums, x in ((0, q), (1, k)):
        numeric = np.zeros_like(x)
        for index in np.ndindex(x.shape):
            plus, minus = x.copy(), x.copy()
            plus[index] += h
            minus[index] -= h
            args = lambda a: (a, k) if argnums == 0 else (q, a)  # noqa: E731
            numeric[index] = (reference.info_nce(*args(plus), **kw)
                              - reference.info_nce(*args(minus), **kw)) / (2 * h)
        analytic = reference.info_nce_grad(q, k, argnums=argnums, **kw)
        assert_close(analytic, numeric, **tolerance("finite_difference"), what="finite differences")


def test_bitwise_identical_for_every_thread_count(restore_threads):
    q, k = _batch(3 * STRIP + 7, 40, np.float32)
    f = fastloss.value_and_grad(fastloss.info_nce, argnums=(0, 1))
    results = []
    for n in (1, 2, 3):
        fastloss.set_num_threads(n)
        results.append(f(q, k, symmetric=True, reduction="none", grad_output=np.ones(len(q))))
    for other in results[1:]:
        for a, b in zip((results[0][0], *results[0][1]), (other[0], *other[1])):
            assert_bitwise(a, b, what="threads")


def test_every_isa_meets_the_tolerance(restore_isa):
    q, k = _batch(STRIP + 3, 19, np.float32)
    for isa in _core.compiled_isas():
        if _core.isa_supported(isa):
            assert restore_isa.select_isa(isa) is not False
            _check(np.float32, q, k, temperature=0.5, symmetric=True)


def test_strided_inputs_and_outputs_match_contiguous():
    q, k = _batch(150, 10)
    qt = np.asfortranarray(q)            # column-major
    kt = np.repeat(k, 2, axis=1)[:, ::2]  # a strided view
    f = fastloss.value_and_grad(fastloss.info_nce, argnums=(0, 1))
    v0, (gq0, gk0) = f(q, k, symmetric=True)
    v1, (gq1, gk1) = f(qt, kt, symmetric=True)
    assert_bitwise(v1, v0)
    assert_bitwise(gq1, gq0)
    assert_bitwise(gk1, gk0)


def test_equal_logits_give_log_n():
    q = np.zeros((6, 4))
    value, g = fastloss.value_and_grad(fastloss.info_nce)(q, np.ones((6, 4)), temperature=0.1)
    assert_close(value, np.log(6), **SPEC.tol(np.float64), what="log N")
    assert_close(g, np.zeros_like(g), **SPEC.tol(np.float64), what="uniform softmax")


def test_nan_anywhere_reaches_every_row():
    q, k = _batch(9, 4)
    k[3, 1] = np.nan
    loss = fastloss.info_nce(q, k, reduction="none")
    assert np.isnan(loss).all()


def test_nan_query_reaches_its_own_row_only_one_way():
    q, k = _batch(9, 4)
    q[2, 0] = np.nan
    loss = fastloss.info_nce(q, k, reduction="none")
    assert np.isnan(loss[2]) and np.isfinite(np.delete(loss, 2)).all()
    assert np.isnan(fastloss.info_nce(q, k, symmetric=True, reduction="none")).all()


@pytest.mark.parametrize("symmetric", [False, True], ids=["oneway", "symmetric"])
def test_info_nce_none_backward_with_a_per_row_upstream(symmetric):
    """info_nce's key gradient sums over every query's loss, so the torch and JAX forms'
    reduction="none" backward must run the kernel with the upstream, not scale rows."""
    rng = np.random.default_rng(2)
    q, k = rng.normal(size=(7, 4)), rng.normal(size=(7, 4))
    up = rng.normal(size=7)
    kw = dict(temperature=0.5, symmetric=symmetric, reduction="none")
    rq, rk = reference.info_nce_grad(q, k, grad_output=up, argnums=(0, 1), **kw)
    tol = SPEC.tol(np.float64)
    tq, tk = (torch.tensor(a, requires_grad=True) for a in (q, k))
    fastloss.torch.info_nce(tq, tk, **kw).backward(torch.tensor(up))
    assert_close(tq.grad.numpy(), rq, **tol, what="torch d/dquery")
    assert_close(tk.grad.numpy(), rk, **tol, what="torch d/dkey")
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp
    import fastloss.jax as flj
    with jax.enable_x64(True):
        gq, gk = jax.grad(lambda a, b: jnp.sum(flj.info_nce(a, b, **kw) * up), argnums=(0, 1))(
            jnp.asarray(q), jnp.asarray(k))
    assert_close(np.asarray(gq), rq, **tol, what="jax d/dquery")
    assert_close(np.asarray(gk), rk, **tol, what="jax d/dkey")
