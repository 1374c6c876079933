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
from ._gradient_buffers import KERNELS, empty, gradient_buffers
from ._validate import fail, reduction_code, weight_array, weight_total, weights

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))

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


def constant(value: float, like):
    """A 0-d array of `like`'s dtype and device holding `value` (a broadcast parameter)."""
    if isinstance(like, DeviceArray):
        return _device.constant(value, like.dtype, like)
    return np.asarray(value, dtype=like.dtype)


def converted(fn: str, name: str, a, dtype):
    """`a` in `dtype`, on its device: itself when it already is, else a contiguous copy."""
    if a.dtype == dtype:
        return a
    if isinstance(a, DeviceArray):
        return _device.astype(fn, name, a, dtype)
    return np.ascontiguousarray(a, dtype=dtype)


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


def _sum_to(full: np.ndarray, out: np.ndarray) -> None:
    """Writes into `out` the sum of `full` over the axes along which `out`'s shape broadcast to
    `full`'s (a broadcast operand's gradient). NumPy sums a given shape in a fixed order, so the
    bits depend on the shapes only. (The simplest correct first version: the kernel writes the
    full-shape gradient, this sums it; a reducing driver would save the temporary.)"""
    lead = full.ndim - out.ndim
    axes = tuple(range(lead)) + tuple(lead + d for d, n in enumerate(out.shape)
                                      if n == 1 and full.shape[lead + d] != 1)
    out[...] = np.sum(full, axis=axes, keepdims=True).reshape(out.shape) if axes else full


def pointwise(fn: str, kernel: str, x: np.ndarray, target, *, x_name: str, target_name: str = "target",
              labels: bool = False, param=None, param_name: str = "", params=(),
              reduction="mean", sample_weight=None, domain_error=None, divisor=None,
              param_view=None, param_positional=False):
    """Runs a pointwise loss. `x` is already a float array; `target` must match its shape and
    dtype (or, with labels=True, may be any real dtype: label values are checked by the kernel).
    `param` is an optional per-element parameter broadcast to the shape (the third array
    argument, argnums=2, where the kernel differentiates it); `domain_error(value)` formats the
    message for an element the kernel reports outside the loss's domain. `divisor` (with
    reduction "sum") divides the sum and its gradient (kl_div's batchmean); `param_view` is a
    view of `param` in the layout that broadcasts to the shape, where `param`'s own does not
    (gaussian_nll's var without the last axis). `param_positional`: `param` is the third array
    argument without a gradient (margin_ranking's preference), for argnums=2's message."""
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
    p = None if param is None else _broadcast(
        fn, param_name, param if param_view is None else param_view, shape)
    w, w_total = _sample_weight(fn, sample_weight, shape)
    request = _take_request(fn)
    upstream, upstream_scalar = (None, 1.0)
    grads = kernel_grads = ()
    if request is not None:
        upstream, upstream_scalar = _upstream(fn, request, code, shape, x)
        arrays, names = (x, y), (x_name, target_name)
        if param is not None and KERNELS[kernel]["aux"] == "differentiable":
            arrays, names = (x, y, param), (x_name, target_name, param_name)
        grads = gradient_buffers(fn, kernel, request, arrays, names,
                                  {param_name: p, "sample_weight": w, "grad_output": upstream},
                                  in_place_ok=False,
                                  without_gradient=(param_name,) if param_positional else ())
        kernel_grads = grads
        if len(grads) == 3 and grads[2] is not None and grads[2].shape != shape:
            kernel_grads = (*grads[:2], empty(shape, x.dtype, like=x))
    if divisor is not None:
        upstream_scalar = upstream_scalar / divisor if divisor else float("nan")
    loss_out = empty(shape, x.dtype, like=x) if code == 0 else None
    value, first_invalid, _ = _core.run(
        KERNELS[kernel]["id"], (x, y), kernel_grads, (p,), list(params), w, w_total, upstream,
        upstream_scalar, code, None, loss_out)
    if divisor is not None:
        value = value / divisor if divisor else float("nan")
    if kernel_grads is not grads:
        _sum_to(kernel_grads[2], grads[2] if param_view is None else
                grads[2].reshape(param_view.shape))
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
         sample_weight=None, x_name: str = "logits", target_name: str = "target", mask=None,
         cost_rows=None, cost_table=None):
    """Runs a row loss over the class axis `axis` of `logits`. Integer targets are class
    indices of the logits' shape without that axis; with dense_ok, float targets of the logits'
    shape are probabilities (kernel name + '_dense'). A kernel whose table entry takes a target
    per class takes only that: probabilities (``dense``) or lists of class indices ended by -1
    (``index_list``), of the logits' shape. `params` are the kernel's hyper-parameters in the
    order its header documents; `alpha_array` a per-class value of each row's label. The
    listwise ranking kernels (``relevance`` targets) take relevance labels of the scores' shape
    and dtype and an optional boolean `mask` of that shape (False: padding). A ``sparse_cost``
    kernel takes class indices and, checked by its caller, either `cost_rows` (the logits' shape
    and dtype) or a (C, C) `cost_table` (the logits' dtype)."""
    code = reduction_code(fn, reduction)
    if ignore_index is not None and not -2**63 <= ignore_index < 2**63:
        fail(fn, f"ignore_index must be a 64-bit integer, got {ignore_index}")
    ax = class_axis(fn, logits, axis)
    classes = logits.shape[ax]
    y = as_array(fn, "target", target)
    outer_shape = logits.shape[:ax] + logits.shape[ax + 1:]
    if not y.dtype.isnative:
        fail(fn, f"target must be in native byte order, got dtype {y.dtype.str}", TypeError)
    kind = "sparse" if dense_ok else KERNELS[kernel]["target"]
    if kind == "index_list":
        if y.dtype.kind not in "iu":
            fail(fn, f"target must hold integer class indices (each row's listed classes, then "
                     f"-1), got dtype {y.dtype}", TypeError)
        _same_shape(fn, x_name, logits, "target", y)
        dense = False
    elif kind in ("relevance", "relevance_order"):
        if y.dtype.kind != "f":
            fail(fn, f"{target_name} must hold float relevance labels of {x_name}' shape, got "
                     f"dtype {y.dtype}", TypeError)
        _same_shape(fn, x_name, logits, target_name, y)
        if y.dtype != logits.dtype or _passed_dtype(y) != _passed_dtype(logits):
            fail(fn, f"{target_name} must have the dtype of {x_name} ({_passed_dtype(logits)}), "
                     f"got {_passed_dtype(y)}", TypeError)
        dense = True
    elif kind == "dense":
        if y.dtype.kind != "f":
            fail(fn, f"target must hold float targets of {x_name}' shape, got dtype {y.dtype}",
                 TypeError)
        _same_shape(fn, x_name, logits, "target", y)
        if y.dtype != logits.dtype or _passed_dtype(y) != _passed_dtype(logits):
            fail(fn, f"target must have the dtype of {x_name} ({_passed_dtype(logits)}), got "
                     f"{_passed_dtype(y)}", TypeError)
        dense = True
    elif y.dtype.kind in "iu":
        dense = False
        if y.shape != outer_shape:
            fail(fn, f"class-index target must have the {x_name}' shape without axis {ax}, "
                     f"{outer_shape}, got {y.shape}")
    elif dense_ok and y.dtype.kind == "f":
        dense = True
        _same_shape(fn, x_name, logits, "target", y)
        if y.dtype != logits.dtype or _passed_dtype(y) != _passed_dtype(logits):
            fail(fn, f"probability target must have the dtype of {x_name} "
                     f"({_passed_dtype(logits)}), got {_passed_dtype(y)}", TypeError)
    else:
        wanted = "integer class indices or float probabilities" if dense_ok else "integer class indices"
        fail(fn, f"target must hold {wanted}, got dtype {y.dtype}", TypeError)
    ranked = kind in ("relevance", "relevance_order")
    if mask is not None:
        if not ranked:
            fail(fn, "mask is only taken by the listwise ranking losses")
        mask = as_array(fn, "mask", mask)
        if mask.dtype != np.bool_:
            fail(fn, f"mask must be a boolean array (True: a valid item), got dtype {mask.dtype}",
                 TypeError)
        _same_shape(fn, x_name, logits, "mask", mask)
    if class_weight is not None:
        class_weight = checked_weights(fn, "class_weight", class_weight, length=classes)
    x = _class_axis_last(logits, ax)
    per_class = dense or kind == "index_list"
    y_view = _class_axis_last(y, ax) if per_class else y
    w, _ = _sample_weight(fn, sample_weight, outer_shape)
    request = _take_request(fn)
    name = kernel + ("_dense" if dense else "_sparse") if dense_ok else kernel
    upstream, upstream_scalar = (None, 1.0)
    grad_out = grad_view = None
    if request is not None:
        upstream, upstream_scalar = _upstream(fn, request, code, outer_shape, logits)
        grad_out, _ = gradient_buffers(fn, name, request, (logits, y), (x_name, target_name), {
            "class_weight": class_weight, "alpha": alpha_array, "sample_weight": w,
            "grad_output": upstream, "mask": mask, "cost": cost_rows if cost_table is None
            else cost_table}, in_place_ok=True)
        grad_view = _class_axis_last(grad_out, ax)
    loss_out = empty(outer_shape, logits.dtype, like=logits) if code == 0 else None
    third = mask if mask is not None else cost_rows
    inputs = (x, y_view) if third is None else (x, y_view, _class_axis_last(third, ax))
    value, bad_row, bad_label = _core.run(
        KERNELS[name]["id"], inputs, (grad_view,),
        (class_weight, alpha_array if cost_table is None else cost_table),
        list(params), w, 0.0, upstream, upstream_scalar, code, ignore_index, loss_out)
    if bad_row >= 0:
        index = tuple(int(i) for i in np.unravel_index(bad_row, outer_shape)) if outer_shape else ()
        if kind == "index_list":
            _bad_index_list(fn, y, y_view, index, ax, classes, bad_label)
        if isinstance(y, np.ndarray):  # the driver reads uint64 labels above 2^63 as 2^63 - 1
            bad_label = int(y[index])
        fail(fn, f"target label {bad_label} out of range [0, {classes}) at index {index}")
    if request is not None:
        request.grads = (grad_out,)
    return _result(value, loss_out, logits, code)


def _bad_index_list(fn: str, y, y_view, row: tuple, ax: int, classes: int, bad_label: int):
    """Raises the error of an index-list row with an entry outside [-1, C): the first such
    entry, at its index in the caller's layout (on the host; a device array gives the row)."""
    index = row
    if isinstance(y, np.ndarray):
        entries = y_view[row]
        j = int(np.flatnonzero((entries < -1) | (entries >= classes))[0])
        bad_label = int(entries[j])
        index = row[:ax] + (j,) + row[ax:]
    fail(fn, f"target label {bad_label} out of range [-1, {classes}) at index {index}")
