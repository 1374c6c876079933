"""The center loss (Wen et al. 2016) and its centre update: features ``(N, D)``, integer labels
``(N,)`` and class centres ``(C, D)`` (the kernel table's ``FL_BATCH(center, ...)``, driver
``cpp/src/cpu/center.cc``).

The features (``argnums`` 0) and the centres (``argnums`` 2) are differentiable; the labels are
not. A centre's gradient sums over the rows of its class: the kernel puts the rows in class
order and sums each class in row order, so the result is the same bits whatever the thread
count (no racing scatter-adds, unlike the authors' Caffe layer).
"""

from __future__ import annotations

import math

import numpy as np

from . import _core
from ._arrays import any_array
from ._dispatch import (KERNELS, _passed_dtype, _result, _sample_weight, _take_request,
                        _upstream, as_array, empty, float_input)
from ._gradient_buffers import gradient_buffers
from ._registry import LossSpec, register
from ._validate import fail, real_scalar, reduction_code

__all__ = ["center", "center_update"]

_NAMES = ("features", "labels", "centers")


def checked_alpha(fn: str, alpha) -> float:
    """center_update's rate: a finite number >= 0."""
    a = real_scalar(fn, "alpha", alpha)
    if not (a >= 0 and math.isfinite(a)):
        fail(fn, f"alpha must be a finite number >= 0, got {alpha!r}")
    return a


def checked_arrays(fn: str, features, labels, centers):
    """The three arrays checked: (N, D) float features, (N,) integer labels, (C, D) centres of
    the features' dtype (also fastloss.jax's trace-time check, on stand-ins of their shapes)."""
    x = float_input(fn, "features", features)
    if x.ndim != 2:
        fail(fn, f"features must be an (N, D) array, got shape {x.shape}")
    y = as_array(fn, "labels", labels)
    if y.dtype.kind not in "iu":
        fail(fn, f"labels must hold integer class indices, got dtype {y.dtype}", TypeError)
    if not y.dtype.isnative:
        fail(fn, f"labels must be in native byte order, got dtype {y.dtype.str}", TypeError)
    if y.shape != x.shape[:1]:
        fail(fn, f"labels must have one class index per feature row, shape {x.shape[:1]}, got "
                 f"{y.shape}")
    c = as_array(fn, "centers", centers)
    if c.ndim != 2 or c.shape[1] != x.shape[1]:
        fail(fn, f"centers must be a (C, {x.shape[1]}) array (one centre of the features' "
                 f"dimension per class), got shape {c.shape}")
    if c.dtype != x.dtype or _passed_dtype(c) != _passed_dtype(x):
        fail(fn, f"centers must have the dtype of features ({_passed_dtype(x)}), got "
                 f"{_passed_dtype(c)}", TypeError)
    return x, y, c


def _run(fn: str, arrays: tuple, grads: tuple, params: tuple, w, upstream, upstream_scalar,
         code: int, loss_out):
    value, bad_row, bad_label = _core.run(
        KERNELS["center"]["id"], arrays, grads, (None, None), list(params), w, 0.0, upstream,
        upstream_scalar, code, None, loss_out)
    if bad_row >= 0:
        y = arrays[1]
        shown = int(y[bad_row]) if isinstance(y, np.ndarray) else bad_label
        fail(fn, f"labels: class {shown} out of range [0, {arrays[2].shape[0]}) (the rows of "
                 f"centers) at index {bad_row}")
    return value


@any_array
def center(features, labels, centers, *, reduction="mean", sample_weight=None):
    r"""Center loss: each feature vector pulled towards the centre of its class.

    .. math:: \ell_i = \tfrac12 \lVert x_i - c_{y_i} \rVert_2^2

    the lecture's :math:`L_{center} = \tfrac12\sum_i \lVert x_i - c_{y_i}\rVert^2` for
    ``reduction="sum"``; the default ``"mean"`` divides by the batch, as Wen et al.'s layer
    (``sum(s l) / sum(s)`` with ``sample_weight``). Gradients, with :math:`g_i` the upstream
    gradient of row i (times its weight and the mean's factor):
    :math:`\partial L/\partial x_i = g_i (x_i - c_{y_i})` and
    :math:`\partial L/\partial c_j = -\sum_{i: y_i = j} g_i (x_i - c_j)` (zero for a class
    without rows), summed in row order for each class: deterministic, whatever the threads.

    Train the centres by their gradient (an optimiser, as KaiyangZhou's pytorch-center-loss
    does), or by Wen et al.'s rule with :func:`center_update`. Other implementations scale
    differently: pytorch-center-loss has no ½ (``2 x`` this loss, and it adds ``1e-12`` per
    class it clamps), facenet's ``center_loss`` the mean over the N x D elements.

    Edge cases: IEEE arithmetic (an infinite feature gives an infinite loss; NaN in a row makes
    its loss and its gradients NaN, and its class centre's gradient). An empty batch has mean
    NaN and zero centre gradients.

    Args:
      features: float32/float64 ``(N, D)``.
      labels: integer class indices ``(N,)`` in ``[0, C)``; not differentiable.
      centers: ``(C, D)``, the features' dtype: row j is class j's centre.

    >>> import numpy as np, fastloss
    >>> x = np.array([[1.0, 2.0], [3.0, 0.0]])
    >>> c = np.array([[1.0, 0.0], [0.0, 0.0]])
    >>> float(fastloss.center(x, np.array([0, 1]), c, reduction="sum"))
    6.5

    Reference: Y. Wen, K. Zhang, Z. Li and Y. Qiao, "A Discriminative Feature Learning Approach
    for Deep Face Recognition", ECCV 2016.
    """
    fn = "center"
    code = reduction_code(fn, reduction)
    x, y, c = checked_arrays(fn, features, labels, centers)
    w, _ = _sample_weight(fn, sample_weight, x.shape[:1])
    request = _take_request(fn)
    upstream, upstream_scalar = None, 1.0
    grads = (None, None, None)
    if request is not None:
        upstream, upstream_scalar = _upstream(fn, request, code, x.shape[:1], x)
        if 1 in request.argnums:
            fail(fn, "labels has no gradient (argnums=1): class indices are not differentiable")
        grads = gradient_buffers(fn, "center", request, (x, y, c), _NAMES,
                                 {"sample_weight": w, "grad_output": upstream}, in_place_ok=False)
    loss_out = empty(x.shape[:1], x.dtype, like=x) if code == 0 else None
    value = _run(fn, (x, y, c), grads, (0.0, 0.0), w, upstream, upstream_scalar, code,
                 loss_out)
    if request is not None:
        request.grads = tuple(grads[k] for k in request.argnums)
    return _result(value, loss_out, x, code)


@any_array
def center_update(features, labels, centers, *, alpha=0.5):
    r"""The class centres after Wen et al.'s update for one batch:

    .. math:: c_j \leftarrow c_j - \alpha\,\frac{\sum_{i: y_i = j} (c_j - x_i)}{1 + n_j}

    with :math:`n_j` the rows of class j in the batch; a class without rows keeps its centre.
    Returns new centres (``centers`` is not modified). Each class's sum is taken in row order,
    so the result is deterministic, whatever the threads (the authors' Caffe layer sums with
    racing GPU threads). This is the centre step of Wen et al.'s Algorithm 1 (which calls the
    rate :math:`\alpha`, default 0.5 here); facenet's ``center_loss_alfa`` is :math:`1 - \alpha`
    without the :math:`1 + n_j`.

    Args:
      features, labels, centers: as :func:`center`.
      alpha: the rate, a finite number >= 0 (0 leaves the centres as they are).

    >>> import numpy as np, fastloss
    >>> fastloss.center_update(np.array([[2.0, 4.0]]), np.array([0]), np.zeros((2, 2))).tolist()
    [[0.5, 1.0], [0.0, 0.0]]

    Reference: Y. Wen, K. Zhang, Z. Li and Y. Qiao, "A Discriminative Feature Learning Approach
    for Deep Face Recognition", ECCV 2016.
    """
    fn = "center_update"
    a = checked_alpha(fn, alpha)
    x, y, c = checked_arrays(fn, features, labels, centers)
    out = empty(c.shape, c.dtype, like=c)
    _run(fn, (x, y, c), (None, None, out), (1.0, a), None, None, 1.0, reduction_code(fn, "sum"),
         None)
    return out


def _center_sample(rng, shape, dtype):
    """N feature rows around 5 class centres (labels drawn uniformly, so some class may have
    no row in a small batch)."""
    n = int(np.prod(shape[:-1])) if len(shape) >= 2 else (shape[0] if shape else 1)
    d = shape[-1] if len(shape) >= 2 else 4
    centers = rng.normal(0.0, 1.0, (5, d))
    labels = rng.integers(0, 5, n)
    features = centers[labels] + rng.normal(0.0, 0.5, (n, d))
    return (features.astype(dtype), labels, centers.astype(dtype)), {}


register(LossSpec("center", "metric", "embedding", center, _center_sample,
                  differentiable=("features", "centers"),
                  growth="quadratic",
                  convex=True))  # a squared norm of x - c: jointly convex
