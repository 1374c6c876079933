"""The differentiable JAX function of one :class:`~fastloss.jax._plan.Plan`: a ``custom_vjp``
whose forward is one kernel pass through the XLA custom call, returning the loss and, under
differentiation, its gradient as the residual; the backward multiplies that gradient by the
cotangent (broadcast over the class axis for ``reduction="none"`` of the row losses).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.custom_derivatives import SymbolicZero

from .._validate import fail
from . import _ffi
from ._plan import Plan, qualified


@functools.lru_cache(maxsize=256)  # bounded: float hyper-parameters may change every step
def differentiable(plan: Plan, operand_names: tuple):
    """f(x, target, operands: tuple in operand_names' order) -> loss, with a custom VJP."""
    fn = qualified(plan.name)
    target_grad = plan.target_differentiable

    def call(with_grad, x, target, operands):
        return _ffi.call(plan, with_grad, x, target, dict(zip(operand_names, operands)))

    @jax.custom_vjp
    def f(x, target, operands):
        return call(False, x, target, operands)

    def fwd(x, target, operands):
        if target.perturbed and not target_grad:
            fail(fn, "cannot differentiate with respect to target (only the first argument "
                     "is differentiated); wrap it in jax.lax.stop_gradient", TypeError)
        for key, a in zip(operand_names, operands):
            if a.perturbed:
                name = plan.aux_names[int(key[-1])] if key.startswith("aux") else key
                fail(fn, f"cannot differentiate with respect to {name}; wrap it in "
                         "jax.lax.stop_gradient", TypeError)
        if plan.pair:  # (loss, d x, d target): the last two are the residual
            loss, grad_x, grad_target = call(True, x.value, target.value,
                                             tuple(a.value for a in operands))
            return loss, (grad_x, grad_target)
        return call(True, x.value, target.value, tuple(a.value for a in operands))

    def bwd(grad, cotangent):
        nothing = tuple(None for _ in operand_names)
        if isinstance(cotangent, SymbolicZero):
            return None, None, nothing
        if plan.row and plan.reduction == 0:
            cotangent = jnp.expand_dims(cotangent, plan.axis)
        if plan.pair:
            return tuple((g * cotangent).astype(g.dtype) for g in grad) + (nothing,)
        grad_x = (grad * cotangent).astype(grad.dtype)
        return grad_x, (-grad_x if target_grad else None), nothing

    f.defvjp(fwd, bwd, symbolic_zeros=True)
    return f


def apply(plan: Plan, x, target, operands: dict):
    """The loss of a validated call; `operands` maps aux0/aux1/sample_weight to arrays."""
    names = tuple(k for k in _ffi._OPTIONAL if k in operands)
    return differentiable(plan, names)(x, target, tuple(operands[k] for k in names))
