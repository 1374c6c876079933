"""fastloss.jax's structured hinge: the ``jax.pure_callback`` path of the listwise ranking losses
(see ``_ranking.py``), not yet the XLA FFI custom call.

A ``jax.custom_vjp`` of :func:`._host.host_loss`. Only the scores are differentiable; the
target, the costs and the sample weights get no cotangent. Shapes, dtypes, the axis, ``rescaling``, the cost layout and the reduction are checked at
trace time, with errors naming ``fastloss.jax.structured_hinge``; the costs' values (finite and
>= 0) and the targets' range are checked on the host, inside the call.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from .. import _structured
from .._validate import choice, fail, reduction_code
from ._host import host_loss, list_loss_struct

_NAME = "jax.structured_hinge"


def _checked(scores, target, cost, axis, rescaling, cost_per_sample, reduction):
    """The arrays as JAX arrays, the axis normalised and the cost's layout (None, "rows" or
    "table"), after the trace-time checks."""
    scores, target = jnp.asarray(scores), jnp.asarray(target)
    if scores.dtype not in (jnp.float32, jnp.float64):
        fail(_NAME, f"scores must be float32 or float64, got dtype {scores.dtype}", TypeError)
    if scores.ndim == 0:
        fail(_NAME, "scores must have a candidate axis (ndim >= 1), got a 0-d array")
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        fail(_NAME, f"axis must be an integer, got {axis!r}", TypeError)
    if not -scores.ndim <= axis < scores.ndim:
        fail(_NAME, f"axis {axis} is out of range for scores with {scores.ndim} dimensions")
    axis = int(axis) % scores.ndim
    if not jnp.issubdtype(target.dtype, jnp.integer):
        fail(_NAME, f"target must hold integer class indices, got dtype {target.dtype}",
             TypeError)
    row_shape = scores.shape[:axis] + scores.shape[axis + 1:]
    if target.shape != row_shape:
        fail(_NAME, f"target must have the scores' shape without axis {axis}, {row_shape}, got "
                    f"{target.shape}")
    choice(_NAME, "rescaling", rescaling, ("margin", "slack"))
    reduction_code(_NAME, reduction)
    if cost is None:
        return scores, target, None, axis, None
    cost = jnp.asarray(cost)
    K = scores.shape[axis]
    as_table, as_rows = cost.shape == (K, K), cost.shape == scores.shape
    if cost_per_sample is None and as_table and as_rows:
        fail(_NAME, f"a cost of shape {cost.shape} is ambiguous for scores of that shape: pass "
                    f"cost_per_sample=True or False")
    per_sample = as_rows if cost_per_sample is None else bool(cost_per_sample)
    if not (as_rows if per_sample else as_table):
        fail(_NAME, f"cost must have shape ({K}, {K}) (a table) or the scores' shape "
                    f"{scores.shape} (each sample's costs), got {cost.shape}")
    if per_sample and cost.dtype != scores.dtype:
        fail(_NAME, f"per-sample cost must have the scores' dtype ({scores.dtype}), got "
                    f"{cost.dtype}", TypeError)
    return scores, target, cost.astype(scores.dtype), axis, "rows" if per_sample else "table"


@functools.lru_cache(maxsize=None)
def _loss(layout, has_weight: bool, axis: int, rescaling: str, reduction: str):
    """The custom_vjp of one call signature: (scores, target[, cost][, weight])."""
    none = reduction == "none"

    def arguments(args):
        extra = list(args[2:])
        cost = extra.pop(0) if layout else None
        weight = extra.pop(0) if has_weight else None
        return args[:2], {"cost": cost, "axis": axis, "rescaling": rescaling,
                          "cost_per_sample": None if layout is None else layout == "rows",
                          "reduction": reduction, "sample_weight": weight}

    return host_loss(_structured.structured_hinge, arguments,
                     2 + (layout is not None) + has_weight, (0,),
                     lambda args: list_loss_struct(args[0], axis, none),
                     lambda ct: jnp.expand_dims(ct, axis) if none else ct)


def structured_hinge(scores, target, *, cost=None, rescaling="margin", cost_per_sample=None,
                     axis=-1, reduction="mean", sample_weight=None):
    """:func:`fastloss.structured_hinge` for JAX arrays (a ``jax.pure_callback`` path for now:
    see this module's doc); differentiable with respect to ``scores``."""
    scores, target, cost, axis, layout = _checked(scores, target, cost, axis, rescaling,
                                                  cost_per_sample, reduction)
    extra = () if cost is None else (cost,)
    if sample_weight is not None:
        loss_shape = scores.shape[:axis] + scores.shape[axis + 1:]
        try:
            weight = jnp.broadcast_to(jnp.asarray(sample_weight, scores.dtype), loss_shape)
        except ValueError:
            fail(_NAME, f"sample_weight of shape {jnp.shape(sample_weight)} does not broadcast "
                        f"to the sample shape {loss_shape}")
        extra += (weight,)
    return _loss(layout, sample_weight is not None, axis, rescaling, reduction)(scores, target,
                                                                                *extra)
