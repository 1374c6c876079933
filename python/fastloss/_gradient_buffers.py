"""The outputs of a kernel call: new arrays on the input's device, and the gradient buffers of
a ``value_and_grad`` request (a caller's ``grad_into`` checked, else a new array).

Split from ``_dispatch`` (which calls these for both kernel families and the divergences'
dispatcher, ``_pair_rows``) so that each file keeps one job.
"""

from __future__ import annotations

import numpy as np

from . import _core, _device
from ._device import DeviceArray
from ._validate import fail

# The loss table (cpp/include/fastloss/losses.def): kernel name -> its facts and run() id.
KERNELS: dict[str, dict] = _core.kernels()


def empty(shape: tuple, dtype, like):
    """An uninitialised output on `like`'s device (large CPU outputs reuse the memory of earlier
    ones: bindings/output_buffers.cc)."""
    if isinstance(like, DeviceArray):
        return _device.empty(shape, dtype, like)
    return _core.new_output(shape, np.dtype(dtype).name)


def gradient_buffers(fn: str, kernel: str, request, arrays: tuple, names: tuple,
                      others: dict, *, in_place_ok: bool, without_gradient: tuple = ()) -> tuple:
    """The arrays the kernel writes the gradients of `arrays` into (None where not requested):
    each `request.grad_into` once checked, else a new one. Argument 1 (the target) has a
    gradient only where the kernel's table entry says so; `without_gradient` names the array
    arguments after `arrays` that have none (margin_ranking's preference). Buffers must not
    overlap an operand (`others` by name) or each other; with in_place_ok (the row losses) the
    first may be the logits themselves, the same view."""
    buffers = [None] * len(arrays)
    for position, into in zip(request.argnums, request.grad_into):
        if 0 <= position - len(arrays) < len(without_gradient):
            fail(fn, f"{without_gradient[position - len(arrays)]} has no gradient "
                     f"(argnums={position})")
        if not 0 <= position < len(arrays):
            fail(fn, f"argnums {position} is not an array argument of {fn} (it takes "
                     f"{len(arrays)}: {', '.join(names)})")
        if position == 1 and not KERNELS[kernel]["target_differentiable"]:
            fail(fn, f"{names[1]} has no gradient (argnums=1): only the losses of pred - target "
                     f"and the likelihoods that PyTorch differentiates in it differentiate their "
                     f"target")
        label = "grad_into" if len(request.argnums) == 1 else f"grad_into[{position}]"
        operands = {"the input": arrays[0], **dict(zip(names[1:], arrays[1:])), **others}
        operands.update({f"the gradient of {names[k]}": b for k, b in enumerate(buffers)
                         if b is not None})
        buffers[position] = gradient_buffer(fn, label, into, arrays[position], names[position],
                                             operands, in_place_ok=in_place_ok and position == 0)
    return tuple(buffers)


def gradient_buffer(fn: str, label: str, into, x, x_name: str, inputs: dict, *,
                     in_place_ok: bool):
    """`into` checked as the gradient buffer of `x`, else a new one. `inputs` are the operands by
    name, which the buffer must not overlap; with in_place_ok it may be `x` itself, the same
    view."""
    if into is None:
        return empty(x.shape, x.dtype, like=x)
    if isinstance(x, DeviceArray) != isinstance(into, DeviceArray):
        fail(fn, f"{label} must be on the device of the input")
    if not isinstance(into, (np.ndarray, DeviceArray)):
        fail(fn, f"{label} must be an array, got {type(into).__name__}", TypeError)
    if into.shape != x.shape or into.dtype != x.dtype:
        whose = "the input's" if in_place_ok or label == "grad_into" else f"{x_name}'s"
        fail(fn, f"{label} must have {whose} shape {x.shape} and dtype {x.dtype}, got "
                 f"{into.shape} and {into.dtype}")
    if isinstance(into, DeviceArray):
        return into  # overlap is checked on the host only
    if not into.flags.writeable:
        fail(fn, f"{label} is read-only")
    same_view = (into.__array_interface__["data"][0] == x.__array_interface__["data"][0]
                 and into.strides == x.strides)
    if same_view and not in_place_ok:
        fail(fn, f"{label} must not be the input itself (in place: the row losses' logits only)")
    overlapping = {name: a for name, a in inputs.items() if not (same_view and a is x)}
    for name, a in overlapping.items():
        if isinstance(a, np.ndarray) and np.may_share_memory(into, a):
            fail(fn, f"{label} overlaps {name}")
    return into
