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


def _sum_to(g, shape):
    """A full-shape gradient summed over the axes along which an operand of `shape` was
    broadcast (leading axes, then axes of length 1)."""
    lead = g.ndim - len(shape)
    g = jnp.sum(g, axis=tuple(range(lead))) if lead else g
    axes = tuple(d for d, n in enumerate(shape) if n == 1 and g.shape[d] != 1)
    return jnp.sum(g, axis=axes, keepdims=True) if axes else g


@functools.lru_cache(maxsize=256)  # bounded: float hyper-parameters may change every step
def differentiable(plan: Plan, operand_names: tuple):
    """f(x, target, operands: tuple in operand_names' order) -> loss, with a custom VJP."""
    fn = qualified(plan.name)
    target_grad = plan.target_differentiable
    # The likelihoods' kernels write d/dtarget (and d/d aux0, gaussian_nll's var) themselves.
    functor_target = plan.functor_target_gradient
    functor_aux0 = plan.functor_operand_gradient and "aux0" in operand_names
    # Extra gradients after d/dx: the target's (the likelihoods' functors; a second logits array,
    # the divergences), then aux0's.
    extra = (2 if functor_aux0 else 1) if functor_target else 1 if plan.pair else 0

    def call(with_grad, x, target, operands):
        return _ffi.call(plan, with_grad, x, target, dict(zip(operand_names, operands)),
                         extra_grads=extra if with_grad else 0)

    @jax.custom_vjp
    def f(x, target, operands):
        return call(False, x, target, operands)

    def fwd(x, target, operands):
        if target.perturbed and not (target_grad or functor_target or plan.pair):
            fail(fn, "cannot differentiate with respect to target (only the first argument "
                     "is differentiated); wrap it in jax.lax.stop_gradient", TypeError)
        for key, a in zip(operand_names, operands):
            if a.perturbed and not (key == "aux0" and functor_aux0):
                name = plan.aux_names[int(key[-1])] if key.startswith("aux") else key
                fail(fn, f"cannot differentiate with respect to {name}; wrap it in "
                         "jax.lax.stop_gradient", TypeError)
        loss, *grads = call(True, x.value, target.value, tuple(a.value for a in operands))
        if functor_aux0:
            grads.append(operands[operand_names.index("aux0")].value)  # (for its shape)
        return loss, (tuple(grads) if extra else grads[0])

    def bwd(residual, cotangent):
        nothing = tuple(None for _ in operand_names)
        if isinstance(cotangent, SymbolicZero):
            return None, None, nothing
        if plan.row and plan.reduction == 0:
            cotangent = jnp.expand_dims(cotangent, plan.axis)
        if extra:  # (d/dx, d/dtarget[, d/d aux0 at x's shape, aux0])
            grad, grad_y, *rest = residual
            grad_x = (grad * cotangent).astype(grad.dtype)
            grads = list(nothing)
            if functor_aux0:
                grad_p, aux0 = rest
                grads[operand_names.index("aux0")] = _sum_to(grad_p * cotangent,
                                                             aux0.shape).astype(aux0.dtype)
            return grad_x, (grad_y * cotangent).astype(grad_y.dtype), tuple(grads)
        grad = residual
        grad_x = (grad * cotangent).astype(grad.dtype)
        return grad_x, (-grad_x if target_grad else None), nothing

    f.defvjp(fwd, bwd, symbolic_zeros=True)
    return f


def apply(plan: Plan, x, target, operands: dict):
    """The loss of a validated call; `operands` maps aux0/aux1/sample_weight to arrays."""
    names = tuple(k for k in _ffi._OPTIONAL if k in operands)
    return differentiable(plan, names)(x, target, tuple(operands[k] for k in names))
