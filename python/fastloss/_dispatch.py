"""Arrays in, views to the native kernels, arrays out.

Every public loss ends in one call to :func:`pointwise` or :func:`rows`. They check shapes and
dtypes once, broadcast the optional operands as views (never copies), allocate the outputs, call
the fused kernel, and turn its result into arrays of the input's dtype. When the call runs under
:func:`fastloss.value_and_grad` the same kernel pass also writes the gradient (see
``GradRequest``).
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field

import numpy as np

from . import _core
from ._validate import fail, reduction_code, weights

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


@dataclass
class GradRequest:
    """Asks the next kernel call for d(grad_output * loss)/d(first argument).

    ``value_and_grad`` installs one in a context variable around a call of a public loss; the
    dispatcher fills ``grad`` in the same kernel pass that computes the loss. A context variable
    (rather than a hidden keyword) keeps every public signature exactly what it documents.
    """

    grad_output: object = None
    grad: np.ndarray | None = None
    calls: int = field(default=0)


_request: contextvars.ContextVar[GradRequest | None] = contextvars.ContextVar(
    "fastloss_grad_request", default=None)


def as_array(fn: str, name: str, x) -> np.ndarray:
    """x as an ndarray (arrays of other libraries were already turned into zero-copy NumPy views
    by _arrays.any_array; this only handles lists and scalars)."""
    return x if isinstance(x, np.ndarray) else np.asarray(x)


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
        return np.broadcast_to(a, shape)
    except ValueError:
        fail(fn, f"{name} of shape {a.shape} does not broadcast to the loss shape {shape}")


def _sample_weight(fn: str, sample_weight, loss_shape: tuple):
    """Broadcast view of the weights and the sum of the broadcast weights."""
    if sample_weight is None:
        return None, 0.0
    w = weights(fn, "sample_weight", sample_weight)
    view = _broadcast(fn, "sample_weight", w, loss_shape)
    n = int(np.prod(loss_shape, dtype=np.int64))
    # Summing the original weights and scaling by the replication factor is exact for
    # broadcasting and costs O(w.size), not O(n).
    # The contiguous copy (of the small original, if it is strided at all) fixes NumPy's pairwise
    # summation order, so the mean's denominator does not depend on the weights' memory layout.
    total = float(np.ascontiguousarray(w).sum(dtype=np.float64)) * (n / w.size) if w.size else 0.0
    return view, total


def _upstream(fn: str, request: GradRequest, code: int, loss_shape: tuple, dtype):
    """(per-element grad_output view or None, scalar grad_output)."""
    g = request.grad_output
    if g is None:
        return None, 1.0
    if code != 0:  # reduced loss: a scalar upstream gradient
        a = np.asarray(g)
        if a.size != 1:
            fail(fn, f"grad_output of a reduced loss must be a scalar, got shape {a.shape}")
        return None, float(a.reshape(()))
    a = as_array(fn, "grad_output", g)
    if a.dtype.kind not in "fiu":
        fail(fn, f"grad_output must be real, got dtype {a.dtype}", TypeError)
    return _broadcast(fn, "grad_output", a, loss_shape), 1.0


def _take_request(fn: str) -> GradRequest | None:
    request = _request.get()
    if request is not None:
        request.calls += 1
        if request.calls > 1:
            fail(fn, "value_and_grad/grad differentiate a single fastloss loss call", TypeError)
    return request


def _result(value: float, loss_out, dtype, code: int):
    return loss_out if code == 0 else np.asarray(value, dtype=dtype)


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
    elif y.dtype != x.dtype:
        fail(fn, f"{target_name} must have the dtype of {x_name} ({x.dtype}), got {y.dtype}", TypeError)
    shape = x.shape
    p = None if param is None else _broadcast(fn, param_name, param, shape)
    w, w_total = _sample_weight(fn, sample_weight, shape)
    request = _take_request(fn)
    upstream, upstream_scalar = (None, 1.0)
    grad_out = None
    if request is not None:
        upstream, upstream_scalar = _upstream(fn, request, code, shape, x.dtype)
        grad_out = np.empty(shape, dtype=x.dtype)
    loss_out = np.empty(shape, dtype=x.dtype) if code == 0 else None
    value, first_invalid = getattr(_core, kernel)(
        x, y, p, w, upstream, upstream_scalar, w_total, code, list(params), loss_out, grad_out)
    if first_invalid >= 0:
        index = np.unravel_index(first_invalid, shape) if shape else ()
        bad_x, bad_y = x[index].item(), y[index].item()
        fail(fn, f"{domain_error(bad_x, bad_y)} at index {tuple(int(i) for i in index)}")
    if request is not None:
        request.grad = grad_out
    return _result(value, loss_out, x.dtype, code)


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
         class_weight=None, smoothing: float = 0.0, gamma: float = 0.0, alpha: float = -1.0,
         alpha_array=None, margin: float = 1.0, squared: bool = False, ignore_index=None,
         reduction="mean", sample_weight=None):
    """Runs a row loss over the class axis `axis` of `logits`. Integer targets are class
    indices of the logits' shape without that axis; with dense_ok, float targets of the logits'
    shape are probabilities (kernel name + '_dense')."""
    code = reduction_code(fn, reduction)
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
        if y.dtype != logits.dtype:
            fail(fn, f"probability target must have the dtype of logits ({logits.dtype}), "
                     f"got {y.dtype}", TypeError)
    else:
        wanted = "integer class indices or float probabilities" if dense_ok else "integer class indices"
        fail(fn, f"target must hold {wanted}, got dtype {y.dtype}", TypeError)
    if class_weight is not None:
        class_weight = weights(fn, "class_weight", class_weight, length=classes)
    x = np.moveaxis(logits, ax, -1)
    y_view = np.moveaxis(y, ax, -1) if dense else y
    w, _ = _sample_weight(fn, sample_weight, outer_shape)
    request = _take_request(fn)
    upstream, upstream_scalar = (None, 1.0)
    grad_out = grad_view = None
    if request is not None:
        upstream, upstream_scalar = _upstream(fn, request, code, outer_shape, logits.dtype)
        grad_out = np.empty(logits.shape, dtype=logits.dtype)
        grad_view = np.moveaxis(grad_out, ax, -1)
    loss_out = np.empty(outer_shape, dtype=logits.dtype) if code == 0 else None
    name = kernel + ("_dense" if dense else "_sparse") if dense_ok else kernel
    value, bad_row, bad_label = getattr(_core, name)(
        x, y_view, w, upstream, upstream_scalar, class_weight, smoothing, gamma, alpha,
        alpha_array, margin, squared, ignore_index, code, loss_out, grad_view)
    if bad_row >= 0:
        index = tuple(int(i) for i in np.unravel_index(bad_row, outer_shape)) if outer_shape else ()
        fail(fn, f"target label {bad_label} out of range [0, {classes}) at index {index}")
    if request is not None:
        request.grad = grad_out
    return _result(value, loss_out, logits.dtype, code)
