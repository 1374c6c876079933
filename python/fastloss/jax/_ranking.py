"""fastloss.jax's listwise ranking losses (``listnet``, ``listmle``): the ``jax.pure_callback``
path of the embedding losses (see ``_metric.py``), not yet the XLA FFI custom call.

Each call is a ``jax.custom_vjp`` of :func:`._host.host_loss` (the cotangent taken per list
for ``reduction="none"``). Only the scores are differentiable; the relevance labels, the mask
and the sample weights get no cotangent. Shapes, dtypes, the axis and the
reduction are checked at trace time, with errors naming ``fastloss.jax.<loss>``.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from .. import _ranking
from .._validate import fail, reduction_code
from ._host import host_loss, list_loss_struct

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
    """The custom_vjp of one loss for one call signature: (scores, relevance[, mask][, weight])."""
    none = reduction == "none"

    def arguments(args):
        extra = list(args[2:])
        mask = extra.pop(0) if has_mask else None
        weight = extra.pop(0) if has_weight else None
        return args[:2], {"axis": axis, "mask": mask, "sample_weight": weight,
                          "reduction": reduction}

    return host_loss(_NUMPY[fn], arguments, 2 + has_mask + has_weight, (0,),
                     lambda args: list_loss_struct(args[0], axis, none),
                     lambda ct: jnp.expand_dims(ct, axis) if none else ct)


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
