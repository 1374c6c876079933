"""The GAN losses of :mod:`fastloss._adversarial` on tensors: ``gan_discriminator_loss`` and
``gan_generator_loss`` (PyTorch has no GAN loss, so these take fastloss's names, arguments and
semantics), with the modules ``GANDiscriminatorLoss`` and ``GANGeneratorLoss``.

Each call runs the NumPy API's passes (one per array, value and gradient together) on zero-copy
views of the tensors and saves the gradients; an ``autograd.Function`` multiplies them by the
upstream gradient, so gradients flow to both ``real`` and ``fake``, each from its own pass (the
discriminator's two outputs with ``reduction="none"`` each take their own cotangent). The
gradient is computed only for the tensors that require it. Eager mode only: under
``torch.compile`` the call is a graph break (no custom op, unlike the table's losses), and double
backward raises, as for every fastloss.torch loss.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .. import _adversarial as A
from .._autodiff import value_and_grad
from .._validate import choice, reduction_code
from ._autograd import _no_double_backward
from ._errors import fail

__all__ = ["gan_discriminator_loss", "gan_generator_loss", "GANDiscriminatorLoss",
           "GANGeneratorLoss"]


def _tensor(fn: str, name: str, t) -> Tensor:
    if not isinstance(t, Tensor):
        fail(fn, f"{name} must be a torch.Tensor, got {type(t).__name__}", TypeError)
    if t.layout != torch.strided:
        fail(fn, f"{name} must be a dense tensor (got layout {t.layout}); pass "
                 f"{name}.to_dense()", TypeError)
    if not t.dtype.is_floating_point:
        fail(fn, f"{name} must be a floating tensor (discriminator outputs), got {t.dtype}",
             TypeError)
    return t


class _GanLoss(torch.autograd.Function):
    """forward(loss_fn, kwargs, need, *tensors): the NumPy API's value and the gradients of the
    tensors flagged in ``need``; backward: saved gradient x upstream gradient, per tensor."""

    @staticmethod
    def forward(ctx, loss_fn, kwargs, need, *tensors):
        arrays = tuple(t.detach() for t in tensors)
        positions = tuple(i for i, n in enumerate(need) if n)
        if positions:
            value, grads = value_and_grad(loss_fn, argnums=positions)(*arrays, **kwargs)
        else:
            value, grads = loss_fn(*arrays, **kwargs), ()
        saved = [None] * len(tensors)
        for i, g in zip(positions, grads):
            saved[i] = g
        ctx.saved = saved
        ctx.set_materialize_grads(False)
        return value

    @staticmethod
    def backward(ctx, *upstream):
        _no_double_backward()
        out = [None, None, None]
        pairs = len(upstream) == len(ctx.saved)  # reduction="none": one cotangent per tensor
        for i, g in enumerate(ctx.saved):
            u = upstream[i] if pairs else upstream[0]
            out.append(None if g is None or u is None else (g * u).to(g.dtype))
        return tuple(out)


def _call(fn_name: str, loss_fn, kwargs, tensors):
    need = tuple(t.requires_grad for t in tensors)
    if torch.is_grad_enabled() and any(need):
        return _GanLoss.apply(loss_fn, kwargs, need, *tensors)
    return loss_fn(*(t.detach() for t in tensors), **kwargs)


def gan_discriminator_loss(real, fake, *, kind="bce", real_label=1.0, reduction="mean") -> Tensor:
    """:func:`fastloss.gan_discriminator` on tensors: the sum of the expectations over the
    discriminator's outputs for real and for generated samples (logits for ``kind="bce"``),
    differentiable with respect to ``real`` and ``fake``. ``reduction="none"`` returns the pair
    ``(real_terms, fake_terms)``, each with its own gradient."""
    fn = "gan_discriminator_loss"
    kind = choice(f"torch.{fn}", "kind", kind, tuple(A._DISCRIMINATOR))
    b = A._real_label(kind, real_label, f"torch.{fn}")
    reduction_code(f"torch.{fn}", reduction)
    r, f = _tensor(fn, "real", real), _tensor(fn, "fake", fake)
    if r.device != f.device:
        fail(fn, f"real and fake must be on one device, got {r.device} and {f.device}",
             RuntimeError)
    kwargs = {"kind": kind, "real_label": b, "reduction": reduction}
    return _call(fn, A.gan_discriminator, kwargs, (r, f))


def gan_generator_loss(fake, *, kind="bce", reduction="mean", sample_weight=None) -> Tensor:
    """:func:`fastloss.gan_generator` on tensors (``kind``: ``"bce"`` non-saturating,
    ``"minimax"``, ``"wasserstein"``, ``"least_squares"``, ``"hinge"``); ``sample_weight``:
    fastloss semantics (``mean = sum(w*l)/sum(w)``), not differentiated."""
    fn = "gan_generator_loss"
    kind = choice(f"torch.{fn}", "kind", kind, tuple(A._GENERATOR))
    reduction_code(f"torch.{fn}", reduction)
    f = _tensor(fn, "fake", fake)
    if isinstance(sample_weight, Tensor):
        if sample_weight.requires_grad:
            fail(fn, "sample_weight has no gradient (detach it)", RuntimeError)
    kwargs = {"kind": kind, "reduction": reduction, "sample_weight": sample_weight}
    return _call(fn, A.gan_generator, kwargs, (f,))


class GANDiscriminatorLoss(torch.nn.Module):
    """Module form of :func:`gan_discriminator_loss`: ``forward(real, fake)``."""

    def __init__(self, kind="bce", real_label=1.0, reduction="mean"):
        super().__init__()
        fn = "torch.GANDiscriminatorLoss"
        self.kind = choice(fn, "kind", kind, tuple(A._DISCRIMINATOR))
        self.real_label = A._real_label(self.kind, real_label, fn)
        reduction_code(fn, reduction)
        self.reduction = reduction

    def forward(self, real, fake):
        return gan_discriminator_loss(real, fake, kind=self.kind, real_label=self.real_label,
                                      reduction=self.reduction)


class GANGeneratorLoss(torch.nn.Module):
    """Module form of :func:`gan_generator_loss`: ``forward(fake, sample_weight=None)``."""

    def __init__(self, kind="bce", reduction="mean"):
        super().__init__()
        fn = "torch.GANGeneratorLoss"
        self.kind = choice(fn, "kind", kind, tuple(A._GENERATOR))
        reduction_code(fn, reduction)
        self.reduction = reduction

    def forward(self, fake, sample_weight=None):
        return gan_generator_loss(fake, kind=self.kind, reduction=self.reduction,
                                  sample_weight=sample_weight)


ADVERSARIAL = {name: globals()[name] for name in __all__}
# registry name -> function name here (joins fastloss.torch.FOR_REGISTRY)
FOR_REGISTRY = {"gan_discriminator": "gan_discriminator_loss",
                "gan_generator": "gan_generator_loss"}
