"""The dispatcher of the row losses over two logits arrays (the divergences and distillation):
:func:`fastloss._dispatch.rows`'s checks and outputs for a second, differentiable logits array of
the first's shape and dtype (the kernel table's target kind ``logits``) and optional class
indices as a third array."""

from __future__ import annotations

import numpy as np

from . import _core
from ._dispatch import (KERNELS, _class_axis_last, _passed_dtype, _result, _same_shape,
                        _sample_weight, _take_request, _upstream, as_array, class_axis, empty)
from ._gradient_buffers import gradient_buffers
from ._validate import fail, reduction_code


def pair_rows(fn: str, kernel: str, first: np.ndarray, second, labels=None, *, names: tuple,
              axis=-1, params=(), ignore_index=None, reduction="mean", sample_weight=None):
    """Runs a row loss over two logits arrays of one shape and dtype (target kind ``logits``),
    both differentiable, with optional class indices `labels` of the row shape. `names` are the
    array arguments' names (two, or three with labels), for messages and argnums. The kernels
    read both logits again after writing the gradients, so a gradient is never in place."""
    code = reduction_code(fn, reduction)
    if ignore_index is not None and not -2**63 <= ignore_index < 2**63:
        fail(fn, f"ignore_index must be a 64-bit integer, got {ignore_index}")
    ax = class_axis(fn, first, axis)
    y = as_array(fn, names[1], second)
    _same_shape(fn, names[0], first, names[1], y)
    if y.dtype != first.dtype or _passed_dtype(y) != _passed_dtype(first):
        fail(fn, f"{names[1]} must have the dtype of {names[0]} ({_passed_dtype(first)}), got "
                 f"{_passed_dtype(y)}", TypeError)
    classes = first.shape[ax]
    outer_shape = first.shape[:ax] + first.shape[ax + 1:]
    t = None
    if labels is not None:
        t = as_array(fn, names[2], labels)
        if t.dtype.kind not in "iu":
            fail(fn, f"{names[2]} must hold integer class indices, got dtype {t.dtype}", TypeError)
        if not t.dtype.isnative:
            fail(fn, f"{names[2]} must be in native byte order, got dtype {t.dtype.str}",
                 TypeError)
        if t.shape != outer_shape:
            fail(fn, f"{names[2]} must have the shape of {names[0]} without axis {ax}, "
                     f"{outer_shape}, got {t.shape}")
    x, y_view = _class_axis_last(first, ax), _class_axis_last(y, ax)
    w, _ = _sample_weight(fn, sample_weight, outer_shape)
    request = _take_request(fn)
    upstream, upstream_scalar = (None, 1.0)
    grads = (None, None)
    arrays = (first, y) if t is None else (first, y, t)
    if request is not None:
        upstream, upstream_scalar = _upstream(fn, request, code, outer_shape, first)
        if 2 in request.argnums and t is not None:
            fail(fn, f"{names[2]} has no gradient (argnums=2): class indices are not "
                     f"differentiable")
        grads = gradient_buffers(fn, kernel, request, arrays[:2], names[:2],
                                  {names[2] if len(names) > 2 else "labels": t,
                                   "sample_weight": w, "grad_output": upstream},
                                  in_place_ok=False)
    grad_views = tuple(None if g is None else _class_axis_last(g, ax) for g in grads)
    loss_out = empty(outer_shape, first.dtype, like=first) if code == 0 else None
    value, bad_row, bad_label = _core.run(
        KERNELS[kernel]["id"], (x, y_view) if t is None else (x, y_view, t), grad_views,
        (None, None), list(params), w, 0.0, upstream, upstream_scalar, code, ignore_index,
        loss_out)
    if bad_row >= 0:
        index = tuple(int(i) for i in np.unravel_index(bad_row, outer_shape)) if outer_shape else ()
        if isinstance(t, np.ndarray):
            bad_label = int(t[index])
        fail(fn, f"{names[2]} label {bad_label} out of range [0, {classes}) at index {index}")
    if request is not None:
        request.grads = tuple(grads[k] for k in request.argnums)
    return _result(value, loss_out, first, code)
