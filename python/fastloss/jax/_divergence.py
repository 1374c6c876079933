"""fastloss.jax's divergences of two logits arrays (kl_divergence, js_divergence, distillation):
both arrays are differentiable, from one kernel pass (the XLA call's third result)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from .._validate import fail, in_unit_interval, non_negative, positive
from . import _plan as P
from ._plan import Plan
from ._vjp import apply


def _pair(name: str, names: tuple, first, second, labels=None, *, axis, reduction,
          sample_weight, params=(), ignore_index=None):
    """A row loss over two logits arrays of one shape (the divergences), both differentiable;
    `labels` optional class indices of the rows' shape."""
    fn = P.qualified(name)
    code = P.reduction(fn, reduction)
    x = P.float_input(fn, names[0], first)
    ax = P.class_axis(fn, x, axis)
    y = P.float_target(fn, names[0], x, second, name=names[1])
    outer = tuple(s for d, s in enumerate(x.shape) if d != ax % x.ndim)
    operands = {}
    if sample_weight is not None:
        operands["sample_weight"] = P.weight_array(fn, "sample_weight", sample_weight,
                                                   shape=outer)
    if labels is not None:
        t = jnp.asarray(labels)
        if not jnp.issubdtype(t.dtype, jnp.integer):
            fail(fn, f"{names[2]} must hold integer class indices, got dtype {t.dtype}",
                 TypeError)
        if t.shape != outer:
            fail(fn, f"{names[2]} must have the shape of {names[0]} without axis "
                     f"{ax % x.ndim}, {outer}, got {t.shape}")
        operands["labels"] = t
    plan = Plan(name, name, code, tuple(params), axis=ax, ignore_index=ignore_index)
    return apply(plan, x, y, operands)


def kl_divergence(p_logits, q_logits, *, axis=-1, temperature=1.0, reduction="mean",
                  sample_weight=None):
    """:func:`fastloss.kl_divergence` for JAX arrays (differentiable in both logits arrays)."""
    t = P.number("jax.kl_divergence", "temperature", temperature, positive)
    return _pair("kl_divergence", ("p_logits", "q_logits"), p_logits, q_logits, axis=axis,
                 reduction=reduction, sample_weight=sample_weight, params=(t,))


def js_divergence(p_logits, q_logits, *, beta=0.5, axis=-1, temperature=1.0, reduction="mean",
                  sample_weight=None):
    """:func:`fastloss.js_divergence` for JAX arrays (differentiable in both logits arrays)."""
    fn = "jax.js_divergence"
    b = P.number(fn, "beta", beta, in_unit_interval)
    t = P.number(fn, "temperature", temperature, positive)
    return _pair("js_divergence", ("p_logits", "q_logits"), p_logits, q_logits, axis=axis,
                 reduction=reduction, sample_weight=sample_weight, params=(b, t))


def distillation(student_logits, teacher_logits, labels=None, *, temperature=2.0, alpha=0.5,
                 beta=0.5, t2_scale=True, ignore_index=-100, axis=-1, reduction="mean",
                 sample_weight=None):
    """:func:`fastloss.distillation` for JAX arrays (differentiable in both logits arrays; a
    label out of range is a run-time error)."""
    fn = "jax.distillation"
    t = P.number(fn, "temperature", temperature, positive)
    a = P.number(fn, "alpha", alpha, non_negative)
    b = P.number(fn, "beta", beta, non_negative)
    if not isinstance(t2_scale, (bool, np.bool_)):
        fail(fn, f"t2_scale must be a bool, got {t2_scale!r}", TypeError)
    return _pair("distillation", ("student_logits", "teacher_logits", "labels"), student_logits,
                 teacher_logits, labels, axis=axis, reduction=reduction,
                 sample_weight=sample_weight, params=(t, a, b, float(bool(t2_scale))),
                 ignore_index=P.ignore_index_value(fn, ignore_index))
