"""PyTorch parity of nll_loss, multilabel_soft_margin_loss and multilabel_margin_loss: the
fastloss.torch drop-ins (and the NumPy API under them) against torch.nn.functional in float64,
values and gradients, every option (weights, ignore_index, reductions, the legacy
size_average/reduce), an upstream gradient other than ones, every layout PyTorch takes, the
nn modules, and PyTorch's semantics at the edges: all targets ignored, -inf log-probabilities,
duplicate and -1-terminated index lists, labels out of range. The documented deviations (NaN
rows, finite limits at infinite logits) are tested as deviations.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
flt = pytest.importorskip("fastloss.torch")
F = torch.nn.functional

import fastloss as fl  # noqa: E402
from helpers import assert_close, rng_for, tol, tolerance  # noqa: E402

REDUCTIONS = ("mean", "sum", "none")
TOL64 = tolerance("torch_adapter_float64")
INF = float("inf")


def _both(fn_ours, fn_torch, x, target, reduction, upstream, **kw):
    """(our loss, our grad), (torch loss, torch grad) of fn(x, target, reduction=..., **kw),
    the gradient of sum(upstream * loss)."""
    out = []
    for fn in (fn_ours, fn_torch):
        xt = x.detach().clone().requires_grad_(True)
        loss = fn(xt, target, reduction=reduction, **kw)
        loss.backward(torch.as_tensor(upstream, dtype=loss.dtype).expand(loss.shape))
        out.append((loss.detach().numpy(), xt.grad.numpy()))
    return out


def _assert_parity(fn_ours, fn_torch, x, target, reduction, rng, **kw):
    loss_shape = fn_torch(x, target, reduction="none", **kw).shape
    upstream = (torch.tensor(rng.uniform(-2, 2, tuple(loss_shape))) if reduction == "none"
                else torch.tensor(-1.7, dtype=torch.float64))
    (ours, g_ours), (theirs, g_theirs) = _both(fn_ours, fn_torch, x, target, reduction, upstream,
                                               **kw)
    assert ours.shape == theirs.shape and g_ours.shape == g_theirs.shape
    assert_close(ours, theirs, **TOL64, what=f"{fn_torch.__name__}{kw} ({reduction}) value")
    assert_close(g_ours, g_theirs, **TOL64, what=f"{fn_torch.__name__}{kw} ({reduction}) grad")


# ---- nll_loss ---------------------------------------------------------------------------------

def _log_probs(rng, shape):
    return torch.log_softmax(torch.tensor(rng.standard_normal(shape) * 2), dim=1 if len(shape) > 1
                             else 0)


def _labels(rng, shape, classes, ignore_index=-100, ignored=0.25):
    t = rng.integers(0, classes, shape)
    return torch.tensor(np.where(rng.random(shape) < ignored, ignore_index, t))


NLL_SHAPES = [(5,), (7, 5), (4, 5, 3), (2, 5, 3, 2)]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", NLL_SHAPES, ids=str)
@pytest.mark.parametrize("options", [{}, {"weight": True}, {"ignore_index": 2},
                                     {"weight": True, "ignore_index": -1}], ids=str)
def test_nll_loss_matches_pytorch(options, shape, reduction):
    rng = rng_for("nll", str(shape), str(options), reduction)
    x = _log_probs(rng, shape)
    ignore = options.get("ignore_index", -100)
    t = _labels(rng, shape[:1] + shape[2:] if len(shape) > 1 else (), shape[1 if len(shape) > 1
                                                                          else 0], ignore)
    kw = {"ignore_index": ignore} if "ignore_index" in options else {}
    if options.get("weight"):
        kw["weight"] = torch.tensor(rng.uniform(0.2, 2.0, shape[1 if len(shape) > 1 else 0]))
    _assert_parity(flt.nll_loss, F.nll_loss, x, t, reduction, rng, **kw)


def test_nll_loss_numpy_api_with_axis_1_is_pytorchs_layout():
    rng = rng_for("nll-numpy")
    x = _log_probs(rng, (4, 5, 3))
    t = _labels(rng, (4, 3), 5)
    w = rng.uniform(0.2, 2.0, 5)
    loss, g = fl.value_and_grad(fl.nll)(x.numpy(), t.numpy(), axis=1, class_weight=w,
                                         grad_output=0.3)
    xt = x.clone().requires_grad_(True)
    expected = F.nll_loss(xt, t, weight=torch.tensor(w))
    (expected * 0.3).backward()
    assert_close(loss, expected.detach().numpy(), **TOL64)
    assert_close(g, xt.grad.numpy(), **TOL64)


@pytest.mark.parametrize("size_average, reduce", [(True, None), (False, None), (None, False),
                                                  (False, True)])
def test_nll_loss_legacy_arguments(size_average, reduce):
    rng = rng_for("nll-legacy")
    x, t = _log_probs(rng, (6, 4)), _labels(rng, (6,), 4)
    w = torch.tensor(rng.uniform(0.5, 1.5, 4))
    with pytest.warns(UserWarning):  # PyTorch's deprecation warning, from both
        ours = flt.nll_loss(x, t, w, size_average, -100, reduce)
    with pytest.warns(UserWarning):
        theirs = F.nll_loss(x, t, w, size_average, -100, reduce)
    assert_close(ours.numpy(), theirs.numpy(), **TOL64)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_module_matches_pytorchs(reduction):
    rng = rng_for("nll-module")
    x, t = _log_probs(rng, (6, 4)), _labels(rng, (6,), 4, ignore_index=1)
    w = torch.tensor(rng.uniform(0.5, 1.5, 4))
    ours = flt.NLLLoss(weight=w, ignore_index=1, reduction=reduction)
    theirs = torch.nn.NLLLoss(weight=w, ignore_index=1, reduction=reduction)
    _assert_parity(lambda a, b, reduction: ours(a, b), lambda a, b, reduction: theirs(a, b), x, t,
                   reduction, rng)
    assert dict(ours.state_dict()).keys() >= {"weight"}


@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss_all_ignored_is_nan_with_zero_gradient_as_pytorch(weighted):
    x = _log_probs(rng_for("nll-ignored"), (3, 4))
    t = torch.full((3,), -100)
    kw = {"weight": torch.tensor([1.0, 2.0, 0.5, 3.0], dtype=torch.float64)} if weighted else {}
    for fn in (flt.nll_loss, F.nll_loss):
        xt = x.clone().requires_grad_(True)
        loss = fn(xt, t, **kw)
        loss.backward()
        assert torch.isnan(loss)
        assert torch.equal(xt.grad, torch.zeros_like(x))
        assert fn(x, t, reduction="sum", **kw) == 0.0


def test_nll_loss_minus_infinite_log_probability():
    """log p_t = -inf: an infinite loss with the finite gradient -w_t, as PyTorch; -inf at
    other classes does not enter the loss."""
    x = torch.tensor([[-INF, -0.5, -1.0], [-INF, -0.1, -INF]], dtype=torch.float64)
    t = torch.tensor([0, 1])
    w = torch.tensor([2.0, 0.5, 1.0], dtype=torch.float64)
    (ours, g_ours), (theirs, g_theirs) = _both(flt.nll_loss, F.nll_loss, x, t, "none",
                                               torch.ones(2, dtype=torch.float64), weight=w)
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(ours, [INF, 0.05])
    np.testing.assert_array_equal(g_ours, g_theirs)
    np.testing.assert_array_equal(g_ours, [[-2.0, 0.0, 0.0], [0.0, -0.5, 0.0]])


@pytest.mark.parametrize("label", [4, -1, -101])
def test_nll_loss_label_out_of_range_names_the_target(label):
    x = _log_probs(rng_for("nll-range"), (3, 4))
    t = torch.tensor([0, label, 1])
    with pytest.raises(IndexError):  # PyTorch: "Target 4 is out of bounds."
        F.nll_loss(x, t)
    with pytest.raises(ValueError, match=rf"^\[fastloss\.nll\] target label {label} out of "
                                         rf"range \[0, 4\) at index \(1,\)"):
        flt.nll_loss(x, t)


def test_nll_loss_nan_row_is_a_documented_deviation():
    x = _log_probs(rng_for("nll-nan"), (2, 4)).clone()
    x[0, 3] = float("nan")  # not the target's entry
    t = torch.tensor([1, 2])
    assert torch.isfinite(F.nll_loss(x, t, reduction="none")[0])  # PyTorch gathers x[0, 1] only
    xt = x.clone().requires_grad_(True)
    loss = flt.nll_loss(xt, t, reduction="none")
    loss.sum().backward()
    assert torch.isnan(loss[0]) and torch.isnan(xt.grad[0]).all()
    assert torch.isfinite(loss[1]) and torch.isfinite(xt.grad[1]).all()


# ---- multilabel_soft_margin_loss --------------------------------------------------------------

@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(5,), (7, 5), (3, 1)], ids=str)
@pytest.mark.parametrize("options", [{}, {"weight": True}, {"soft": True},
                                     {"weight": True, "soft": True}], ids=str)
def test_multilabel_soft_margin_loss_matches_pytorch(options, shape, reduction):
    rng = rng_for("mlsm", str(shape), str(options), reduction)
    x = torch.tensor(rng.standard_normal(shape) * 3)
    y = rng.random(shape) if options.get("soft") else (rng.random(shape) < 0.4).astype(float)
    kw = {"weight": torch.tensor(rng.uniform(0.2, 2.0, shape[-1]))} if options.get("weight") \
        else {}
    _assert_parity(flt.multilabel_soft_margin_loss, F.multilabel_soft_margin_loss, x,
                   torch.tensor(y), reduction, rng, **kw)


def test_multilabel_soft_margin_loss_integer_targets_and_module():
    rng = rng_for("mlsm-int")
    x = torch.tensor(rng.standard_normal((6, 4)))
    y = torch.tensor(rng.random((6, 4)) < 0.5).long()
    w = torch.tensor(rng.uniform(0.5, 1.5, 4))
    _assert_parity(flt.multilabel_soft_margin_loss, F.multilabel_soft_margin_loss, x, y,
                   "mean", rng, weight=w)
    ours = flt.MultiLabelSoftMarginLoss(weight=w, reduction="sum")
    theirs = torch.nn.MultiLabelSoftMarginLoss(weight=w, reduction="sum")
    assert_close(ours(x, y.double()).numpy(), theirs(x, y.double()).numpy(), **TOL64)


def test_multilabel_soft_margin_loss_is_exact_for_large_logits():
    """Confident correct logits: the loss is ~e^-|x| / C, which PyTorch's log_sigmoid also
    keeps; both agree to the last bits where a naive log(sigmoid) would round to 0."""
    x = torch.tensor([[30.0, -30.0, 40.0]], dtype=torch.float64)
    y = torch.tensor([[1.0, 0.0, 1.0]], dtype=torch.float64)
    ours = flt.multilabel_soft_margin_loss(x, y)
    theirs = F.multilabel_soft_margin_loss(x, y)
    assert float(ours) > 0
    assert_close(ours.numpy(), theirs.numpy(), **TOL64)


def test_multilabel_soft_margin_loss_infinite_logits_give_the_finite_limit():
    """A deviation (README): a term whose coefficient is 0 contributes 0, so a correct infinite
    logit gives 0 where PyTorch's (1 - y) log sigmoid(-x) is 0 * -inf = nan."""
    x = torch.tensor([[INF, -INF, 0.0]], dtype=torch.float64, requires_grad=True)
    y = torch.tensor([[1.0, 0.0, 1.0]], dtype=torch.float64)
    assert torch.isnan(F.multilabel_soft_margin_loss(x, y))
    loss = flt.multilabel_soft_margin_loss(x, y)
    loss.backward()
    assert_close(loss.detach().numpy(), np.log(2.0) / 3, **TOL64)
    assert_close(x.grad.numpy(), np.array([[0.0, 0.0, -0.5 / 3]]), **TOL64)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(3, 4, 5), (2, 3, 2, 4)], ids=str)
def test_multilabel_soft_margin_loss_sums_over_the_last_dimension_as_pytorch(shape, reduction):
    """PyTorch's classes are the last dimension of any input (not dimension 1)."""
    rng = rng_for("mlsm-nd", str(shape), reduction)
    x = torch.tensor(rng.standard_normal(shape) * 2)
    y = torch.tensor((rng.random(shape) < 0.4).astype(float))
    w = torch.tensor(rng.uniform(0.2, 2.0, shape[-1]))
    _assert_parity(flt.multilabel_soft_margin_loss, F.multilabel_soft_margin_loss, x, y,
                   reduction, rng, weight=w)


def test_multilabel_soft_margin_loss_needs_a_class():
    with pytest.raises(ValueError, match=r"^\[fastloss\.torch\.multilabel_soft_margin_loss\] "
                                         r"input must have at least one class"):
        flt.multilabel_soft_margin_loss(torch.zeros((2, 0)), torch.zeros((2, 0)))


@pytest.mark.parametrize("shape", [(2, 3, 4), (2, 0)], ids=str)
def test_multilabel_margin_loss_takes_pytorchs_layouts_only(shape):
    x = torch.zeros(shape, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"^\[fastloss\.torch\.multilabel_margin_loss\] input "
                                         r"must be a non-empty vector"):
        flt.multilabel_margin_loss(x, torch.zeros(shape, dtype=torch.long))
    with pytest.raises(RuntimeError):  # PyTorch refuses these layouts too
        F.multilabel_margin_loss(x, torch.zeros(shape, dtype=torch.long))


# ---- multilabel_margin_loss -------------------------------------------------------------------

def _index_lists(rng, rows, classes, duplicates=False):
    t = np.full((rows, classes), -1)
    for r in range(rows):
        k = int(rng.integers(0, classes + 1))
        t[r, :k] = rng.permutation(classes)[:k]
        if duplicates and 0 < k < classes:
            t[r, k - 1] = t[r, 0]  # a class listed twice
        # entries after the first -1 are ignored (but must be in [-1, C))
        if k < classes - 1:
            t[r, k + 1:] = rng.integers(-1, classes, classes - k - 1)
    return torch.tensor(t)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("duplicates", [False, True], ids=["distinct", "duplicates"])
@pytest.mark.parametrize("shape", [(6,), (9, 6), (4, 1)], ids=str)
def test_multilabel_margin_loss_matches_pytorch(shape, duplicates, reduction):
    rng = rng_for("mlm", str(shape), duplicates, reduction)
    x = torch.tensor(rng.standard_normal(shape))
    t = _index_lists(rng, 1 if len(shape) == 1 else shape[0], shape[-1], duplicates)
    t = t[0] if len(shape) == 1 else t
    _assert_parity(flt.multilabel_margin_loss, F.multilabel_margin_loss, x, t, reduction, rng)


def test_multilabel_margin_loss_semantics_against_pytorch():
    """PyTorch's own example, a full list, an empty list, -1 in the middle, and the module."""
    x = torch.tensor([[0.1, 0.2, 0.4, 0.8], [0.3, -0.2, 0.1, 0.0], [1.0, 2.0, 3.0, 4.0]],
                     dtype=torch.float64)
    t = torch.tensor([[3, 0, -1, 1], [0, 1, 2, 3], [-1, 0, 0, 0]])
    (ours, g), (theirs, g_torch) = _both(flt.multilabel_margin_loss, F.multilabel_margin_loss, x,
                                         t, "none", torch.tensor([1.0, 2.0, -3.0]))
    assert_close(ours, theirs, **TOL64)
    assert_close(ours, np.array([0.85, 0.0, 0.0]), **TOL64)
    assert_close(g, g_torch, **TOL64)
    for reduction in REDUCTIONS:
        module = flt.MultiLabelMarginLoss(reduction=reduction)
        assert_close(module(x, t).numpy(), torch.nn.MultiLabelMarginLoss(reduction=reduction)(
            x, t).numpy(), **TOL64)


def test_multilabel_margin_loss_in_place_gradient_is_exact():
    """inplace_backward: the driver hands the kernel a copy of each row (it reads the scores
    after writing the gradient); the result is the out-of-place one bit for bit."""
    rng = rng_for("mlm-inplace")
    w = torch.tensor(rng.standard_normal((8, 6)), requires_grad=True)
    t = _index_lists(rng, 8, 6, duplicates=True)
    grads = []
    for inplace in (False, True):
        w.grad = None
        x = w * 1.0  # an intermediate, as inplace_backward wants
        x.retain_grad()
        flt.multilabel_margin_loss(x, t, inplace_backward=inplace).backward()
        grads.append(w.grad.clone())
    assert torch.equal(grads[0], grads[1])


@pytest.mark.parametrize("bad, where", [(6, (1, 2)), (-2, (0, 0)), (9, (1, 5))])
def test_multilabel_margin_loss_label_out_of_range_raises(bad, where):
    """Every entry must be in [-1, C), also after the first -1 (as PyTorch checks)."""
    x = torch.zeros((2, 6), dtype=torch.float64)
    t = torch.tensor([[0, 1, -1, 2, 3, 4], [5, 4, -1, 0, 0, 0]])
    t[where] = bad
    with pytest.raises(RuntimeError, match="out of range"):
        F.multilabel_margin_loss(x, t)
    with pytest.raises(ValueError, match=rf"^\[fastloss\.multilabel_margin\] target label {bad} "
                                         rf"out of range \[-1, 6\) at index \({where[0]}, "
                                         rf"{where[1]}\)"):
        flt.multilabel_margin_loss(x, t)


def test_multilabel_margin_loss_nan_row_is_a_documented_deviation():
    x = torch.tensor([[0.1, float("nan"), 0.4], [0.3, -0.2, 0.1]], dtype=torch.float64)
    t = torch.tensor([[0, -1, 0], [1, -1, 0]])
    assert torch.isfinite(F.multilabel_margin_loss(x, t, reduction="none")[0])  # drops NaN terms
    loss = flt.multilabel_margin_loss(x, t, reduction="none")
    assert torch.isnan(loss[0]) and torch.isfinite(loss[1])


@pytest.mark.parametrize("name, torch_name, target", [
    ("nll", "nll_loss", lambda rng, x: _labels(rng, x.shape[:1], x.shape[1])),
    ("multilabel_soft_margin", "multilabel_soft_margin_loss",
     lambda rng, x: torch.tensor(rng.random(tuple(x.shape)) < 0.5).double()),
    ("multilabel_margin", "multilabel_margin_loss",
     lambda rng, x: _index_lists(rng, x.shape[0], x.shape[1], duplicates=True)),
])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_float32_within_the_loss_contract(name, torch_name, target, reduction):
    rng = rng_for("f32", name, reduction)
    x64 = torch.tensor(rng.standard_normal((64, 33)))
    x64 = torch.log_softmax(x64, 1) if name == "nll" else x64
    t = target(rng, x64)
    x32 = x64.float()
    ours = getattr(flt, torch_name)(x32, t.float() if t.is_floating_point() else t,
                                    reduction=reduction)
    assert ours.dtype == torch.float32
    theirs = getattr(F, torch_name)(x32.double(), t, reduction=reduction)
    assert_close(ours.numpy(), theirs.numpy().astype(np.float32), **tol(name, np.float32))
