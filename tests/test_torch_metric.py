"""fastloss.torch's metric-learning losses: triplet_margin_loss against PyTorch's (values and
autograd gradients to every input), contrastive against the NumPy API, the modules, upstream
gradients, half precision and errors."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
flt = pytest.importorskip("fastloss.torch")

import fastloss  # noqa: E402
from fastloss._registry import REGISTRY  # noqa: E402
from helpers import rng_for, tol, tolerance  # noqa: E402

F = torch.nn.functional
CASES = ({}, {"p": 1.0}, {"p": 3.0, "swap": True}, {"margin": 0.5, "eps": 0.0}, {"swap": True})


def _triplets(rng, shape, dtype=torch.float64):
    a = rng.normal(size=shape)
    s = 1 / np.sqrt(shape[-1])
    arrays = (a, a + rng.normal(size=shape) * 0.6 * s, a + rng.normal(size=shape) * 1.2 * s)
    return [torch.tensor(x, dtype=dtype, requires_grad=True) for x in arrays]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("kw", CASES, ids=str)
def test_triplet_margin_loss_matches_pytorch(kw, reduction):
    rng = rng_for("torch triplet", str(kw), reduction)
    ours = _triplets(rng, (40, 9))
    theirs = [t.detach().clone().requires_grad_() for t in ours]
    loss = flt.triplet_margin_loss(*ours, reduction=reduction, **kw)
    want = F.triplet_margin_loss(*theirs, reduction=reduction, **kw)
    t64 = tolerance("torch_float64")
    np.testing.assert_allclose(loss.detach().numpy(), want.detach().numpy(), **t64)
    up = torch.tensor(rng.uniform(-2, 2, want.shape), dtype=torch.float64)
    (loss * up).sum().backward()
    (want * up).sum().backward()
    full = {"margin": 1.0, "p": 2.0, "eps": 1e-6, "swap": False, **kw}
    clear = REGISTRY["triplet"].kinks([t.detach().numpy() for t in ours], full) > 1e-9
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy()[clear], b.grad.numpy()[clear], **t64)


def test_triplet_margin_loss_1d_legacy_reduction_module_and_partial_grads():
    rng = rng_for("torch triplet misc")
    a, p, n = _triplets(rng, (6,))
    assert flt.triplet_margin_loss(a, p, n).shape == ()
    t64 = tolerance("torch_float64")
    x = _triplets(rng, (5, 4))
    with pytest.warns(UserWarning, match="size_average"):  # PyTorch's deprecation warning
        ours = flt.triplet_margin_loss(*x, size_average=False).item()
    with pytest.warns(UserWarning, match="size_average"):
        theirs = F.triplet_margin_loss(*x, size_average=False).item()
    np.testing.assert_allclose(ours, theirs, **t64)
    module = flt.TripletMarginLoss(margin=0.7, swap=True, reduction="sum")
    np.testing.assert_allclose(module(*x).item(),
                               torch.nn.TripletMarginLoss(margin=0.7, swap=True,
                                                          reduction="sum")(*x).item(), **t64)
    # only the anchor requires grad: the others get none
    a, p, n = (t.detach() for t in x)
    a.requires_grad_()
    flt.triplet_margin_loss(a, p, n).backward()
    assert a.grad is not None and p.grad is None and n.grad is None


def test_triplet_margin_loss_float32_and_half():
    rng = rng_for("torch triplet dtypes")
    for dtype in (torch.float32, torch.bfloat16):
        x = _triplets(rng, (16, 8), dtype)
        loss = flt.triplet_margin_loss(*x)
        loss.backward()
        assert all(t.grad.dtype == dtype and t.grad.shape == t.shape for t in x)
        ref = [t.detach().double() for t in x]
        t = tol("triplet", np.float32) if dtype == torch.float32 else tolerance("half_precision")
        np.testing.assert_allclose(loss.item(), fastloss.triplet(*(r.numpy() for r in ref)),
                                   rtol=t["rtol"], atol=t["atol"])


def test_contrastive_gradients_and_module():
    rng = rng_for("torch contrastive")
    x1 = torch.tensor(rng.normal(size=(12, 5)), requires_grad=True)
    x2 = torch.tensor(rng.normal(size=(12, 5)), requires_grad=True)
    y = torch.tensor(rng.integers(0, 2, 12))
    w = torch.tensor(rng.uniform(0.5, 2, 12))
    loss = flt.contrastive(x1, x2, y, margin=2.0, reduction="none", sample_weight=w)
    up = torch.tensor(rng.uniform(-2, 2, 12))
    (loss * up).sum().backward()
    args = (x1.detach().numpy(), x2.detach().numpy(), y.numpy())
    kw = dict(margin=2.0, reduction="none", sample_weight=w.numpy())
    np.testing.assert_array_equal(loss.detach().numpy(), fastloss.contrastive(*args, **kw))
    _, (g1, g2) = fastloss.value_and_grad(fastloss.contrastive, argnums=(0, 1))(
        *args, grad_output=up.numpy(), **kw)
    # the saved gradient of the sum times the upstream, against the kernel's own upstream
    t = tolerance("float64_rounding")
    np.testing.assert_allclose(x1.grad.numpy(), g1, **t)
    np.testing.assert_allclose(x2.grad.numpy(), g2, **t)
    m = flt.ContrastiveLoss(margin=2.0)
    assert m(x1, x2, y).item() == fastloss.contrastive(*args[:3], margin=2.0)


def test_errors():
    x = torch.ones(3, 4)
    with pytest.raises(ValueError, match=r"\[fastloss.torch.triplet_margin_loss\] margin"):
        flt.triplet_margin_loss(x, x, x, margin=0.0)
    with pytest.raises(ValueError, match=r"\[fastloss.triplet\] negative must have the shape"):
        flt.triplet_margin_loss(x, x, torch.ones(2, 4))
    with pytest.raises(RuntimeError, match="labels have no gradient"):
        flt.contrastive(x, x, torch.zeros(3, requires_grad=True))
    with pytest.raises(ValueError, match="similar must be 0 or 1"):
        flt.contrastive(x, x, torch.full((3,), 0.5))
    with pytest.raises(RuntimeError, match="double backward"):
        a = torch.ones(3, 4, requires_grad=True)
        g, = torch.autograd.grad(flt.triplet_margin_loss(a, x * 0.5, x * 2), a,
                                 create_graph=True)
