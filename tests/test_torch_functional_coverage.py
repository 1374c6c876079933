"""fastloss.torch covers the losses of ``torch.nn.functional``: every loss function PyTorch has
gets a drop-in of the same name whose parameters are PyTorch's (names, kinds, order, defaults),
with fastloss's own extensions only after them as keyword-only parameters with defaults
(``inplace_backward``); the same holds for the ``torch.nn`` modules fastloss.torch mirrors.

The list of PyTorch's losses is read from PyTorch itself, so a loss a new PyTorch adds fails here
until fastloss.torch has it (or it is listed in PENDING with the issue that builds it).
"""

from __future__ import annotations

import inspect
import re

import pytest

torch = pytest.importorskip("torch")
flt = pytest.importorskip("fastloss.torch")

import torch.nn.functional as F  # noqa: E402

# Losses other engineers are building now. Each name leaves this set when its drop-in lands
# (test_pending_losses_have_no_drop_in_yet fails until it does).
PENDING = {
    # issue 11, metric learning and ranking
    "ctc_loss",
}
# Not a loss of logits: a fused linear layer + cross-entropy (PyTorch's chunked head), out of
# fastloss.torch's scope.
EXCLUDED = {"linear_cross_entropy"}


def _functions_the_loss_modules_call() -> set:
    """The torch.nn.functional function each of torch.nn's loss modules (the subclasses of
    torch.nn.modules.loss._Loss) returns from its forward: kl_div, nll_loss, cross_entropy, ...
    whatever their names."""
    names = set()
    for cls in vars(torch.nn.modules.loss).values():
        if (isinstance(cls, type) and issubclass(cls, torch.nn.modules.loss._Loss)
                and "forward" in vars(cls)):
            names |= set(re.findall(r"return\s+F\.(\w+)\(", inspect.getsource(cls.forward)))
    return names


def torch_losses() -> set:
    """Every public loss function of torch.nn.functional: the names ending in ``_loss`` or
    holding ``cross_entropy``, and the functions the loss modules call."""
    names = {n for n in dir(F) if not n.startswith("_") and callable(getattr(F, n))
             and (n.endswith("_loss") or "cross_entropy" in n)}
    return (names | _functions_the_loss_modules_call()) & set(dir(F))


TORCH_LOSSES = sorted(torch_losses())
COVERED = sorted(set(TORCH_LOSSES) - PENDING - EXCLUDED)


def _parameters(fn) -> list:
    return list(inspect.signature(fn).parameters.values())


def assert_drop_in_signature(ours, theirs, what: str):
    """Our parameters start with theirs (same names, kinds and defaults, in order); anything
    after them is a keyword-only extension with a default."""
    mine, torch_params = _parameters(ours), _parameters(theirs)
    assert [p.name for p in mine[:len(torch_params)]] == [p.name for p in torch_params], \
        f"{what}: parameters {[p.name for p in mine]}, PyTorch's {[p.name for p in torch_params]}"
    for p, q in zip(mine, torch_params):
        assert p.kind == q.kind, f"{what}: {p.name} is {p.kind}, PyTorch's is {q.kind}"
        assert p.default == q.default, \
            f"{what}: {p.name} defaults to {p.default!r}, PyTorch's to {q.default!r}"
    for p in mine[len(torch_params):]:
        assert p.kind is p.KEYWORD_ONLY and p.default is not p.empty, \
            f"{what}: the extension {p.name} must be keyword-only with a default"


def test_the_list_is_read_from_pytorch():
    # (a derivation that found nothing would make every test below vacuous)
    assert {"cross_entropy", "nll_loss", "mse_loss", "kl_div", "binary_cross_entropy",
            "binary_cross_entropy_with_logits", "multilabel_margin_loss"} <= set(TORCH_LOSSES)
    assert all(callable(getattr(F, n)) for n in TORCH_LOSSES)


def test_pending_and_excluded_names_are_pytorch_losses():
    stale = (PENDING | (EXCLUDED & set(dir(F)))) - set(TORCH_LOSSES)
    assert not stale, f"not losses of this PyTorch ({torch.__version__}): {sorted(stale)}"


@pytest.mark.parametrize("name", COVERED)
def test_every_pytorch_loss_has_a_drop_in(name):
    ours = getattr(flt, name, None)
    assert ours is not None, (f"fastloss.torch has no {name} (torch.nn.functional.{name}); add "
                              f"it, or list it in PENDING with the issue that builds it")
    assert name in flt.__all__
    assert_drop_in_signature(ours, getattr(F, name), f"fastloss.torch.{name}")


@pytest.mark.parametrize("name", sorted(PENDING))
def test_pending_losses_have_no_drop_in_yet(name):
    assert not hasattr(flt, name), (f"fastloss.torch.{name} has landed: remove it from PENDING "
                                    f"so that the drop-in test checks its signature")


def _mirrored_modules() -> list:
    """The torch.nn loss modules that fastloss.torch has a class of the same name for."""
    return sorted(n for n in flt.__all__ if isinstance(getattr(flt, n), type)
                  and isinstance(getattr(torch.nn, n, None), type)
                  and issubclass(getattr(torch.nn, n), torch.nn.modules.loss._Loss))


def test_the_multi_label_and_nll_modules_are_mirrored():
    assert {"NLLLoss", "MultiLabelSoftMarginLoss", "MultiLabelMarginLoss",
            "CrossEntropyLoss", "MultiMarginLoss"} <= set(_mirrored_modules())


@pytest.mark.parametrize("name", _mirrored_modules())
def test_mirrored_modules_take_pytorchs_constructor_arguments(name):
    assert_drop_in_signature(getattr(flt, name).__init__, getattr(torch.nn, name).__init__,
                             f"fastloss.torch.{name}")
