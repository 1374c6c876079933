"""fastloss.jax's listwise ranking losses (``listnet``, ``listmle``): the ``jax.pure_callback``
path of the embedding losses (see ``_metric.py``), not yet the XLA FFI custom call.

Each call is a ``jax.custom_vjp`` whose forward runs the NumPy API on the host (under
differentiation ``fastloss.value_and_grad`` in the scores: the loss and the gradient from one
kernel pass) and whose backward multiplies the saved gradient by the cotangent (per list for
``reduction="none"``). Only the scores are differentiable; the relevance labels, the mask and
the sample weights get no cotangent. Works under ``jax.jit``, ``jax.grad`` and ``jax.vmap``
(one call per batch element), on the CPU; reverse mode only. Shapes, dtypes, the axis and the
reduction are checked at trace time, with errors naming ``fastloss.jax.<loss>``.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from .. import _ranking
from .._autodiff import value_and_grad
from .._validate import fail, reduction_code

_NUMPY = {"listnet": _ranking.listnet, "listmle": _ranking.listmle}


def _checked(fn, scores, relevance, mask, axis, reduction):
    """The arrays as JAX arrays and the axis normalised, after the trace-time checks."""
    name = f"jax.{fn}"
    scores, relevance = jnp.asarray(scores), jnp.asarray(relevance)
    if scores.dtype not in (jnp.float32, jnp.float64):
        fail(name, f"scores must be float32 or float64, got dtype {scores.dtype}", TypeError)
    if relevance.shape != scores.shape:
        fail(name, f"relevance must have the shape of scores {scores.shape}, got "
                   f"{relevance.shape}")
    if relevance.dtype != scores.dtype:
        fail(name, f"relevance must have the dtype of scores ({scores.dtype}), got "
                   f"{relevance.dtype}", TypeError)
    if mask is not None:
        mask = jnp.asarray(mask)
        if mask.dtype != jnp.bool_:
            fail(name, f"mask must be a boolean array (True: a valid item), got dtype "
                       f"{mask.dtype}", TypeError)
        if mask.shape != scores.shape:
            fail(name, f"mask must have the shape of scores {scores.shape}, got {mask.shape}")
    if scores.ndim == 0:
        fail(name, "scores must have an item axis (ndim >= 1), got a 0-d array")
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        fail(name, f"axis must be an integer, got {axis!r}", TypeError)
    if not -scores.ndim <= axis < scores.ndim:
        fail(name, f"axis {axis} is out of range for scores with {scores.ndim} dimensions")
    reduction_code(name, reduction)
    return scores, relevance, mask, int(axis) % scores.ndim


@functools.lru_cache(maxsize=None)
def _loss(fn: str, has_mask: bool, has_weight: bool, axis: int, reduction: str):
    """The custom_vjp of one loss for one call signature."""
    np_fn = _NUMPY[fn]
    none = reduction == "none"

    def kwargs(extra):
        extra = list(extra)
        mask = np.asarray(extra.pop(0)) if has_mask else None
        weight = np.asarray(extra.pop(0)) if has_weight else None
        return {"axis": axis, "mask": mask, "sample_weight": weight, "reduction": reduction}

    def loss_struct(scores):
        shape = scores.shape[:axis] + scores.shape[axis + 1:] if none else ()
        return jax.ShapeDtypeStruct(shape, scores.dtype)

    def host_value(scores, relevance, *extra):
        return np.asarray(np_fn(np.asarray(scores), np.asarray(relevance), **kwargs(extra)))

    def host_value_and_grad(scores, relevance, *extra):
        value, grad = value_and_grad(np_fn)(np.asarray(scores), np.asarray(relevance),
                                            **kwargs(extra))
        return np.asarray(value), np.asarray(grad)

    @jax.custom_vjp
    def f(scores, relevance, *extra):
        return jax.pure_callback(host_value, loss_struct(scores), scores, relevance, *extra,
                                 vmap_method="sequential")

    def fwd(scores, relevance, *extra):
        value, grad = jax.pure_callback(
            host_value_and_grad,
            (loss_struct(scores), jax.ShapeDtypeStruct(scores.shape, scores.dtype)),
            scores, relevance, *extra, vmap_method="sequential")
        return value, (grad, len(extra))

    def bwd(residual, ct):
        grad, n_extra = residual
        ct = jnp.expand_dims(ct, axis) if none else ct
        return ((grad * ct).astype(grad.dtype), None) + (None,) * n_extra

    f.defvjp(fwd, bwd)
    return f


def _run(fn, scores, relevance, axis, mask, reduction, sample_weight):
    scores, relevance, mask, axis = _checked(fn, scores, relevance, mask, axis, reduction)
    extra = () if mask is None else (mask,)
    if sample_weight is not None:
        loss_shape = scores.shape[:axis] + scores.shape[axis + 1:]
        try:
            weight = jnp.broadcast_to(jnp.asarray(sample_weight, scores.dtype), loss_shape)
        except ValueError:
            fail(f"jax.{fn}", f"sample_weight of shape {jnp.shape(sample_weight)} does not "
                              f"broadcast to the list shape {loss_shape}")
        extra += (weight,)
    f = _loss(fn, mask is not None, sample_weight is not None, axis, reduction)
    return f(scores, relevance, *extra)


def listnet(scores, relevance, *, axis=-1, mask=None, reduction="mean", sample_weight=None):
    """:func:`fastloss.listnet` for JAX arrays (a ``jax.pure_callback`` path for now: see this
    module's doc); differentiable with respect to ``scores``."""
    return _run("listnet", scores, relevance, axis, mask, reduction, sample_weight)


def listmle(scores, relevance, *, axis=-1, mask=None, reduction="mean", sample_weight=None):
    """:func:`fastloss.listmle` for JAX arrays (a ``jax.pure_callback`` path for now: see this
    module's doc); differentiable with respect to ``scores``."""
    return _run("listmle", scores, relevance, axis, mask, reduction, sample_weight)
