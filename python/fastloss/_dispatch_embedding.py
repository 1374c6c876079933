"""The dispatcher of the embedding losses (the metric-learning family): two or three embedding
arrays of one shape ``(..., D)`` and dtype, the last axis the features, each differentiable, and
an optional label per row (the kernel table's ``FL_EMBEDDING`` lines). The kernels may read the
inputs again after writing a gradient row, so a gradient is never in place.
"""

from __future__ import annotations

import numpy as np

from . import _core
from ._dispatch import (KERNELS, _passed_dtype, _result, _sample_weight, _take_request,
                        _upstream, as_array, empty)
from ._gradient_buffers import gradient_buffers
from ._validate import fail, reduction_code


def _embeddings(fn: str, arrays: tuple, names: tuple) -> tuple:
    """The embedding arrays checked: the first (already a float array) has a feature axis, the
    others its shape and dtype."""
    first = arrays[0]
    if first.ndim < 1:
        fail(fn, f"{names[0]} must have a feature axis (the last), got a 0-d array")
    out = [first]
    for name, a in zip(names[1:], arrays[1:]):
        a = as_array(fn, name, a)
        if a.shape != first.shape:
            what = ("the number of features (last axis)" if a.ndim == first.ndim
                    and a.shape[:-1] == first.shape[:-1] else "the shape")
            fail(fn, f"{name} must have {what} of {names[0]} {first.shape}, got {a.shape}")
        if a.dtype != first.dtype or _passed_dtype(a) != _passed_dtype(first):
            fail(fn, f"{name} must have the dtype of {names[0]} ({_passed_dtype(first)}), got "
                     f"{_passed_dtype(a)}", TypeError)
        out.append(a)
    return tuple(out)


def _row_label(fn: str, name: str, label, row_shape: tuple):
    """One real label per row (any real dtype, read as a double by the kernel)."""
    t = as_array(fn, name, label)
    if t.dtype.kind not in "biuf":
        fail(fn, f"{name} must hold real labels, got dtype {t.dtype}", TypeError)
    if not t.dtype.isnative:
        fail(fn, f"{name} must be in native byte order, got dtype {t.dtype.str}", TypeError)
    if t.shape != row_shape:
        fail(fn, f"{name} must have the row shape {row_shape} (the embeddings' without the "
                 f"feature axis), got {t.shape}")
    return t


def embedding(fn: str, kernel: str, arrays: tuple, *, names: tuple, label=None,
              label_name: str = "", label_rule: str = "", params=(), reduction="mean",
              sample_weight=None):
    """Runs an embedding loss over `arrays` (named `names`) with an optional row label
    `label` (named `label_name`, the argument after the arrays; `label_rule` says which values
    are valid, for the message of a row whose label the kernel rejects)."""
    code = reduction_code(fn, reduction)
    xs = _embeddings(fn, arrays, names)
    first = xs[0]
    row_shape = first.shape[:-1]
    t = None if label is None else _row_label(fn, label_name, label, row_shape)
    w, _ = _sample_weight(fn, sample_weight, row_shape)
    request = _take_request(fn)
    upstream, upstream_scalar = (None, 1.0)
    grads = (None,) * len(xs)
    if request is not None:
        upstream, upstream_scalar = _upstream(fn, request, code, row_shape, first)
        if t is not None and len(xs) in request.argnums:
            fail(fn, f"{label_name} has no gradient (argnums={len(xs)}): labels are not "
                     f"differentiable")
        others = {"sample_weight": w, "grad_output": upstream}
        if t is not None:
            others[label_name] = t
        grads = gradient_buffers(fn, kernel, request, xs, names, others, in_place_ok=False)
    loss_out = empty(row_shape, first.dtype, like=first) if code == 0 else None
    inputs = xs if t is None else (*xs, t)
    value, bad_row, _ = _core.run(
        KERNELS[kernel]["id"], inputs, grads, (None, None), list(params), w, 0.0, upstream,
        upstream_scalar, code, None, loss_out)
    if bad_row >= 0:
        index = tuple(int(i) for i in np.unravel_index(bad_row, row_shape)) if row_shape else ()
        shown = f" {t[index].item()!r}" if isinstance(t, np.ndarray) else ""
        fail(fn, f"{label_name} must be {label_rule}, got{shown} at index {index}")
    if request is not None:
        request.grads = tuple(grads[k] for k in request.argnums)
    return _result(value, loss_out, first, code)
