"""The structured hinge: against oracles written with other libraries (optax's multi-class
hinge, a PyTorch autograd composition with a cost table) and fastloss's own Crammer-Singer
hinge, the lecture's formula term by term, the cost layouts (table, per-sample, inferred or
forced, strided, converted), the documented semantics of ties, the true candidate's own cost
and non-finite scores, bitwise equality across thread counts and ISAs, and the torch and JAX
forms.

The registry-wide tests (tests/test_kernels.py, test_hypothesis.py, test_errors.py, ...) check
it against the float64 reference for every dtype, reduction, cost layout and shape regime
(K = 1 and 2, around the SIMD widths, rows longer than a tile), and the reference's gradients
against finite differences (tests/test_reference_gradient_layouts.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import fastloss
import fastloss.torch as flt
from fastloss import _core, reference
from fastloss._registry import REGISTRY
from helpers import assert_bitwise, assert_close, tolerance

DTYPES = (np.float32, np.float64)
INF, NAN = float("inf"), float("nan")


def _vg(*args, **kwargs):
    return fastloss.value_and_grad(fastloss.structured_hinge)(*args, **kwargs)


def _problem(rng, n, k, dtype=np.float64):
    """Scores, targets, a task-loss table with a zero diagonal and per-sample costs (0 at the
    targets), continuous so that ties have probability 0."""
    x = (rng.standard_normal((n, k)) * 2).astype(dtype)
    t = rng.integers(0, k, n)
    table = np.where(np.eye(k, dtype=bool), 0.0, rng.uniform(0.1, 3.0, (k, k)))
    per_sample = rng.uniform(0.0, 3.0, (n, k))
    per_sample[np.arange(n), t] = 0.0
    return x, t, table.astype(dtype), per_sample.astype(dtype)


# ---- oracles ------------------------------------------------------------------------------------

def test_zero_one_costs_are_optax_multiclass_hinge():
    """optax's multiclass_hinge_loss is max_j (s_j + 1 - [j = t]) - s_t: the margin-rescaled
    structured hinge with 0/1 costs, value and gradient."""
    optax = pytest.importorskip("optax")
    jax = pytest.importorskip("jax")
    with jax.enable_x64(True):
        x, t, _, _ = _problem(np.random.default_rng(1), 40, 9)
        theirs = np.asarray(optax.losses.multiclass_hinge_loss(x, t))
        their_grad = np.asarray(jax.grad(lambda s: optax.losses.multiclass_hinge_loss(s, t).sum())(x))
    loss, g = _vg(x, t, reduction="none", grad_output=np.ones(40))
    np.testing.assert_allclose(loss, theirs, **tolerance("jax_float64"))
    np.testing.assert_allclose(g, their_grad, **tolerance("jax_float64"))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rescaling", ["margin", "slack"])
def test_zero_one_costs_are_crammer_singer_with_margin_one(dtype, rescaling):
    """Both rescalings of 0/1 costs are fastloss's Crammer-Singer hinge at margin 1, bit for bit
    (the same terms, the same first-maximiser rule)."""
    x, t, _, _ = _problem(np.random.default_rng(2), 300, 13, dtype)
    up = np.random.default_rng(3).uniform(-1, 1, 300).astype(dtype)
    ours = _vg(x, t, rescaling=rescaling, reduction="none", grad_output=up)
    theirs = fastloss.value_and_grad(fastloss.multiclass_hinge)(
        x, t, kind="crammer_singer", margin=1.0, reduction="none", grad_output=up)
    assert_bitwise(ours[0], theirs[0], what="loss")
    assert_bitwise(ours[1], theirs[1], what="gradient")


@pytest.mark.parametrize("rescaling", ["margin", "slack"])
def test_a_cost_table_matches_pytorch_autograd(rescaling):
    """The max over every candidate of the cost-augmented score, written with torch ops (the
    table's row of each target gathered), with autograd's gradient."""
    x, t, table, _ = _problem(np.random.default_rng(4), 64, 11)
    s = torch.tensor(x, requires_grad=True)
    delta = torch.tensor(table)[torch.tensor(t)]
    gap = s - s.gather(-1, torch.tensor(t)[:, None])
    z = delta * (1 + gap) if rescaling == "slack" else delta + gap
    z.max(-1).values.sum().backward()
    loss, g = _vg(x, t, cost=table, rescaling=rescaling, reduction="sum")
    tol = tolerance("torch_float64")
    np.testing.assert_allclose(loss, z.max(-1).values.sum().item(), **tol)
    np.testing.assert_allclose(g, s.grad.numpy(), **tol)


# ---- the lecture's formula ----------------------------------------------------------------------

def test_the_lectures_formula_term_by_term():
    f = np.array([[1.0, 2.0, 0.5, -1.0]])
    delta = np.array([[0.0, 1.0, 3.0, 0.5]])
    t = np.array([0])
    # margin: max(0, 1 + 2 - 1, 3 + 0.5 - 1, 0.5 - 1 - 1) = 2.5 at candidate 2
    loss, g = _vg(f, t, cost=delta, reduction="sum")
    assert loss == 2.5
    np.testing.assert_array_equal(g, [[-1.0, 0.0, 1.0, 0.0]])
    # slack: max(0, 1 (1 + 1), 3 (1 - 1.5), 0.5 (1 - 2)) = 2 at candidate 1, slope Delta = 1
    loss, g = _vg(f, t, cost=delta, rescaling="slack", reduction="sum")
    assert loss == 2.0
    np.testing.assert_array_equal(g, [[-1.0, 1.0, 0.0, 0.0]])
    # a larger cost at the winner: the slack gradient is that cost
    loss, g = _vg(f, t, cost=np.array([[0.0, 4.0, 3.0, 0.5]]), rescaling="slack",
                  reduction="sum")
    assert loss == 8.0
    np.testing.assert_array_equal(g, [[-4.0, 4.0, 0.0, 0.0]])


@pytest.mark.parametrize("rescaling", ["margin", "slack"])
def test_the_true_candidates_own_cost_is_its_term(rescaling):
    """The max runs over every candidate, y included, whose term is Delta(y, y): a cost table
    with a non-zero diagonal gives at least that, with a zero gradient when it wins (also where
    f(y) is infinite: f(y) - f(y) is 0, not inf - inf)."""
    f = np.array([[5.0, 0.0, 1.0], [INF, 0.0, 1.0], [0.0, 3.0, 1.0]])
    table = np.array([[0.7, 1.0, 1.0], [1.0, 0.7, 1.0], [1.0, 1.0, 0.7]])
    t = np.array([0, 0, 1])
    loss, g = _vg(f, t, cost=table, cost_per_sample=False, rescaling=rescaling,
                  reduction="none", grad_output=np.ones(3))
    np.testing.assert_array_equal(loss, [0.7, 0.7, 0.7])
    np.testing.assert_array_equal(g, np.zeros_like(f))


def test_per_sample_costs_are_the_tables_rows():
    """Per-sample costs equal to table[t] give the same bits as the table."""
    x, t, table, _ = _problem(np.random.default_rng(5), 200, 17)
    for rescaling in ("margin", "slack"):
        a = _vg(x, t, cost=table, rescaling=rescaling, reduction="mean")
        b = _vg(x, t, cost=table[t], rescaling=rescaling, reduction="mean")
        assert_bitwise(a[0], b[0], what="loss")
        assert_bitwise(a[1], b[1], what="gradient")


# ---- cost layouts -------------------------------------------------------------------------------

def test_an_ambiguous_cost_is_refused_and_cost_per_sample_decides():
    rng = np.random.default_rng(6)
    x, t = rng.standard_normal((4, 4)), rng.integers(0, 4, 4)
    cost = rng.uniform(0, 2, (4, 4))
    with pytest.raises(ValueError, match=r"\[fastloss.structured_hinge\] .*ambiguous"):
        fastloss.structured_hinge(x, t, cost=cost)
    as_rows = fastloss.structured_hinge(x, t, cost=cost, cost_per_sample=True, reduction="none")
    as_table = fastloss.structured_hinge(x, t, cost=cost, cost_per_sample=False,
                                         reduction="none")
    np.testing.assert_array_equal(as_rows, reference.structured_hinge(
        x, t, cost=cost, cost_per_sample=True, reduction="none"))
    np.testing.assert_array_equal(as_table, fastloss.structured_hinge(
        x, t, cost=cost[t], cost_per_sample=True, reduction="none"))
    assert not np.array_equal(as_rows, as_table)


def test_a_class_axis_other_than_the_last_moves_the_per_sample_costs_with_it():
    x, t, table, per_sample = _problem(np.random.default_rng(7), 30, 6)
    want = _vg(x, t, cost=per_sample, reduction="sum", grad_output=0.5)
    got = _vg(x.T.copy(), t, cost=per_sample.T.copy(), axis=0, reduction="sum", grad_output=0.5)
    assert_bitwise(got[0], want[0], what="loss")
    assert_bitwise(got[1], want[1].T, what="gradient")
    got = _vg(x.T.copy(), t, cost=table, axis=0, reduction="sum", grad_output=0.5)
    want = _vg(x, t, cost=table, reduction="sum", grad_output=0.5)
    assert_bitwise(got[1], want[1].T, what="gradient with a table")


def test_strided_and_converted_costs_give_the_same_bits():
    """A transposed (strided) table, a strided per-sample view, and an integer or float64 table
    for float32 scores (converted once): the same result as contiguous costs of the dtype."""
    rng = np.random.default_rng(8)
    x, t, _, _ = _problem(rng, 50, 8, np.float32)
    table = np.where(np.eye(8, dtype=bool), 0, rng.integers(1, 5, (8, 8)))
    want = _vg(x, t, cost=table.astype(np.float32), reduction="mean")
    for cost in (table, table.astype(np.float64), np.asfortranarray(table.astype(np.float32))):
        got = _vg(x, t, cost=cost, reduction="mean")
        assert_bitwise(got[0], want[0], what=f"loss, table {cost.dtype}")
        assert_bitwise(got[1], want[1], what=f"gradient, table {cost.dtype}")
    per_sample = np.zeros((50, 16), np.float32)
    per_sample[:, ::2] = table.astype(np.float32)[t]
    got = _vg(x, t, cost=per_sample[:, ::2], reduction="mean")
    assert_bitwise(got[1], want[1], what="gradient, strided per-sample costs")


def test_costs_are_not_modified_and_a_gradient_buffer_must_not_be_them():
    x, t, table, per_sample = _problem(np.random.default_rng(9), 6, 5)
    before = per_sample.copy(), table.copy()
    _vg(x, t, cost=per_sample, reduction="sum")
    _vg(x, t, cost=table, reduction="sum")
    np.testing.assert_array_equal(per_sample, before[0])
    np.testing.assert_array_equal(table, before[1])
    with pytest.raises(ValueError, match=r"\[fastloss.structured_hinge\] .*cost"):
        _vg(x, t, cost=per_sample, grad_into=per_sample)


def test_an_in_place_gradient_equals_a_new_one():
    x, t, table, _ = _problem(np.random.default_rng(10), 40, 33)
    want = _vg(x, t, cost=table, reduction="mean")
    buffer = x.copy()
    loss, g = _vg(buffer, t, cost=table, reduction="mean", grad_into=buffer)
    assert g is buffer
    assert_bitwise(loss, want[0], what="loss")
    assert_bitwise(g, want[1], what="gradient")


# ---- ties and non-finite scores -----------------------------------------------------------------

def test_ties_go_to_the_true_candidate_then_to_the_first():
    # margin terms: candidate 1 and 2 both reach 1 + 0.5 - 0.5 = 1; the true one (0) has 0
    f = np.array([[0.5, 0.5, 0.5], [2.0, 1.0, 1.0]])
    loss, g = _vg(f, np.array([0, 0]), reduction="none", grad_output=np.ones(2))
    np.testing.assert_array_equal(loss, [1.0, 0.0])  # row 1: 1 + 1 - 2 = 0 ties the true 0
    np.testing.assert_array_equal(g, [[-1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])


def test_a_tie_across_tiles_goes_to_the_first_tile():
    """Rows longer than the kernel's 1024-element tile: the largest term in two tiles."""
    k = 2500
    f = np.zeros((2, k))
    f[0, [700, 1900]] = 3.0
    f[1, [2400, 1100]] = 3.0
    loss, g = _vg(f, np.array([0, 5]), reduction="none", grad_output=np.ones(2))
    np.testing.assert_array_equal(loss, [4.0, 4.0])
    assert np.flatnonzero(g[0] > 0).tolist() == [700]
    assert np.flatnonzero(g[1] > 0).tolist() == [1100]


@pytest.mark.parametrize("dtype", DTYPES)
def test_infinite_scores_follow_ieee_rules(dtype):
    f = np.array([[0.0, INF, 1.0],     # a +inf competitor: +inf loss, gradient (+1 there, -1)
                  [INF, 1.0, 2.0],     # a +inf true candidate: the others are -inf, loss 0
                  [INF, INF, 0.0],     # inf - inf: NaN
                  [1.0, -INF, -INF]],  # -inf competitors never win: 0
                 dtype)
    loss, g = _vg(f, np.array([0, 0, 0, 0]), reduction="none", grad_output=np.ones(4, dtype))
    assert loss[0] == INF and loss[1] == 0.0 and np.isnan(loss[2]) and loss[3] == 0.0
    np.testing.assert_array_equal(g[0], [-1.0, 1.0, 0.0])
    np.testing.assert_array_equal(g[[1, 3]], 0.0)
    assert np.isnan(g[2]).all()


@pytest.mark.parametrize("k", [1, 2, 9])
def test_a_nan_score_makes_the_row_nan(k):
    f = np.zeros((3, k))
    f[0, 0] = NAN  # the target's own score: also for one candidate, whose only term is Delta
    f[1, k - 1] = NAN
    loss, g = _vg(f, np.zeros(3, np.int64), reduction="none", grad_output=np.ones(3))
    assert np.isnan(loss[0]) and np.isnan(g[0]).all()
    assert np.isnan(loss[1]) and np.isnan(g[1]).all()
    assert loss[2] == (1.0 if k > 1 else 0.0) and np.isfinite(g[2]).all()
    assert np.isnan(fastloss.structured_hinge(f, np.zeros(3, np.int64)))


def test_one_candidate_has_only_its_own_term():
    f = np.array([[3.0], [-1.0]])
    loss, g = _vg(f, np.array([0, 0]), cost=np.array([[0.25]]), cost_per_sample=False,
                  reduction="none", grad_output=np.ones(2))
    np.testing.assert_array_equal(loss, [0.25, 0.25])
    np.testing.assert_array_equal(g, np.zeros_like(f))


# ---- threads and ISAs ---------------------------------------------------------------------------

def test_bitwise_identical_for_every_thread_count(restore_threads):
    x, t, table, per_sample = _problem(np.random.default_rng(11), 3000, 130, np.float32)
    for cost in (None, table, per_sample):
        results = []
        for n in (1, 2, 3):
            fastloss.set_num_threads(n)
            results.append(_vg(x, t, cost=cost, rescaling="slack", reduction="mean"))
        for loss, g in results[1:]:
            assert_bitwise(loss, results[0][0], what="loss across threads")
            assert_bitwise(g, results[0][1], what="gradient across threads")


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_isa_gives_the_same_bits(dtype, restore_isa):
    """The terms are exact IEEE operations and the max and its index are order-free: every ISA
    gives the same loss and gradient, bit for bit."""
    x, t, table, _ = _problem(np.random.default_rng(12), 70, 1100, dtype)
    results = {}
    for isa in _core.compiled_isas():
        if _core.isa_supported(isa):
            assert restore_isa.select_isa(isa) is not False
            results[isa] = _vg(x, t, cost=table, reduction="none", grad_output=np.ones(70, dtype))
    first = next(iter(results.values()))
    for isa, (loss, g) in results.items():
        assert_bitwise(loss, first[0], what=f"{isa} loss")
        assert_bitwise(g, first[1], what=f"{isa} gradient")


# ---- torch and JAX ------------------------------------------------------------------------------

@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("layout", ["none", "table", "per_sample"])
def test_torch_form_matches_the_numpy_api(reduction, layout):
    rng = np.random.default_rng(13)
    x, t, table, per_sample = _problem(rng, 12, 7)
    cost = {"none": None, "table": table, "per_sample": per_sample}[layout]
    w = rng.uniform(0.5, 2.0, 12)
    up = rng.uniform(-1, 1, 12) if reduction == "none" else 0.7
    s = torch.tensor(x, requires_grad=True)
    out = flt.structured_hinge(s, torch.tensor(t), cost=None if cost is None else torch.tensor(cost),
                               rescaling="slack", reduction=reduction,
                               sample_weight=torch.tensor(w))
    (out * torch.tensor(up, dtype=torch.float64)).sum().backward()
    loss, g = _vg(x, t, cost=cost, rescaling="slack", reduction=reduction, sample_weight=w,
                  grad_output=up)
    assert_bitwise(out.detach().numpy(), loss, what="torch loss")
    np.testing.assert_allclose(s.grad.numpy(), g, **tolerance("float64_gradient_identity"))
    module = flt.StructuredHingeLoss(cost=None if layout == "per_sample" else cost,
                                     rescaling="slack", reduction=reduction)
    got = module(torch.tensor(x), torch.tensor(t),
                 cost=torch.tensor(per_sample) if layout == "per_sample" else None,
                 sample_weight=torch.tensor(w))
    assert_bitwise(got.numpy(), loss, what="module")


def test_torch_refuses_what_has_no_gradient_or_is_no_class_index():
    s = torch.randn(2, 4)
    with pytest.raises(RuntimeError, match=r"\[fastloss.torch.structured_hinge\] cost has no "
                                           r"gradient"):
        flt.structured_hinge(s, torch.tensor([0, 1]), cost=torch.ones(4, 4, requires_grad=True))
    with pytest.raises(TypeError, match=r"\[fastloss.torch.structured_hinge\] target must hold "
                                        r"integer class indices"):
        flt.structured_hinge(s, torch.tensor([0.0, 1.0]))


def test_jax_form_under_jit_grad_and_vmap():
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp
    import fastloss.jax as flj

    rng = np.random.default_rng(14)
    x, t, table, per_sample = _problem(rng, 10, 6, np.float32)
    w = rng.uniform(0.5, 2.0, 10).astype(np.float32)
    for cost in (None, table, per_sample):
        value, g = jax.jit(jax.value_and_grad(
            lambda s: flj.structured_hinge(s, t, cost=cost, rescaling="slack",
                                           sample_weight=w)))(jnp.asarray(x))
        want, want_g = _vg(x, t, cost=cost, rescaling="slack", sample_weight=w)
        assert_bitwise(np.asarray(value), want, what="jax value")
        np.testing.assert_allclose(np.asarray(g), want_g, **tolerance("jax_float32"))
    ct = rng.uniform(-1, 1, 10).astype(np.float32)
    g_none = jax.grad(lambda s: (flj.structured_hinge(s, t, cost=table, reduction="none")
                                 * ct).sum())(jnp.asarray(x))
    np.testing.assert_allclose(np.asarray(g_none),
                               _vg(x, t, cost=table, reduction="none", grad_output=ct)[1],
                               **tolerance("jax_float32"))
    batched = jax.vmap(lambda s, y: flj.structured_hinge(s, y, cost=table))(
        jnp.asarray(x.reshape(2, 5, 6)), jnp.asarray(t.reshape(2, 5)))
    np.testing.assert_allclose(np.asarray(batched),
                               [fastloss.structured_hinge(x[5 * i:5 * i + 5], t[5 * i:5 * i + 5],
                                                          cost=table) for i in range(2)],
                               **tolerance("float32_few_roundings"))
    with pytest.raises(ValueError, match=r"\[fastloss.jax.structured_hinge\] .*ambiguous"):
        flj.structured_hinge(x[:6], t[:6], cost=table)
    with pytest.raises(ValueError, match=r"\[fastloss.jax.structured_hinge\] rescaling"):
        flj.structured_hinge(x, t, rescaling="both")
    with pytest.raises(TypeError, match=r"\[fastloss.jax.structured_hinge\] target must hold"):
        flj.structured_hinge(x, t.astype(np.float32))


def test_the_registry_entry_states_what_the_tests_sweep():
    spec = REGISTRY["structured_hinge"]
    assert spec.differentiable == ("scores",) and spec.convex
    layouts = {v.get("cost") for v in spec.variants}
    assert layouts == {None, "table", "per_sample"}
