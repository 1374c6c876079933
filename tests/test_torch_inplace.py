"""fastloss.torch's inplace_backward=True: the logits' memory receives their gradient."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
import fastloss.torch as flt  # noqa: E402
from helpers import assert_same_tensor  # noqa: E402

C = 7
CALLS = {
    "cross_entropy": lambda x, t, **k: flt.cross_entropy(x, t, label_smoothing=0.1, **k),
    "cross_entropy_weighted": lambda x, t, **k: flt.cross_entropy(
        x, t, weight=torch.linspace(0.5, 2.0, C, dtype=x.dtype), ignore_index=2, **k),
    "multi_margin_loss": lambda x, t, **k: flt.multi_margin_loss(x, t, p=2, **k),
    "softmax_focal_loss": lambda x, t, **k: flt.softmax_focal_loss(x, t, alpha=0.25, **k),
    "multiclass_hinge_loss": lambda x, t, **k: flt.multiclass_hinge_loss(
        x, t, kind="crammer_singer", **k),
    "nll_loss": lambda x, t, **k: flt.nll_loss(
        x, t, weight=torch.linspace(0.5, 2.0, C, dtype=x.dtype), **k),
    # (the multi-label losses take a target per class, made from the class indices)
    "multilabel_soft_margin_loss": lambda x, t, **k: flt.multilabel_soft_margin_loss(
        x, torch.nn.functional.one_hot(t, C).to(x.dtype), **k),
    "multilabel_margin_loss": lambda x, t, **k: flt.multilabel_margin_loss(
        x, torch.stack([t, (t + 3) % C, torch.full_like(t, -1)] + [t] * (C - 3), 1), **k),
}


def _logits(z, layer):
    return layer(z)  # an intermediate result, as a model's last layer gives


@pytest.mark.parametrize("name", CALLS)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_in_place_gradients_equal_the_out_of_place_ones(name, reduction, dtype):
    torch.manual_seed(0)
    z = torch.randn(16, 5, dtype=dtype, requires_grad=True)
    layer = torch.nn.Linear(5, C, dtype=dtype)
    target = torch.randint(0, C, (16,))
    upstream = torch.rand(16, dtype=dtype) + 0.5 if reduction == "none" else torch.tensor(1.5, dtype=dtype)
    results = []
    for inplace in (False, True):
        z.grad = None
        layer.zero_grad()
        logits = _logits(z, layer)
        loss = CALLS[name](logits, target, reduction=reduction, inplace_backward=inplace)
        loss.backward(upstream)
        results.append((loss.detach(), z.grad.clone(), layer.weight.grad.clone(), logits))
    (l0, gz0, gw0, logits0), (l1, gz1, gw1, logits1) = results
    assert_same_tensor(l1, l0)
    assert_same_tensor(gz1, gz0)
    assert_same_tensor(gw1, gw0)
    assert not torch.equal(logits0, logits1)  # the in-place call overwrote its logits


def test_the_logits_hold_the_gradient_after_the_forward():
    z = torch.randn(4, 5, requires_grad=True)
    logits = z * 2.0
    target = torch.randint(0, 5, (4,))
    want = torch.autograd.grad(torch.nn.functional.cross_entropy(z * 2.0, target), z)[0] / 2.0
    flt.cross_entropy(logits, target, inplace_backward=True)
    torch.testing.assert_close(logits.detach(), want)


def test_an_op_that_saved_the_logits_fails_loudly():
    z = torch.randn(4, 5, requires_grad=True)
    logits = z.exp()  # exp saves its output for backward
    loss = flt.cross_entropy(logits, torch.randint(0, 5, (4,)), inplace_backward=True)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_leaves_and_half_precision_are_refused():
    target = torch.randint(0, 5, (4,))
    leaf = torch.randn(4, 5, requires_grad=True)
    with pytest.raises(ValueError, match=r"\[fastloss.torch.cross_entropy\] .*leaf"):
        flt.cross_entropy(leaf, target, inplace_backward=True)
    half = (torch.randn(4, 5, requires_grad=True) * 1).half()
    with pytest.raises(ValueError, match=r"float32 or float64"):
        flt.cross_entropy(half, target, inplace_backward=True)
    with pytest.raises(TypeError, match=r"inplace_backward must be a bool"):
        flt.cross_entropy(leaf * 1, target, inplace_backward="yes")


def test_without_autograd_the_input_is_left_alone():
    logits = torch.randn(4, 5)
    before = logits.clone()
    flt.cross_entropy(logits, torch.randint(0, 5, (4,)), inplace_backward=True)
    assert torch.equal(logits, before)


def test_the_module_takes_the_option():
    z = torch.randn(4, 5, requires_grad=True)
    loss = flt.CrossEntropyLoss(inplace_backward=True)(z * 1.0, torch.randint(0, 5, (4,)))
    loss.backward()
    assert z.grad is not None


def test_calls_cover_every_row_loss_adapter():
    # inplace_backward is offered by the row losses: each has a case above.
    from fastloss._registry import REGISTRY

    # (not the divergences: their kernels read both logits again after writing the gradients,
    # so they have no in-place form; nor the listwise ranking losses: their torch form is the
    # embedding losses' autograd.Function, which keeps its own gradient buffer)
    rows = {flt.FOR_REGISTRY[name] for name, spec in REGISTRY.items()
            if spec.kind == "row" and spec.family not in ("divergence", "ranking")}
    assert rows <= {name for name in CALLS if name in flt.__all__}
