"""The XLA custom call behind fastloss.jax: one FFI target, ``fastloss_loss``, registered for the
CPU platform at import, whose handler (``bindings/xla_ffi.cc``) runs the fused kernel on XLA's
own buffers. This module turns a validated :class:`~fastloss.jax._plan.Plan` into the call's
operands, results and static attributes (the contract is written at the top of xla_ffi.cc).
"""

from __future__ import annotations

import jax
import numpy as np

from .. import _core
from ._plan import Plan

TARGET = "fastloss_loss"

# The `operands` bits of the handler: which optional buffers follow x and target.
_AUX0, _AUX1, _WEIGHT, _LABELS = 1, 2, 4, 8
_OPTIONAL = ("aux0", "aux1", "sample_weight", "labels")  # their order after x and target

for _name, _capsule in _core.xla_ffi_handlers().items():
    jax.ffi.register_ffi_target(_name, _capsule, platform="cpu")


def _attributes(plan: Plan, operands: dict) -> dict:
    bits = (_AUX0 * ("aux0" in operands) | _AUX1 * ("aux1" in operands)
            | _WEIGHT * ("sample_weight" in operands) | _LABELS * ("labels" in operands))
    return dict(
        name=f"jax.{plan.name}", kernel=np.int64(plan.kernel_id),
        reduction=np.int64(plan.reduction),
        # padded to one element: an attribute array is never empty
        params=np.array(plan.params + (0.0,), np.float64),
        axis=np.int64(plan.axis if plan.axis is not None else -1),
        has_ignore_index=np.int64(plan.ignore_index is not None),
        ignore_index=np.int64(plan.ignore_index if plan.ignore_index is not None else 0),
        operands=np.int64(bits), aux0_name=plan.aux_names[0], aux1_name=plan.aux_names[1],
        aux0_check=np.int64(plan.aux0_check),
        aux0_value=np.float64(plan.aux0_value), domain=plan.domain)


def call(plan: Plan, with_grad: bool, x, target, operands: dict, extra_grads: int = 0):
    """The loss (and, with_grad, d loss / d x, then `extra_grads` more gradients of x's shape:
    d loss / d target for the likelihoods and a target of logits, d loss / d aux0 for
    gaussian_nll's var) of one kernel pass, as a JAX expression.

    `operands` maps "aux0", "aux1", "sample_weight" and "labels" to arrays (absent: not given).
    Under vmap, a loss that is not reduced and has no operand of the unbatched shape runs as one
    call over the whole batch; any other is one call per batch element (a reduced loss must not
    be reduced across the batch, and a per-class or broadcast operand has no batch axis to take).
    """
    loss = jax.ShapeDtypeStruct(plan.loss_shape(x.shape), x.dtype)
    results = (loss, jax.ShapeDtypeStruct(x.shape, x.dtype)) if with_grad else loss
    if with_grad and extra_grads:  # (the target's, then the operand's)
        results = results + (jax.ShapeDtypeStruct(x.shape, x.dtype),) * extra_grads
    vmap_method = "broadcast_all" if plan.reduction == 0 and not operands else "sequential"
    order = [key for key in _OPTIONAL if key in operands]
    # A row loss writes its gradient over the logits (the row kernels read each row before
    # writing it): when the logits are an intermediate that nothing else reads - the output of
    # the last layer in a training step - XLA hands their buffer over, and the gradient needs
    # no new memory (a fresh buffer costs a page fault per 4 KiB, more than the kernel's
    # traffic); otherwise XLA copies the logits first.
    # (Not for a target of logits: those kernels read both logits again after writing.)
    aliases = {0: 1} if with_grad and plan.row and not plan.pair else None
    ffi = jax.ffi.ffi_call(TARGET, results, vmap_method=vmap_method,
                           input_output_aliases=aliases)
    return ffi(x, target, *(operands[k] for k in order), **_attributes(plan, operands))
