"""fastloss.torch.triplet_margin_with_distance_loss against PyTorch's: the fused path for
PyTorch's default distance, a caller's distance through the margin_ranking_loss kernel."""

from __future__ import annotations

import doctest

import pytest

torch = pytest.importorskip("torch")
import fastloss.torch as flt  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from helpers import assert_same_tensor, tolerance  # noqa: E402

REDUCTIONS = ["mean", "sum", "none"]
DISTANCES = {
    "default": None,
    "pairwise_distance": torch.pairwise_distance,
    "cosine": lambda x, y: 1.0 - F.cosine_similarity(x, y),
    "l1": lambda x, y: (x - y).abs().sum(-1),
}


def _triplet(dtype, shape=(9, 5), seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=g, dtype=dtype, requires_grad=True) for _ in range(3)]


def _loss_and_grads(fn, tensors, reduction, upstream, **kwargs):
    for t in tensors:
        t.grad = None
    loss = fn(*tensors, reduction=reduction, **kwargs)
    loss.backward(upstream)
    return loss.detach(), [t.grad.clone() for t in tensors]


@pytest.mark.parametrize("distance", DISTANCES)
@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_values_and_gradients_match_pytorch(distance, swap, reduction):
    tensors = _triplet(torch.float64)
    upstream = (torch.linspace(0.5, 2.0, 9, dtype=torch.float64) if reduction == "none"
                else torch.tensor(1.7, dtype=torch.float64))
    kwargs = dict(distance_function=DISTANCES[distance], margin=0.5, swap=swap)
    ours, our_grads = _loss_and_grads(flt.triplet_margin_with_distance_loss, tensors, reduction,
                                      upstream, **kwargs)
    theirs, their_grads = _loss_and_grads(F.triplet_margin_with_distance_loss, tensors,
                                          reduction, upstream, **kwargs)
    assert (ours > 0).any() and (ours.ndim == 0 or (ours == 0).any())  # both sides of the hinge
    torch.testing.assert_close(ours, theirs, **tolerance("torch_float64"))
    for mine, theirs_grad in zip(our_grads, their_grads):
        torch.testing.assert_close(mine, theirs_grad, **tolerance("torch_float64"))


def test_the_default_distance_is_the_fused_triplet_kernel():
    a, p, n = _triplet(torch.float32)
    fused = flt.triplet_margin_loss(a, p, n, margin=0.7, p=2, eps=1e-6, swap=True,
                                    reduction="none")
    for distance in (None, torch.pairwise_distance, F.pairwise_distance):
        assert_same_tensor(flt.triplet_margin_with_distance_loss(
            a, p, n, distance_function=distance, margin=0.7, swap=True, reduction="none"), fused)


def test_a_callers_distance_goes_through_the_margin_ranking_kernel():
    a, p, n = _triplet(torch.float32)
    cosine = DISTANCES["cosine"]
    d_pos, d_neg = cosine(a, p), torch.minimum(cosine(a, n), cosine(p, n))
    want = flt.margin_ranking_loss(d_neg, d_pos, torch.ones_like(d_pos), margin=0.3,
                                   reduction="sum")
    got = flt.triplet_margin_with_distance_loss(a, p, n, distance_function=cosine, margin=0.3,
                                                swap=True, reduction="sum")
    assert_same_tensor(got, want)


@pytest.mark.parametrize("distance", ["default", "l1"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradients_pass_finite_differences(distance, reduction):
    # (smooth distances away from the hinge's kink: the seed's triplets keep clear of it)
    tensors = _triplet(torch.float64, shape=(6, 4), seed=3)

    def fn(a, p, n):
        loss = flt.triplet_margin_with_distance_loss(
            a, p, n, distance_function=DISTANCES[distance], margin=2.0, swap=True,
            reduction=reduction)
        return loss * torch.linspace(0.5, 1.5, loss.numel(), dtype=loss.dtype).reshape(loss.shape)

    assert torch.autograd.gradcheck(fn, tensors, **tolerance("finite_difference"))


def test_float32_matches_pytorch():
    tensors = _triplet(torch.float32, shape=(64, 33))
    ours = flt.triplet_margin_with_distance_loss(*tensors)
    theirs = F.triplet_margin_with_distance_loss(*tensors)
    torch.testing.assert_close(ours, theirs, **tolerance("float32_gradient"))


def test_the_module_is_the_function():
    tensors = _triplet(torch.float64)
    cosine = DISTANCES["cosine"]
    module = flt.TripletMarginWithDistanceLoss(distance_function=cosine, margin=0.4, swap=True,
                                               reduction="none")
    assert_same_tensor(module(*tensors), flt.triplet_margin_with_distance_loss(
        *tensors, distance_function=cosine, margin=0.4, swap=True, reduction="none"))


def test_one_dimensional_triplets_match_pytorch():
    a, p, n = (t[0].detach() for t in _triplet(torch.float64))
    torch.testing.assert_close(flt.triplet_margin_with_distance_loss(a, p, n, margin=3.0),
                               F.triplet_margin_with_distance_loss(a, p, n, margin=3.0),
                               **tolerance("torch_float64"))


def test_the_docstring_example_runs():
    from fastloss.torch import _triplet_distance

    result = doctest.testmod(_triplet_distance, verbose=False, report=False)
    assert result.attempted > 0 and result.failed == 0


NAME = r"\[fastloss.torch.triplet_margin_with_distance_loss\] "


@pytest.mark.parametrize("margin", [0.0, -1.0, float("nan")])
def test_a_margin_not_above_zero_is_refused(margin):
    with pytest.raises(ValueError, match=NAME + "margin must be greater than 0"):
        flt.triplet_margin_with_distance_loss(*_triplet(torch.float32), margin=margin)


def test_bad_arguments_are_refused():
    a, p, n = _triplet(torch.float32)
    with pytest.raises(ValueError, match=NAME + "reduction"):
        flt.triplet_margin_with_distance_loss(a, p, n, reduction="avg")
    with pytest.raises(ValueError, match=NAME + ".* one number of dimensions, got 2, 1 and 2"):
        flt.triplet_margin_with_distance_loss(a, p[0], n)
    with pytest.raises(TypeError, match=NAME + "anchor, positive and negative must be tensors"):
        flt.triplet_margin_with_distance_loss(a.detach().numpy(), p, n)
    with pytest.raises(TypeError, match=NAME + "distance_function must be None or a callable"):
        flt.triplet_margin_with_distance_loss(a, p, n, distance_function="cosine")
    with pytest.raises(ValueError, match=NAME + "distance_function must return tensors of one shape"):
        flt.triplet_margin_with_distance_loss(
            a, p, n, distance_function=lambda x, y: (x - y).abs().sum(-1)[: 1 + int(y is n)])
