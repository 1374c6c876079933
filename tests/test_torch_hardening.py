"""fastloss.torch refuses what would give a silently wrong answer: inplace_backward=True on a
view of a leaf (w[:], w.view(...), w.expand(...): only input.is_leaf was checked, so the
parameter became its gradient), and bool targets."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
import fastloss.torch as flt  # noqa: E402


@pytest.mark.parametrize("view", [lambda w: w[:], lambda w: w.view(4, 4),
                                  lambda w: w.reshape(16).view(4, 4)],
                         ids=["slice", "view", "view-of-view"])
def test_a_view_of_a_leaf_is_refused(view):
    w = torch.randn(4, 4, requires_grad=True)
    before = w.detach().clone()
    with pytest.raises(ValueError, match=r"inplace_backward=True would overwrite input's base"):
        flt.cross_entropy(view(w), torch.tensor([0, 1, 2, 3]), inplace_backward=True)
    assert torch.equal(w.detach(), before)


def test_an_expanded_leaf_row_is_refused():
    w = torch.randn(4, requires_grad=True)
    with pytest.raises(ValueError, match=r"inplace_backward=True would overwrite input's base"):
        flt.cross_entropy(w.expand(4, 4), torch.tensor([0, 1, 2, 3]), inplace_backward=True)


def test_an_intermediate_result_still_works_in_place():
    w = torch.randn(4, 4, requires_grad=True)
    logits = w * 2
    loss = flt.cross_entropy(logits, torch.tensor([0, 1, 2, 3]), inplace_backward=True)
    loss.backward()
    reference = w.detach().clone().requires_grad_()
    torch.nn.functional.cross_entropy(reference * 2, torch.tensor([0, 1, 2, 3])).backward()
    torch.testing.assert_close(w.grad, reference.grad)


# (the GAN losses have no target: their bool inputs are refused in tests/test_gan_adapters.py)
@pytest.mark.parametrize("name", sorted(set(flt.FOR_REGISTRY.values()) - {
    "gan_discriminator_loss", "gan_generator_loss"}))
def test_bool_targets_are_refused(name):
    # They were read as 0/1 labels by cross_entropy, hinge_loss and multi_margin_loss, where
    # the NumPy API and PyTorch raise.
    x = torch.randn(2, 3)
    target = torch.ones(2, 3, dtype=torch.bool) if name not in (
        "cross_entropy", "multi_margin_loss", "softmax_focal_loss", "multiclass_hinge_loss",
        "structured_hinge", "center") \
        else torch.tensor([True, False])
    # gaussian_nll_loss's var; margin_ranking_loss's op target is input2, and its PyTorch target
    # (the preference) the tensor that must hold numbers
    extra = (torch.ones(2, 3),) if name == "gaussian_nll_loss" else ()
    if name == "margin_ranking_loss":
        x, target, extra = x, torch.randn(2, 3), (target,)
    # the embedding losses: a second embedding (and a third, or the pair's labels)
    extra = {"triplet_margin_loss": (torch.ones(2, 3),), "contrastive": (torch.ones(2),),
             "cosine_embedding_loss": (torch.ones(2),), "info_nce": (),
             "center": (torch.ones(3, 3),)}.get(name, extra)
    arg = {"triplet_margin_loss": "positive", "contrastive": "x2",
           "cosine_embedding_loss": "input2", "info_nce": "key", "listnet": "relevance",
           "listmle": "relevance", "center": "labels"}.get(name, "target")
    # (the structured hinge's target and the center loss's labels are class indices only: they
    # say so)
    wanted = ("must hold integer class indices" if name in ("structured_hinge", "center")
              else "must hold numbers")
    with pytest.raises(TypeError, match=rf"\[fastloss.torch.{name}\] {arg} {wanted}"):
        getattr(flt, name)(x, target, *extra)


def test_the_numpy_api_refuses_a_pending_negation():
    import fastloss

    z = torch.randn(6, dtype=torch.complex64)
    neg = z.conj().imag  # values -z.imag, stored as z.imag with the neg bit set
    assert neg.is_neg()
    with pytest.raises(TypeError, match=r"\[fastloss.mse\] pred is a torch tensor with a pending "
                                        r"negation"):
        fastloss.mse(neg, torch.zeros(6))
    resolved = neg.resolve_neg()
    expected = torch.nn.functional.mse_loss(resolved, torch.zeros(6))
    assert float(fastloss.mse(resolved, torch.zeros(6))) == pytest.approx(float(expected))


def test_fastloss_torch_reads_a_pending_negation_as_torch_does():
    z = torch.randn(6, dtype=torch.complex64)
    neg = z.conj().imag
    assert neg.is_neg()
    target = torch.randn(6)
    values = neg.resolve_neg()
    for ours, theirs in [(flt.mse_loss, torch.nn.functional.mse_loss),
                         (flt.l1_loss, torch.nn.functional.l1_loss)]:
        assert torch.equal(ours(neg, target), ours(values, target))
        assert torch.equal(ours(target, neg), ours(target, values))
        torch.testing.assert_close(ours(neg, target), theirs(values, target))
