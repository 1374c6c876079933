"""The listwise ranking losses, listnet and listmle: against oracles written with other libraries
(optax's softmax loss, a PyTorch autograd composition of ListMLE), the documented semantics of
ties, padding and non-finite input, the lecture's listwise loss, the log-space path of ListMLE,
bitwise equality across thread counts and ISAs, and the torch and JAX forms.

The registry-wide tests (tests/test_kernels.py, test_hypothesis.py, test_equivalences.py, ...)
check both against the float64 reference for every dtype, reduction and layout, and the
reference's gradients against finite differences (tests/test_reference_gradient_layouts.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import fastloss
import fastloss.torch as flt
from fastloss import _core, reference
from helpers import assert_bitwise, assert_close, tolerance

LOSSES = ("listnet", "listmle")
DTYPES = (np.float32, np.float64)
TOL = {np.float32: {"rtol": 1e-5, "atol": 1e-6}, np.float64: {"rtol": 1e-12, "atol": 1e-13}}


def _lists(rng, shape, dtype=np.float64, grades=5):
    return ((rng.standard_normal(shape) * 2).astype(dtype),
            rng.integers(0, grades, shape).astype(dtype))


def _vg(name, *args, **kwargs):
    return fastloss.value_and_grad(getattr(fastloss, name))(*args, **kwargs)


# ---- oracles ------------------------------------------------------------------------------------

def test_listnet_is_optax_softmax_loss_of_the_label_softmax():
    """optax's ranking_softmax_loss takes the target distribution as its labels: with
    softmax(relevance) it is ListNet, mask as its `where`, per list before the mean."""
    optax = pytest.importorskip("optax")
    jax = pytest.importorskip("jax")
    with jax.enable_x64(True):
        rng = np.random.default_rng(1)
        s, r = _lists(rng, (6, 9))
        mask = rng.random((6, 9)) > 0.3
        q = np.exp(r - r.max(-1, keepdims=True))
        q = np.where(mask, q, 0.0)
        q /= q.sum(-1, keepdims=True)
        theirs = np.asarray(optax.losses.ranking_softmax_loss(s, q, where=mask, reduce_fn=None))
        ours = fastloss.listnet(s, r, mask=mask, reduction="none")
        np.testing.assert_allclose(ours, theirs, **tolerance("jax_float64"))


def _torch_listmle(s, r):
    """ListMLE written with torch ops: sort by relevance (stable, descending), the reversed
    cumulative log-sum-exp, autograd for the gradient."""
    s = torch.tensor(s, requires_grad=True)
    order = torch.sort(torch.tensor(r), dim=-1, descending=True, stable=True).indices
    ordered = torch.gather(s, -1, order)
    lse = torch.logcumsumexp(ordered.flip(-1), dim=-1).flip(-1)
    loss = (lse - ordered).sum(-1)
    loss.sum().backward()
    return loss.detach().numpy(), s.grad.numpy()


@pytest.mark.parametrize("n", [1, 2, 7, 64, 300])
def test_listmle_matches_pytorch_composed(n):
    s, r = _lists(np.random.default_rng(n), (5, n))
    loss, grad = _vg("listmle", s, r, reduction="none", grad_output=np.ones(5))
    theirs, their_grad = _torch_listmle(s, r)
    t = tolerance("torch_float64")
    np.testing.assert_allclose(loss, theirs, **t)
    np.testing.assert_allclose(grad, their_grad, **t)


# ---- the lecture and the definitions ------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_listnet_of_the_scores_themselves_is_the_lectures_entropy(dtype):
    """The lecture's listwise loss -sum p log p, p = softmax(s): ListNet with relevance = s."""
    s = np.random.default_rng(2).standard_normal((4, 10)).astype(dtype)
    p = np.exp(s.astype(np.float64))
    p /= p.sum(-1, keepdims=True)
    entropy = -(p * np.log(p)).sum(-1)
    assert_close(fastloss.listnet(s, s, reduction="none"), entropy.astype(dtype), **TOL[dtype])


def test_listnet_of_log_relevance_normalises_by_the_sum():
    """softmax(log r) = r / sum r: TF-Ranking's target; a label of 0 (log 0 = -inf) has q = 0."""
    rng = np.random.default_rng(3)
    s = rng.standard_normal((5, 8))
    r = rng.integers(0, 4, (5, 8)).astype(np.float64)
    r[:, 0] = 1.0  # every list has a relevant item
    with np.errstate(divide="ignore"):
        loss, grad = _vg("listnet", s, np.log(r), reduction="none", grad_output=np.ones(5))
    q = r / r.sum(-1, keepdims=True)
    log_p = s - np.log(np.exp(s).sum(-1, keepdims=True))
    np.testing.assert_allclose(loss, -(q * log_p).sum(-1), **tolerance("float64_identity"))
    np.testing.assert_allclose(grad, np.exp(log_p) - q,
                               **tolerance("float64_gradient_identity"))
    assert np.all(np.isfinite(grad))


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_each_lists_gradient_sums_to_zero(name, dtype):
    """Both losses are invariant to adding a constant to a list's scores."""
    s, r = _lists(np.random.default_rng(4), (6, 33), dtype)
    _, g = _vg(name, s, r, reduction="sum")
    # about four roundings of the largest entry per item, in the kernel's dtype
    zero_sum_bound = 33 * 4 * np.finfo(dtype).eps * np.abs(g).max()
    np.testing.assert_allclose(g.astype(np.float64).sum(-1), 0.0, atol=zero_sum_bound)
    shifted = fastloss.__dict__[name](s + dtype(3), r, reduction="none")
    assert_close(shifted, fastloss.__dict__[name](s, r, reduction="none"), **TOL[dtype])


def test_listmle_orders_ties_stably():
    """Ties keep the list order (-0 and +0 are a tie): the loss is that of the explicit order."""
    s = np.array([[0.3, -1.0, 2.0, 0.5]])
    r = np.array([[1.0, -0.0, 1.0, 0.0]])  # order: items 0, 2 (label 1), then 1, 3 (label 0)
    explicit = np.array([[4.0, 2.0, 3.0, 1.0]])
    assert_bitwise(fastloss.listmle(s, r), fastloss.listmle(s, explicit), what="ties")
    ordered = s[0, [0, 2, 1, 3]]
    want = sum(np.log(np.exp(ordered[k:]).sum()) - ordered[k] for k in range(4))
    np.testing.assert_allclose(fastloss.listmle(s, r), want, **tolerance("float64_reordered"))


def test_listmle_perfectly_ranked_list_with_large_gaps_keeps_its_relative_accuracy():
    """Each term is log1p(Z_(k+1) / e_k): no cancellation, so a tiny loss is still exact."""
    s = np.array([[30.0, 15.0, 0.0]])
    r = np.array([[3.0, 2.0, 1.0]])
    want = np.log1p(np.exp(-15.0) + np.exp(-30.0)) + np.log1p(np.exp(-15.0))
    np.testing.assert_allclose(fastloss.listmle(s, r), want, **tolerance("float64_reordered"))
    assert fastloss.listmle(s.astype(np.float32), r.astype(np.float32)) == pytest.approx(
        want, rel=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
def test_listmle_scores_spanning_more_than_the_linear_range_use_log_space(dtype):
    """Scores more than 600 apart would underflow e^(s - max): the log-space form takes over,
    with the same values as the reference."""
    rng = np.random.default_rng(5)
    s = (rng.standard_normal((4, 12)) * 300).astype(dtype)
    r = rng.integers(0, 3, (4, 12)).astype(dtype)
    assert np.all(np.ptp(s, axis=-1) > 600)
    loss, g = _vg("listmle", s, r, reduction="none", grad_output=np.linspace(0.5, 2, 4))
    ref = reference.listmle(s, r, reduction="none")
    ref_g = reference.listmle_grad(s, r, reduction="none", grad_output=np.linspace(0.5, 2, 4))
    assert_close(loss, ref.astype(dtype), **TOL[dtype])
    assert_close(g, ref_g.astype(dtype), **TOL[dtype])
    assert np.all(np.isfinite(g))


# ---- padding ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_padding_is_the_same_as_leaving_the_items_out(name, dtype):
    rng = np.random.default_rng(6)
    s, r = _lists(rng, (3, 10), dtype)
    mask = rng.random((3, 10)) > 0.4
    mask[:, 0] = True
    s_pad = np.where(mask, s, dtype(1e30))  # padding's values are never read
    loss, g = _vg(name, s_pad, np.where(mask, r, np.nan).astype(dtype), mask=mask,
                  reduction="none", grad_output=np.ones(3))
    for row in range(3):
        keep = mask[row]
        l1, g1 = _vg(name, s[row][keep][None], r[row][keep][None], reduction="none",
                     grad_output=np.ones(1))
        assert_bitwise(loss[row:row + 1], l1, what="loss of the compacted list")
        assert_bitwise(g[row][keep], g1[0], what="gradient of the compacted list")
        assert np.all(g[row][~keep] == 0)


@pytest.mark.parametrize("name", LOSSES)
def test_lists_of_padding_only_are_not_counted(name):
    rng = np.random.default_rng(7)
    s, r = _lists(rng, (4, 6))
    mask = np.ones((4, 6), bool)
    mask[1] = False
    none, g = _vg(name, s, r, mask=mask, reduction="none", grad_output=np.ones(4))
    assert none[1] == 0.0 and np.all(g[1] == 0)
    w = np.array([1.0, 5.0, 2.0, 0.5])
    mean = getattr(fastloss, name)(s, r, mask=mask, sample_weight=w)
    kept = [0, 2, 3]
    np.testing.assert_allclose(mean, (w[kept] * none[kept]).sum() / w[kept].sum(),
                               **tolerance("float64_reordered"))


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_a_batch_of_padding_only_has_zero_loss_and_gradient(name, reduction):
    """Never NaN: the mean over no list is 0 (rax's safe reduction)."""
    s, r = _lists(np.random.default_rng(8), (3, 5))
    loss, g = _vg(name, s, r, mask=np.zeros((3, 5), bool), reduction=reduction,
                  grad_output=1.0 if reduction != "none" else np.ones(3))
    assert np.all(loss == 0.0) and np.all(g == 0.0)


# ---- non-finite input ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_listnet_infinities(dtype):
    inf = np.inf
    s = np.array([[-inf, 0.0, 1.0], [inf, 0.0, 1.0], [0.0, 1.0, 2.0], [0.0, 1.0, 2.0],
                  [0.0, 1.0, 2.0]], dtype)
    r = np.array([[-inf, 1.0, 0.0], [0.0, 1.0, 0.0], [-inf, -inf, -inf], [inf, 0.0, 0.0],
                  [1.0, -inf, 0.0]], dtype)
    loss, g = _vg("listnet", s, r, reduction="none", grad_output=np.ones(5))
    # a -inf score whose item has q = 0: left out, finite
    ref = fastloss.listnet(s[:1, 1:], r[:1, 1:], reduction="none")
    assert_close(loss[:1], ref, **TOL[dtype])
    assert g[0, 0] == 0.0
    # +inf score, no finite label, +inf label: NaN lists
    assert np.all(np.isnan(loss[1:4])) and np.all(np.isnan(g[1:4]))
    assert np.isfinite(loss[4]) and np.all(np.isfinite(g[4]))


@pytest.mark.parametrize("dtype", DTYPES)
def test_listmle_infinities(dtype):
    inf = np.inf
    s = np.array([[inf, 0.0, 1.0], [-inf, 0.0, 1.0], [0.0, 1.0, 2.0]], dtype)
    r = np.array([[0.0, 1.0, 2.0], [0.0, 1.0, 2.0], [inf, -inf, 0.0]], dtype)
    loss, g = _vg("listmle", s, r, reduction="none", grad_output=np.ones(3))
    assert np.all(np.isnan(loss[:2])) and np.all(np.isnan(g[:2]))
    # infinite labels only order the list: items 0, 2, 1
    explicit = fastloss.listmle(s[2:], np.array([[3.0, 1.0, 2.0]], dtype), reduction="none")
    assert_bitwise(loss[2:], explicit, what="infinite labels")


@pytest.mark.parametrize("name", LOSSES)
def test_nan_labels_make_the_list_nan(name):
    s, r = _lists(np.random.default_rng(9), (3, 4))
    r[1, 2] = np.nan
    loss, g = _vg(name, s, r, reduction="none", grad_output=np.ones(3))
    assert np.isnan(loss[1]) and np.all(np.isnan(g[1]))
    assert np.all(np.isfinite(loss[[0, 2]])) and np.all(np.isfinite(g[[0, 2]]))


# ---- determinism --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", LOSSES)
def test_bitwise_identical_for_every_thread_count(name, restore_threads):
    s, r = _lists(np.random.default_rng(10), (700, 97), np.float32)
    mask = np.random.default_rng(11).random(s.shape) > 0.1
    results = []
    for n in (1, 2, 3):
        fastloss.set_num_threads(n)
        results.append(_vg(name, s, r, mask=mask, reduction="mean"))
    for loss, g in results[1:]:
        assert_bitwise(loss, results[0][0], what="loss across threads")
        assert_bitwise(g, results[0][1], what="gradient across threads")


@pytest.mark.parametrize("name", LOSSES)
def test_every_isa_meets_the_tolerance(name, restore_isa):
    s, r = _lists(np.random.default_rng(12), (9, 37), np.float32)
    ref = reference.__dict__[name](s, r, reduction="none")
    ref_g = reference.__dict__[name + "_grad"](s, r, reduction="sum")
    t = fastloss._registry.REGISTRY[name].tol(np.float32)
    for isa in _core.compiled_isas():
        if _core.isa_supported(isa):
            assert restore_isa.select_isa(isa) is not False
            loss = getattr(fastloss, name)(s, r, reduction="none")
            _, g = _vg(name, s, r, reduction="sum")
            assert_close(loss, ref.astype(np.float32), t["rtol"], t["atol"],
                         abs_floor=t.get("abs_floor", 0.0), what=f"{isa} loss")
            assert_close(g, ref_g.astype(np.float32), t["rtol"], t["atol"],
                         abs_floor=t.get("abs_floor", 0.0), what=f"{isa} gradient")


# ---- torch and JAX ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_torch_form_matches_the_numpy_api(name, reduction):
    rng = np.random.default_rng(13)
    s, r = _lists(rng, (5, 3, 7))
    mask = rng.random(s.shape) > 0.2
    w = rng.uniform(0.5, 2.0, (5, 7))
    up = rng.uniform(-1, 1, (5, 7)) if reduction == "none" else 0.7
    st = torch.tensor(s, requires_grad=True)
    out = getattr(flt, name)(st, torch.tensor(r), axis=1, mask=torch.tensor(mask),
                             reduction=reduction, sample_weight=torch.tensor(w))
    (out * torch.tensor(up, dtype=torch.float64)).sum().backward()
    loss, g = _vg(name, s, r, axis=1, mask=mask, reduction=reduction, sample_weight=w,
                  grad_output=up)
    assert_bitwise(out.detach().numpy(), loss, what="torch loss")
    np.testing.assert_allclose(st.grad.numpy(), g, **tolerance("float64_gradient_identity"))
    module = (flt.ListNetLoss if name == "listnet" else flt.ListMLELoss)(axis=1,
                                                                          reduction=reduction)
    assert_bitwise(module(torch.tensor(s), torch.tensor(r), torch.tensor(mask),
                          torch.tensor(w)).numpy(), loss, what="module")


@pytest.mark.parametrize("name", LOSSES)
def test_torch_refuses_gradients_it_cannot_give(name):
    s, r = torch.randn(2, 4), torch.randn(2, 4, requires_grad=True)
    with pytest.raises(RuntimeError, match=rf"\[fastloss.torch.{name}\] labels have no gradient"):
        getattr(flt, name)(s, r)
    with pytest.raises(TypeError, match=rf"\[fastloss.torch.{name}\] relevance must hold"):
        getattr(flt, name)(s, torch.ones(2, 4, dtype=torch.int64))


@pytest.mark.parametrize("name", LOSSES)
def test_jax_form_under_jit_grad_and_vmap(name):
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp
    import fastloss.jax as flj

    rng = np.random.default_rng(14)
    s, r = _lists(rng, (4, 6, 5), np.float32)
    mask = rng.random(s.shape) > 0.2
    w = rng.uniform(0.5, 2.0, (4, 5)).astype(np.float32)
    f = getattr(flj, name)
    value, g = jax.jit(jax.value_and_grad(
        lambda x: f(x, r, axis=1, mask=mask, sample_weight=w)))(jnp.asarray(s))
    want, want_g = _vg(name, s, r, axis=1, mask=mask, sample_weight=w)
    assert_bitwise(np.asarray(value), want, what="jax value")
    np.testing.assert_allclose(np.asarray(g), want_g, **tolerance("jax_float32"))
    ct = rng.uniform(-1, 1, (4, 5)).astype(np.float32)
    g_none = jax.grad(lambda x: (f(x, r, axis=1, reduction="none") * ct).sum())(jnp.asarray(s))
    np.testing.assert_allclose(np.asarray(g_none), _vg(name, s, r, axis=1, reduction="none",
                                                       grad_output=ct)[1],
                               **tolerance("jax_float32"))
    batched = jax.vmap(lambda x, y: f(x, y))(jnp.asarray(s), jnp.asarray(r))
    np.testing.assert_allclose(np.asarray(batched),
                               [getattr(fastloss, name)(s[i], r[i]) for i in range(4)],
                               **tolerance("float32_few_roundings"))
    with pytest.raises(ValueError, match=rf"\[fastloss.jax.{name}\] mask must have the shape"):
        f(s, r, mask=mask[:, :, :2])


# ---- fastloss.properties' claims (the registry-wide probes draw class indices, not relevance) --

@pytest.mark.parametrize("name", LOSSES)
def test_properties_claims_hold(name):
    """Convex along random segments, each gradient entry within the claimed bound, and the
    gradient Lipschitz (2-norm per list) with the claimed constant, at n = 9 items."""
    n = 9
    facts = fastloss.properties(name, classes=n)
    rng = np.random.default_rng(15)
    t = tolerance("property_float64")
    for _ in range(20):
        a, r = _lists(rng, (6, n))
        b = a + rng.standard_normal(a.shape) * rng.choice([0.1, 1.0, 5.0])
        la, ga = _vg(name, a, r, reduction="none", grad_output=np.ones(6))
        lb, gb = _vg(name, b, r, reduction="none", grad_output=np.ones(6))
        lm = getattr(fastloss, name)((a + b) / 2, r, reduction="none")
        slack = t["rtol"] * np.abs(la + lb) + t["atol"]
        assert facts.convex and np.all(lm <= (la + lb) / 2 + slack)
        assert np.all(np.abs(ga) <= facts.gradient_bound * (1 + t["rtol"]))
        quotient = np.linalg.norm(ga - gb, axis=-1) / np.linalg.norm(a - b, axis=-1)
        assert np.all(quotient <= facts.lipschitz * (1 + tolerance("lipschitz_quotient")["rtol"]))


def test_listnet_is_minimal_at_the_relevance_itself():
    """The properties entry: minimal, the entropy of softmax(r), at scores = r + constant."""
    rng = np.random.default_rng(16)
    r = rng.standard_normal((1, 7))
    best = fastloss.listnet(r + 2.5, r)
    for _ in range(20):
        assert fastloss.listnet(r + rng.standard_normal(r.shape) * 0.3, r) > best
