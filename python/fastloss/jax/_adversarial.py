"""fastloss.jax's GAN losses (gan_discriminator, gan_generator): each term is one pass of the
pointwise kernel over one array (its own custom VJP), so the discriminator's gradient flows to
``real`` and ``fake`` from their own passes; the loss is the sum of the two reduced passes
(``reduction="none"``: the pair of per-element terms). The term's constant is the kernel's
target, a broadcast of one number: XLA materialises it as the custom call's operand (the
FFI takes buffers), a write of the array's size that the NumPy API avoids."""

from __future__ import annotations

import jax.numpy as jnp

from .. import _adversarial as A
from .._validate import choice, fail
from . import _plan as P
from ._plan import Plan
from ._vjp import apply


def _term(name: str, x_name: str, x, term: int, c: float, code: int, sample_weight=None):
    fn = P.qualified(name)
    x = P.float_input(fn, x_name, x)
    y = jnp.broadcast_to(jnp.asarray(c, dtype=x.dtype), x.shape)
    operands = {}
    if sample_weight is not None:
        operands["sample_weight"] = P.weight_array(fn, "sample_weight", sample_weight,
                                                   shape=x.shape)
    return apply(Plan(name, name, code, (float(term),)), x, y, operands)


def gan_discriminator(real, fake, *, kind="bce", real_label=1.0, reduction="mean"):
    """:func:`fastloss.gan_discriminator` for JAX arrays (differentiable in ``real`` and
    ``fake``; ``reduction="none"`` returns the pair of per-element terms)."""
    fn = P.qualified("gan_discriminator")
    kind = choice(fn, "kind", kind, tuple(A._DISCRIMINATOR))
    b = A._real_label(kind, P.hyper_parameter(fn, "real_label", real_label), fn)
    code = P.reduction(fn, reduction)
    r = P.float_input(fn, "real", real)
    f = P.float_input(fn, "fake", fake)
    if r.dtype != f.dtype:
        fail(fn, f"fake must have the dtype of real ({r.dtype}), got {f.dtype}", TypeError)
    term, c_real, c_fake = A._DISCRIMINATOR[kind]
    lr = _term("gan_discriminator", "real", r, term, b if c_real is None else c_real, code)
    lf = _term("gan_discriminator", "fake", f, term, c_fake, code)
    return (lr, lf) if code == 0 else lr + lf


def gan_generator(fake, *, kind="bce", reduction="mean", sample_weight=None):
    """:func:`fastloss.gan_generator` for JAX arrays."""
    fn = P.qualified("gan_generator")
    kind = choice(fn, "kind", kind, tuple(A._GENERATOR))
    code = P.reduction(fn, reduction)
    term, c = A._GENERATOR[kind]
    return _term("gan_generator", "fake", fake, term, c, code, sample_weight)
