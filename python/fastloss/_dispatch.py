"""Arrays in, views to the native kernels, arrays out.

Every public loss ends in one call to :func:`pointwise` or :func:`rows`. They check shapes and
dtypes once, broadcast the optional operands as views (never copies), allocate the outputs, call
the fused kernel, and turn its result into arrays of the input's dtype. Arrays are NumPy arrays,
or :class:`~fastloss._device.DeviceArray` views for arrays on another device: the few operations
that differ (broadcasting, moving an axis, allocating, checking weights) go through the helpers
below, and outputs are allocated on the input's device. When the call runs under
:func:`fastloss.value_and_grad` the same kernel pass also writes the gradient (see
``GradRequest``).
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field

import numpy as np

from . import _core, _device
from ._device import DeviceArray
from ._validate import fail, reduction_code, weight_array, weight_total, weights

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))

# The loss table (cpp/include/fastloss/losses.def): kernel name -> its facts and run() id.
KERNELS: dict[str, dict] = _core.kernels()


@dataclass
class GradRequest:
    """Asks the next kernel call for d(grad_output * loss)/d(array argument k), k in argnums.

    ``value_and_grad`` installs one in a context variable around a call of a public loss; the
    dispatcher fills ``grads`` in the same kernel pass that computes the loss. A context variable
    (rather than a hidden keyword) keeps every public signature exactly what it documents.
    """

    grad_output: object = None
    argnums: tuple = (0,)     # positions of the array arguments to differentiate
    grad_into: tuple = (None,)  # per position: where to write its gradient (None: a new array)
    grads: tuple | None = None
    calls: int = field(default=0)


_request: contextvars.ContextVar[GradRequest | None] = contextvars.ContextVar(
    "fastloss_grad_request", default=None)


# id(array) -> the dtype the caller passed, for float16/bfloat16 arguments computed in float32
# copies (set by _arrays.any_array around the call), so that messages name what was passed.
_passed_dtypes: contextvars.ContextVar[dict | None] = contextvars.ContextVar(
    "fastloss_passed_dtypes", default=None)


def _passed_dtype(a) -> str:
    names = _passed_dtypes.get()
    return names.get(id(a), str(a.dtype)) if names else str(a.dtype)


def as_array(fn: str, name: str, x) -> np.ndarray | DeviceArray:
    """x as an ndarray (arrays of other libraries were already turned into zero-copy NumPy views
    or DeviceArrays by _arrays.any_array; this only handles lists and scalars)."""
    return x if isinstance(x, (np.ndarray, DeviceArray)) else np.asarray(x)


def empty(shape: tuple, dtype, like):
    """An uninitialised output on `like`'s device (large CPU outputs reuse the memory of earlier
    ones: bindings/output_buffers.cc)."""
    if isinstance(like, DeviceArray):
        return _device.empty(shape, dtype, like)
    return _core.new_output(shape, np.dtype(dtype).name)


def constant(value: float, like):
    """A 0-d array of `like`'s dtype and device holding `value` (a broadcast parameter)."""
    if isinstance(like, DeviceArray):
        return _device.constant(value, like.dtype, like)
    return np.asarray(value, dtype=like.dtype)


def checked_weights(fn: str, name: str, value, *, length: int | None = None):
    """fastloss._validate.weights, on the device of `value`."""
    if isinstance(value, DeviceArray):
        return _device.check_weights(fn, name, value, length)
    return weights(fn, name, value, length=length)


def all_elements(a, test) -> bool:
    """Whether `test(array)` (written with operators only) holds for every element of `a`."""
    return bool(test(a.source if isinstance(a, DeviceArray) else a).all())


def _class_axis_last(a, axis: int):
    """A view of `a` with axis `axis` (normalised) moved last; `a` itself when it already is
    (np.moveaxis costs microseconds even then, a third of a small call)."""
    if axis == a.ndim - 1:
        return a
    if isinstance(a, DeviceArray):
        return a.moveaxis(axis, -1)
    return a.transpose([d for d in range(a.ndim) if d != axis] + [axis])


def float_input(fn: str, name: str, x) -> np.ndarray:
    a = as_array(fn, name, x)
    if a.dtype.char not in "fd" or a.dtype not in _FLOATS:  # the first test is the fast one
        fail(fn, f"{name} must be float32 or float64, got dtype {a.dtype}", TypeError)
    return a


def _same_shape(fn: str, a_name: str, a: np.ndarray, b_name: str, b: np.ndarray):
    if a.shape != b.shape:
        fail(fn, f"{b_name} must have the shape of {a_name} {a.shape}, got {b.shape}")


def _broadcast(fn: str, name: str, a: np.ndarray, shape: tuple) -> np.ndarray:
    try:
        return a.broadcast_to(shape) if isinstance(a, DeviceArray) else np.broadcast_to(a, shape)
    except ValueError:
        fail(fn, f"{name} of shape {a.shape} does not broadcast to the loss shape {shape}")


def _sample_weight(fn: str, sample_weight, loss_shape: tuple):
    """Broadcast view of the weights and the sum of the broadcast weights."""
    if sample_weight is None:
        return None, 0.0
    if isinstance(sample_weight, DeviceArray):
        w = _device.check_weights(fn, "sample_weight", sample_weight, None)
        view = _broadcast(fn, "sample_weight", w, loss_shape)
        n = int(np.prod(loss_shape, dtype=np.int64))
        return view, _device.total(w) * (n / w.size) if w.size else 0.0
    w = weight_array(fn, "sample_weight", sample_weight)
    view = _broadcast(fn, "sample_weight", w, loss_shape)
    # One native pass over the view checks the values and sums them: its broadcast dimensions
    # (from broadcasting to the loss shape, or in the caller's own view) are read once, so this
    # costs O(distinct weights) and allocates nothing of their size.
    return view, weight_total(fn, "sample_weight", view)


def _upstream(fn: str, request: GradRequest, code: int, loss_shape: tuple, like):
    """(per-element grad_output view or None, scalar grad_output)."""
    g = request.grad_output
    if g is None:
        return None, 1.0
    if isinstance(like, DeviceArray) and hasattr(g, "__dlpack__"):
        g = _device.wrap_like(fn, "grad_output", g, like)
        if code != 0:
            if g.size != 1:
                fail(fn, f"grad_output of a reduced loss must be a scalar, got shape {g.shape}")
            return None, float(g.source.item())
    if code != 0:  # reduced loss: a scalar upstream gradient
        a = np.asarray(g)
        _real_grad_output(fn, a)
        if a.size != 1:
            fail(fn, f"grad_output of a reduced loss must be a scalar, got shape {a.shape}")
        return None, float(a.reshape(()))
    a = as_array(fn, "grad_output", g)
    _real_grad_output(fn, a)
    if a.dtype == np.float16:  # computed in float32, as half-precision inputs are
        if isinstance(a, DeviceArray):
            fail(fn, "grad_output must be float32, float64 or an integer array, got dtype "
                     "float16", TypeError)
        a = a.astype(np.float32)
    if not a.dtype.isnative:
        fail(fn, f"grad_output must be in native byte order, got dtype {a.dtype.str}", TypeError)
    return _broadcast(fn, "grad_output", a, loss_shape), 1.0


def _real_grad_output(fn: str, a: np.ndarray) -> None:
    """grad_output must hold real numbers: not strings, bools, complex numbers or objects."""
    if a.dtype.kind not in "fiu":
        fail(fn, f"grad_output must be real, got dtype {a.dtype}", TypeError)


def _gradient_buffers(fn: str, kernel: str, request: GradRequest, arrays: tuple, names: tuple,
                      others: dict, *, in_place_ok: bool) -> tuple:
    """The arrays the kernel writes the gradients of `arrays` into (None where not requested):
    each `request.grad_into` once checked, else a new one. Argument 1 (the target) has a
    gradient only where the kernel's table entry says so. Buffers must not overlap an operand
    (`others` by name) or each other; with in_place_ok (the row losses) the first may be the
    logits themselves, the same view."""
    buffers = [None] * len(arrays)
    for position, into in zip(request.argnums, request.grad_into):
        if not 0 <= position < len(arrays):
            fail(fn, f"argnums {position} is not an array argument of {fn} (it takes "
                     f"{len(arrays)}: {', '.join(names)})")
        if position == 1 and not KERNELS[kernel]["target_differentiable"]:
            fail(fn, f"{names[1]} has no gradient (argnums=1): only the losses of pred - target "
                     f"differentiate their target")
        label = "grad_into" if len(request.argnums) == 1 else f"grad_into[{position}]"
        operands = {"the input": arrays[0], **dict(zip(names[1:], arrays[1:])), **others}
        operands.update({f"the gradient of {names[k]}": b for k, b in enumerate(buffers)
                         if b is not None})
        buffers[position] = _gradient_buffer(fn, label, into, arrays[position], names[position],
                                             operands, in_place_ok=in_place_ok and position == 0)
    return tuple(buffers)


def _gradient_buffer(fn: str, label: str, into, x, x_name: str, inputs: dict, *,
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


def _take_request(fn: str) -> GradRequest | None:
    request = _request.get()
    if request is not None:
        request.calls += 1
        if request.calls > 1:
            fail(fn, "value_and_grad/grad differentiate a single fastloss loss call", TypeError)
    return request


def _result(value: float, loss_out, like, code: int):
    if code == 0:
        return loss_out
    if isinstance(like, DeviceArray):
        return _device.scalar_result(value, like.dtype, like)
    return np.asarray(value, dtype=like.dtype)


def pointwise(fn: str, kernel: str, x: np.ndarray, target, *, x_name: str, target_name: str = "target",
              labels: bool = False, param=None, param_name: str = "", params=(),
              reduction="mean", sample_weight=None, domain_error=None):
    """Runs a pointwise loss. `x` is already a float array; `target` must match its shape and
    dtype (or, with labels=True, may be any real dtype: label values are checked by the kernel).
    `param` is an optional per-element parameter broadcast to the shape; `domain_error(value)`
    formats the message for an element the kernel reports outside the loss's domain."""
    code = reduction_code(fn, reduction)
    y = as_array(fn, target_name, target)
    _same_shape(fn, x_name, x, target_name, y)
    if labels:
        if y.dtype.kind not in "fiu" or y.dtype == np.float16:
            fail(fn, f"{target_name} must be a real array, got dtype {y.dtype}", TypeError)
        if not y.dtype.isnative:
            fail(fn, f"{target_name} must be in native byte order, got dtype {y.dtype.str}",
                 TypeError)
    elif y.dtype != x.dtype or _passed_dtype(y) != _passed_dtype(x):
        fail(fn, f"{target_name} must have the dtype of {x_name} ({_passed_dtype(x)}), got "
                 f"{_passed_dtype(y)}", TypeError)
    shape = x.shape
    p = None if param is None else _broadcast(fn, param_name, param, shape)
    w, w_total = _sample_weight(fn, sample_weight, shape)
    request = _take_request(fn)
    upstream, upstream_scalar = (None, 1.0)
    grads = ()
    if request is not None:
        upstream, upstream_scalar = _upstream(fn, request, code, shape, x)
        grads = _gradient_buffers(fn, kernel, request, (x, y), (x_name, target_name),
                                  {param_name: p, "sample_weight": w, "grad_output": upstream},
                                  in_place_ok=False)
    loss_out = empty(shape, x.dtype, like=x) if code == 0 else None
    value, first_invalid, _ = _core.run(
        KERNELS[kernel]["id"], (x, y), grads, (p,), list(params), w, w_total, upstream,
        upstream_scalar, code, None, loss_out)
    if first_invalid >= 0:
        index = np.unravel_index(first_invalid, shape) if shape else ()
        bad_x, bad_y = x[index].item(), y[index].item()
        fail(fn, f"{domain_error(bad_x, bad_y)} at index {tuple(int(i) for i in index)}")
    if request is not None:
        request.grads = tuple(grads[k] for k in request.argnums)
    return _result(value, loss_out, x, code)


def class_axis(fn: str, logits: np.ndarray, axis) -> int:
    if logits.ndim == 0:
        fail(fn, "logits must have a class axis (ndim >= 1), got a 0-d array")
    ax = axis
    if isinstance(ax, (bool, np.bool_)) or not isinstance(ax, (int, np.integer)):
        fail(fn, f"axis must be an integer, got {axis!r}", TypeError)
    if not -logits.ndim <= ax < logits.ndim:
        fail(fn, f"axis {axis} is out of range for logits with {logits.ndim} dimensions")
    return int(ax) % logits.ndim


def rows(fn: str, kernel: str, logits: np.ndarray, target, *, axis=-1, dense_ok: bool = False,
         class_weight=None, alpha_array=None, params=(), ignore_index=None, reduction="mean",
         sample_weight=None):
    """Runs a row loss over the class axis `axis` of `logits`. Integer targets are class
    indices of the logits' shape without that axis; with dense_ok, float targets of the logits'
    shape are probabilities (kernel name + '_dense'). `params` are the kernel's hyper-parameters
    in the order its header documents; `alpha_array` a per-class value of each row's label."""
    code = reduction_code(fn, reduction)
    if ignore_index is not None and not -2**63 <= ignore_index < 2**63:
        fail(fn, f"ignore_index must be a 64-bit integer, got {ignore_index}")
    ax = class_axis(fn, logits, axis)
    classes = logits.shape[ax]
    y = as_array(fn, "target", target)
    outer_shape = logits.shape[:ax] + logits.shape[ax + 1:]
    if not y.dtype.isnative:
        fail(fn, f"target must be in native byte order, got dtype {y.dtype.str}", TypeError)
    if y.dtype.kind in "iu":
        dense = False
        if y.shape != outer_shape:
            fail(fn, f"class-index target must have the logits' shape without axis {ax}, "
                     f"{outer_shape}, got {y.shape}")
    elif dense_ok and y.dtype.kind == "f":
        dense = True
        _same_shape(fn, "logits", logits, "target", y)
        if y.dtype != logits.dtype or _passed_dtype(y) != _passed_dtype(logits):
            fail(fn, f"probability target must have the dtype of logits "
                     f"({_passed_dtype(logits)}), got {_passed_dtype(y)}", TypeError)
    else:
        wanted = "integer class indices or float probabilities" if dense_ok else "integer class indices"
        fail(fn, f"target must hold {wanted}, got dtype {y.dtype}", TypeError)
    if class_weight is not None:
        class_weight = checked_weights(fn, "class_weight", class_weight, length=classes)
    x = _class_axis_last(logits, ax)
    y_view = _class_axis_last(y, ax) if dense else y
    w, _ = _sample_weight(fn, sample_weight, outer_shape)
    request = _take_request(fn)
    name = kernel + ("_dense" if dense else "_sparse") if dense_ok else kernel
    upstream, upstream_scalar = (None, 1.0)
    grad_out = grad_view = None
    if request is not None:
        upstream, upstream_scalar = _upstream(fn, request, code, outer_shape, logits)
        grad_out, _ = _gradient_buffers(fn, name, request, (logits, y), ("logits", "target"), {
            "class_weight": class_weight, "alpha": alpha_array, "sample_weight": w,
            "grad_output": upstream}, in_place_ok=True)
        grad_view = _class_axis_last(grad_out, ax)
    loss_out = empty(outer_shape, logits.dtype, like=logits) if code == 0 else None
    value, bad_row, bad_label = _core.run(
        KERNELS[name]["id"], (x, y_view), (grad_view,), (class_weight, alpha_array),
        list(params), w, 0.0, upstream, upstream_scalar, code, ignore_index, loss_out)
    if bad_row >= 0:
        index = tuple(int(i) for i in np.unravel_index(bad_row, outer_shape)) if outer_shape else ()
        if isinstance(y, np.ndarray):  # the driver reads uint64 labels above 2^63 as 2^63 - 1
            bad_label = int(y[index])
        fail(fn, f"target label {bad_label} out of range [0, {classes}) at index {index}")
    if request is not None:
        request.grads = (grad_out,)
    return _result(value, loss_out, logits, code)


