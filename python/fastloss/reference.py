"""Float64 NumPy reference implementations: the test oracle for every fastloss kernel.

Each function reads like its formula in the lecture text (``shared/seed/loss-functions.md``) and
uses a numerically stable form of it (``np.logaddexp`` for softplus, log-softmax by max
subtraction, ``np.log1p``/``np.expm1`` near zero).  Every loss ``NAME`` has an analytic gradient
``NAME_grad``.  This module depends on NumPy only and imports nothing from ``fastloss``, so it can
be loaded on its own (``importlib`` from a file path) as an independent oracle.

Common contract
---------------
* ``NAME(*arrays, <keyword-only hyperparameters>, reduction="mean", sample_weight=None)``.
  Arrays are read with ``np.asarray(a, dtype=float64)`` (class labels as int64) and never modified.
* ``sample_weight`` ``s`` is broadcast to the *unreduced* loss shape; ``"none"`` returns
  ``s * l``, ``"sum"`` returns ``sum(s * l)`` and ``"mean"`` returns ``sum(s * l) / sum(s * n)``
  where ``n`` is the per-element normaliser: 1 for most losses, ``c[t_i]`` (0 for ignored rows)
  for index-target cross entropy and 0/1 (ignored/not) for softmax focal.  Without weights
  ``s = 1``.  Reduced results are 0-d float64 ndarrays.  Empty input: mean is nan, sum is 0.
* ``NAME_grad(*arrays, grad_output=None, **same_kwargs)`` is the gradient of
  ``sum(grad_output * NAME(*arrays, **kw))`` with respect to the first array.  For ``"mean"`` and
  ``"sum"`` ``grad_output`` is a scalar (default 1); for ``"none"`` it is broadcastable to the
  unreduced loss shape (default ones).  The result has the first array's shape, float64.
  Where the loss has a kink the gradient is the subgradient documented on each function.
* Invalid hyperparameters, reductions, shapes or labels raise ``ValueError`` with a message that
  starts ``"[fastloss.NAME] "`` and names the argument and the offending value.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "mse", "mse_grad",
    "mae", "mae_grad",
    "huber", "huber_grad",
    "smooth_l1", "smooth_l1_grad",
    "quantile", "quantile_grad",
    "log_cosh", "log_cosh_grad",
    "binary_cross_entropy", "binary_cross_entropy_grad",
    "binary_cross_entropy_with_logits", "binary_cross_entropy_with_logits_grad",
    "hinge", "hinge_grad",
    "squared_hinge", "squared_hinge_grad",
    "sigmoid_focal", "sigmoid_focal_grad",
    "cross_entropy", "cross_entropy_grad",
    "multiclass_hinge", "multiclass_hinge_grad",
    "softmax_focal", "softmax_focal_grad",
]

_REDUCTIONS = ("mean", "sum", "none")
_LOG2 = math.log(2.0)

# PyTorch's binary_cross_entropy clamps each log term at -100 and divides its gradient by
# max(p * (1 - p), 1e-12); both constants are part of the behaviour we reproduce.
_BCE_LOG_CLAMP = -100.0
_BCE_GRAD_EPS = 1e-12


# --------------------------------------------------------------------------------------------
# Validation and reduction helpers
# --------------------------------------------------------------------------------------------

def _fail(name, message):
    raise ValueError(f"[fastloss.{name}] {message}")


def _fmt(value):
    """Format an offending value for an error message: -1 -> '-1.0', 'avg' -> "'avg'"."""
    if isinstance(value, (bool, np.bool_, str)):
        return repr(value)
    try:
        return repr(float(value))
    except (TypeError, ValueError):
        return repr(value)


def _real(name, arg, value):
    """A hyperparameter that must be a real scalar, returned as a Python float."""
    if isinstance(value, (bool, np.bool_)) or np.ndim(value) != 0:
        _fail(name, f"{arg} must be a real scalar, got {_fmt(value)}")
    try:
        return float(value)
    except (TypeError, ValueError):
        _fail(name, f"{arg} must be a real scalar, got {_fmt(value)}")


def _check_reduction(name, reduction):
    if not isinstance(reduction, str) or reduction not in _REDUCTIONS:
        _fail(name, f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _as_float(a):
    return np.asarray(a, dtype=np.float64)


def _pair(name, pred, target, first="pred"):
    """pred and target as float64 arrays of one shape."""
    pred, target = _as_float(pred), _as_float(target)
    if pred.shape != target.shape:
        _fail(name, f"{first} and target must have the same shape, "
                    f"got {pred.shape} and {target.shape}")
    return pred, target


def _labels(name, target):
    """Integer class labels as int64 (floating or boolean labels are rejected, not truncated)."""
    t = np.asarray(target)
    if t.dtype.kind not in "iu":
        _fail(name, f"target must hold integer class indices, got dtype {t.dtype}")
    return t.astype(np.int64, copy=False)


def _check_label_range(name, t, num_classes, ignore_index=None):
    bad = (t < 0) | (t >= num_classes)
    if ignore_index is not None:
        bad &= t != ignore_index
    if np.any(bad):
        _fail(name, f"label {int(t[bad].flat[0])} out of range [0, {num_classes})")


def _sample_weight(name, sample_weight, shape):
    if sample_weight is None:
        return None
    s = _as_float(sample_weight)
    try:
        return np.broadcast_to(s, shape)
    except ValueError:
        _fail(name, f"sample_weight of shape {s.shape} is not broadcastable to the loss shape "
                    f"{shape}")


def _reduce(name, loss, reduction, sample_weight, norm=None):
    """Apply sample_weight s and reduce: none -> s*l, sum -> sum(s*l), mean -> sum(s*l)/sum(s*n)."""
    _check_reduction(name, reduction)
    s = _sample_weight(name, sample_weight, loss.shape)
    weighted = loss if s is None else s * loss
    if reduction == "none":
        return np.asarray(weighted, dtype=np.float64)
    total = np.sum(weighted)
    if reduction == "sum":
        return np.asarray(total, dtype=np.float64)
    if norm is None:
        norm = np.ones(loss.shape)
    denominator = np.sum(norm if s is None else s * norm)
    with np.errstate(invalid="ignore", divide="ignore"):  # empty / all ignored -> nan
        return np.asarray(total / denominator, dtype=np.float64)


def _upstream(name, shape, reduction, sample_weight, grad_output, norm=None):
    """d sum(grad_output * reduced loss) / d l, one value per unreduced loss element."""
    _check_reduction(name, reduction)
    s = _sample_weight(name, sample_weight, shape)
    s = np.ones(shape) if s is None else s
    if reduction == "none":
        g = np.ones(shape) if grad_output is None else _as_float(grad_output)
        try:
            g = np.broadcast_to(g, shape)
        except ValueError:
            _fail(name, f"grad_output of shape {g.shape} is not broadcastable to the loss shape "
                        f"{shape}")
        return g * s
    g = 1.0 if grad_output is None else grad_output
    if np.ndim(g) != 0:
        _fail(name, f"grad_output must be a scalar for reduction={reduction!r}, "
                    f"got shape {np.shape(g)}")
    g = float(g)
    if reduction == "sum":
        return g * s
    if norm is None:
        norm = np.ones(shape)
    denominator = np.sum(s * norm)
    with np.errstate(invalid="ignore", divide="ignore"):
        return g * s / denominator


def _sigmoid(x):
    """1 / (1 + exp(-x)) without overflow, accurate to a few ulp for all x (also tiny results)."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _softplus(x):
    """log(1 + exp(x))."""
    return np.logaddexp(0.0, x)


def _times(coef, value):
    """coef * value, but exactly 0 where coef == 0 (so 0 * inf is 0, not nan)."""
    coef, value = np.broadcast_arrays(coef, value)
    return np.multiply(coef, value, out=np.zeros(coef.shape), where=coef != 0)


def _classes_last(name, logits, axis):
    """logits as float64 with the class axis moved last; returns (x, normalised axis, C)."""
    x = _as_float(logits)
    if x.ndim == 0:
        _fail(name, "logits must have a class axis, got a 0-d array")
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        _fail(name, f"axis must be an integer, got {axis!r}")
    if not -x.ndim <= axis < x.ndim:
        _fail(name, f"axis {axis} is out of range for logits with {x.ndim} dimensions")
    axis = int(axis) % x.ndim
    if x.shape[axis] == 0:
        _fail(name, "logits must have at least one class, got 0 along the class axis")
    return np.moveaxis(x, axis, -1), axis, x.shape[axis]


def _log_softmax(x):
    """log softmax over the last axis: (x - m) - log(sum(exp(x - m))), m = max.

    The sum is 1 (the maximum) plus the rest, and log(1 + rest) is taken with log1p: for a
    confident row the rest is tiny and a plain log of the sum would round most of it away."""
    with np.errstate(invalid="ignore", divide="ignore"):  # rows with +-inf give nan, like torch
        shifted = x - np.max(x, axis=-1, keepdims=True)
        first_max = np.argmax(shifted, axis=-1)[..., None]
        e = np.exp(shifted)
        np.put_along_axis(e, first_max, 0.0, axis=-1)
        return shifted - np.log1p(np.sum(e, axis=-1, keepdims=True))


def _index_targets(name, x, target, num_classes, ignore_index):
    """Validated labels t, the kept-row mask and labels safe for indexing (ignored -> 0)."""
    t = _labels(name, target)
    if t.shape != x.shape[:-1]:
        _fail(name, f"target of class indices must have the logits shape without the class "
                    f"axis, {x.shape[:-1]}, got {t.shape}")
    _check_label_range(name, t, num_classes, ignore_index)
    kept = t != ignore_index if ignore_index is not None else np.ones(t.shape, dtype=bool)
    safe = np.where(kept, t, 0)
    return t, kept, safe


def _gather(a, index):
    """a[..., index] per row: a has shape (..., C), index has shape (...)."""
    return np.take_along_axis(a, index[..., None], axis=-1)[..., 0]


def _one_hot(index, num_classes):
    return index[..., None] == np.arange(num_classes)


def _class_weight(name, class_weight, num_classes, arg="class_weight"):
    if class_weight is None:
        return np.ones(num_classes)
    c = _as_float(class_weight)
    if c.shape != (num_classes,):
        _fail(name, f"{arg} must have shape ({num_classes},) (one per class), got {c.shape}")
    return c


# --------------------------------------------------------------------------------------------
# Regression: pred and target of one shape, d = pred - target
# --------------------------------------------------------------------------------------------

def mse(pred, target, *, reduction="mean", sample_weight=None):
    """Squared error ``l = (pred - target)^2``; its mean is the MSE of the seed."""
    pred, target = _pair("mse", pred, target)
    d = pred - target
    return _reduce("mse", d * d, reduction, sample_weight)


def mse_grad(pred, target, *, grad_output=None, reduction="mean", sample_weight=None):
    """``dl/dpred = 2 (pred - target)``."""
    pred, target = _pair("mse", pred, target)
    d = pred - target
    return 2.0 * d * _upstream("mse", d.shape, reduction, sample_weight, grad_output)


def mae(pred, target, *, reduction="mean", sample_weight=None):
    """Absolute error ``l = |pred - target|``."""
    pred, target = _pair("mae", pred, target)
    return _reduce("mae", np.abs(pred - target), reduction, sample_weight)


def mae_grad(pred, target, *, grad_output=None, reduction="mean", sample_weight=None):
    """``dl/dpred = sign(pred - target)`` (0 at d == 0)."""
    pred, target = _pair("mae", pred, target)
    d = pred - target
    return np.sign(d) * _upstream("mae", d.shape, reduction, sample_weight, grad_output)


def _check_delta(name, arg, value, allow_zero):
    v = _real(name, arg, value)
    if not (v >= 0 if allow_zero else v > 0):
        _fail(name, f"{arg} must be {'>= 0' if allow_zero else '> 0'}, got {_fmt(value)}")
    return v


def huber(pred, target, *, delta=1.0, reduction="mean", sample_weight=None):
    """Huber loss (PyTorch ``huber_loss``), ``z = |pred - target|``::

        l = 0.5 z^2                  if z < delta
            delta (z - 0.5 delta)    otherwise          (delta > 0)
    """
    delta = _check_delta("huber", "delta", delta, allow_zero=False)
    pred, target = _pair("huber", pred, target)
    z = np.abs(pred - target)
    loss = np.where(z < delta, 0.5 * z * z, delta * (z - 0.5 * delta))
    return _reduce("huber", loss, reduction, sample_weight)


def huber_grad(pred, target, *, grad_output=None, delta=1.0, reduction="mean",
               sample_weight=None):
    """``dl/dpred = d`` if ``|d| <= delta`` else ``delta sign(d)``."""
    delta = _check_delta("huber", "delta", delta, allow_zero=False)
    pred, target = _pair("huber", pred, target)
    d = pred - target
    local = np.where(np.abs(d) <= delta, d, delta * np.sign(d))
    return local * _upstream("huber", d.shape, reduction, sample_weight, grad_output)


def smooth_l1(pred, target, *, beta=1.0, reduction="mean", sample_weight=None):
    """Smooth L1 (PyTorch ``smooth_l1_loss``), ``z = |pred - target|``::

        l = 0.5 z^2 / beta     if z < beta
            z - 0.5 beta       otherwise              (beta >= 0; beta == 0 is exactly mae)
    """
    beta = _check_delta("smooth_l1", "beta", beta, allow_zero=True)
    pred, target = _pair("smooth_l1", pred, target)
    z = np.abs(pred - target)
    if beta == 0.0:
        loss = z
    else:
        loss = np.where(z < beta, 0.5 * z * z / beta, z - 0.5 * beta)
    return _reduce("smooth_l1", loss, reduction, sample_weight)


def smooth_l1_grad(pred, target, *, grad_output=None, beta=1.0, reduction="mean",
                   sample_weight=None):
    """``dl/dpred = d / beta`` if ``|d| < beta`` else ``sign(d)``."""
    beta = _check_delta("smooth_l1", "beta", beta, allow_zero=True)
    pred, target = _pair("smooth_l1", pred, target)
    d = pred - target
    if beta == 0.0:
        local = np.sign(d)
    else:
        local = np.where(np.abs(d) < beta, d / beta, np.sign(d))
    return local * _upstream("smooth_l1", d.shape, reduction, sample_weight, grad_output)


def _tau(name, tau, pred):
    """tau as a float in (0, 1) or a 1-D float64 array of such, one per pred.shape[-1]."""
    if np.ndim(tau) == 0:
        t = _real(name, "tau", tau)
        if not 0.0 < t < 1.0:
            _fail(name, f"tau must be in (0, 1), got {_fmt(tau)}")
        return t
    t = _as_float(tau)
    if t.ndim != 1:
        _fail(name, f"tau must be a scalar or a 1-D array of quantiles, got shape {t.shape}")
    if pred.ndim == 0 or t.shape[0] != pred.shape[-1]:
        _fail(name, f"tau of length {t.shape[0]} must match pred.shape[-1], "
                    f"got pred of shape {pred.shape}")
    bad = ~((t > 0.0) & (t < 1.0))
    if np.any(bad):
        _fail(name, f"tau values must be in (0, 1), got {_fmt(t[bad][0])}")
    return t


def quantile(pred, target, *, tau=0.5, reduction="mean", sample_weight=None):
    """Pinball loss, ``u = target - pred``::

        l = tau u          if u >= 0
            (tau - 1) u    if u < 0          (= max(tau u, (tau - 1) u))

    ``tau`` is a scalar in (0, 1) or a 1-D array of quantiles of length ``pred.shape[-1]``
    (multi-quantile regression: broadcast along the last axis).
    """
    pred, target = _pair("quantile", pred, target)
    tau = _tau("quantile", tau, pred)
    u = target - pred
    loss = np.where(u >= 0, tau * u, (tau - 1.0) * u)
    return _reduce("quantile", loss, reduction, sample_weight)


def quantile_grad(pred, target, *, grad_output=None, tau=0.5, reduction="mean",
                  sample_weight=None):
    """``dl/dpred = -tau`` if ``u > 0``, ``1 - tau`` if ``u < 0``, 0 if ``u == 0``."""
    pred, target = _pair("quantile", pred, target)
    tau = _tau("quantile", tau, pred)
    u = target - pred
    local = np.where(u > 0, -tau, np.where(u < 0, 1.0 - tau, 0.0))
    return local * _upstream("quantile", u.shape, reduction, sample_weight, grad_output)


def log_cosh(pred, target, *, reduction="mean", sample_weight=None):
    """``l = log(cosh(pred - target))``, with ``a = |d|`` evaluated as::

        log1p(expm1(a)^2 / (2 (1 + expm1(a))))    if a < 1  (cosh a - 1 = expm1(a)^2 / (2 e^a);
                                                             relative accuracy down to a ~ 1e-154)
        a + log1p(exp(-2 a)) - log 2              otherwise (no overflow; cosh overflows at 710)
    """
    pred, target = _pair("log_cosh", pred, target)
    a = np.abs(pred - target)
    em = np.expm1(np.minimum(a, 1.0))
    small = np.log1p(em * em / (2.0 * (1.0 + em)))
    large = a + np.log1p(np.exp(-2.0 * a)) - _LOG2
    return _reduce("log_cosh", np.where(a < 1.0, small, large), reduction, sample_weight)


def log_cosh_grad(pred, target, *, grad_output=None, reduction="mean", sample_weight=None):
    """``dl/dpred = tanh(pred - target)``."""
    pred, target = _pair("log_cosh", pred, target)
    d = pred - target
    return np.tanh(d) * _upstream("log_cosh", d.shape, reduction, sample_weight, grad_output)


# --------------------------------------------------------------------------------------------
# Binary classification
# --------------------------------------------------------------------------------------------

def _probabilities(name, prob, target):
    p, y = _pair(name, prob, target, first="prob")
    bad = ~((p >= 0.0) & (p <= 1.0))  # nan is rejected too, like PyTorch
    if np.any(bad):
        _fail(name, f"prob must be in [0, 1], got {_fmt(p[bad].flat[0])}")
    return p, y


def binary_cross_entropy(prob, target, *, reduction="mean", sample_weight=None):
    """Binary cross entropy on probabilities (PyTorch ``binary_cross_entropy``)::

        l = -(y max(log p, -100) + (1 - y) max(log(1 - p), -100))

    ``prob`` must lie in [0, 1]; ``target`` may be soft.
    """
    p, y = _probabilities("binary_cross_entropy", prob, target)
    with np.errstate(divide="ignore"):  # log 0 = -inf, then clamped
        log_p = np.maximum(np.log(p), _BCE_LOG_CLAMP)
        log_1mp = np.maximum(np.log1p(-p), _BCE_LOG_CLAMP)
    loss = -(y * log_p + (1.0 - y) * log_1mp)
    return _reduce("binary_cross_entropy", loss, reduction, sample_weight)


def binary_cross_entropy_grad(prob, target, *, grad_output=None, reduction="mean",
                              sample_weight=None):
    """PyTorch's backward: ``dl/dp = (p - y) / max(p (1 - p), 1e-12)``."""
    p, y = _probabilities("binary_cross_entropy", prob, target)
    local = (p - y) / np.maximum(p * (1.0 - p), _BCE_GRAD_EPS)
    return local * _upstream("binary_cross_entropy", p.shape, reduction, sample_weight,
                             grad_output)


def _pos_weight(name, pos_weight, shape):
    if pos_weight is None:
        return np.ones(shape)
    pw = _as_float(pos_weight)
    try:
        return np.broadcast_to(pw, shape)
    except ValueError:
        _fail(name, f"pos_weight of shape {pw.shape} is not broadcastable to the target shape "
                    f"{shape}")


def _bce_with_logits(x, y, pw):
    """(1 - y) softplus(x) + pw y softplus(-x), a term being 0 where its coefficient is 0."""
    return _times(1.0 - y, _softplus(x)) + _times(pw * y, _softplus(-x))


def binary_cross_entropy_with_logits(logits, target, *, pos_weight=None, reduction="mean",
                                     sample_weight=None):
    """Binary cross entropy on logits (PyTorch ``binary_cross_entropy_with_logits``)::

        l = (1 - y) softplus(x) + pw y softplus(-x)

    which for ``pw = 1`` is the seed's ``max(x, 0) - x y + log(1 + exp(-|x|))``.  ``pos_weight``
    broadcasts against ``target`` (typically shape ``(C,)``, the last axis).  A term whose
    coefficient ``(1 - y)`` or ``pw y`` is exactly 0 is 0, so logits of +-inf give the limits.
    """
    name = "binary_cross_entropy_with_logits"
    x, y = _pair(name, logits, target, first="logits")
    pw = _pos_weight(name, pos_weight, x.shape)
    return _reduce(name, _bce_with_logits(x, y, pw), reduction, sample_weight)


def binary_cross_entropy_with_logits_grad(logits, target, *, grad_output=None, pos_weight=None,
                                          reduction="mean", sample_weight=None):
    """``dl/dx = (1 - y) sigmoid(x) - pw y sigmoid(-x)`` (``= sigmoid(x) - y`` for pw = 1)."""
    name = "binary_cross_entropy_with_logits"
    x, y = _pair(name, logits, target, first="logits")
    pw = _pos_weight(name, pos_weight, x.shape)
    local = (1.0 - y) * _sigmoid(x) - pw * y * _sigmoid(-x)
    return local * _upstream(name, x.shape, reduction, sample_weight, grad_output)


def _signed_labels(name, pred, target):
    """Labels in {-1, +1} (0 maps to -1) as float64, checked element by element."""
    f, t = _pair(name, pred, target)
    bad = ~((t == -1.0) | (t == 0.0) | (t == 1.0))
    if np.any(bad):
        _fail(name, f"target labels must be -1, 0 or 1 (0 means -1), got {_fmt(t[bad].flat[0])}")
    return f, np.where(t == 0.0, -1.0, t)


def hinge(pred, target, *, reduction="mean", sample_weight=None):
    """Hinge loss ``l = max(0, 1 - y f)``, labels y in {-1, +1} (or {0, 1}, 0 meaning -1)."""
    f, y = _signed_labels("hinge", pred, target)
    return _reduce("hinge", np.maximum(0.0, 1.0 - y * f), reduction, sample_weight)


def hinge_grad(pred, target, *, grad_output=None, reduction="mean", sample_weight=None):
    """``dl/df = -y`` where ``1 - y f > 0``, else 0."""
    f, y = _signed_labels("hinge", pred, target)
    local = np.where(1.0 - y * f > 0.0, -y, 0.0)
    return local * _upstream("hinge", f.shape, reduction, sample_weight, grad_output)


def squared_hinge(pred, target, *, reduction="mean", sample_weight=None):
    """Squared hinge loss ``l = max(0, 1 - y f)^2``."""
    f, y = _signed_labels("squared_hinge", pred, target)
    h = np.maximum(0.0, 1.0 - y * f)
    return _reduce("squared_hinge", h * h, reduction, sample_weight)


def squared_hinge_grad(pred, target, *, grad_output=None, reduction="mean",
                       sample_weight=None):
    """``dl/df = -2 y max(0, 1 - y f)``."""
    f, y = _signed_labels("squared_hinge", pred, target)
    local = -2.0 * y * np.maximum(0.0, 1.0 - y * f)
    return local * _upstream("squared_hinge", f.shape, reduction, sample_weight, grad_output)


def _focal_params(name, alpha, gamma):
    gamma_f = _real(name, "gamma", gamma)
    if not gamma_f >= 0.0:
        _fail(name, f"gamma must be >= 0, got {_fmt(gamma)}")
    if alpha is None:
        return None, gamma_f
    alpha_f = _real(name, "alpha", alpha)
    if not 0.0 <= alpha_f <= 1.0:
        _fail(name, f"alpha must be None or in [0, 1], got {_fmt(alpha)}")
    return alpha_f, gamma_f


def sigmoid_focal(logits, target, *, alpha=0.25, gamma=2.0, reduction="mean",
                  sample_weight=None):
    """Sigmoid focal loss (torchvision ``sigmoid_focal_loss``, per element)::

        p = sigmoid(x),  ce = BCE-with-logits(x, y),  p_t = p y + (1 - p)(1 - y)
        l = alpha_t (1 - p_t)^gamma ce,   alpha_t = alpha y + (1 - alpha)(1 - y)  (1 if alpha None)

    with ``1 - p_t = y sigmoid(-x) + (1 - y) sigmoid(x)`` (no cancellation).  ``target`` may be
    soft in [0, 1].  Default reduction is "mean" (torchvision's default is "none").
    """
    alpha, gamma = _focal_params("sigmoid_focal", alpha, gamma)
    x, y = _pair("sigmoid_focal", logits, target, first="logits")
    ce = _bce_with_logits(x, y, 1.0)
    one_minus_pt = y * _sigmoid(-x) + (1.0 - y) * _sigmoid(x)
    loss = _times(one_minus_pt ** gamma, ce)
    if alpha is not None:
        loss = (alpha * y + (1.0 - alpha) * (1.0 - y)) * loss
    return _reduce("sigmoid_focal", loss, reduction, sample_weight)


def sigmoid_focal_grad(logits, target, *, grad_output=None, alpha=0.25, gamma=2.0,
                       reduction="mean", sample_weight=None):
    """With ``m = 1 - p_t``, ``dm/dx = (1 - 2y) p (1 - p)`` and ``dce/dx = (1-y) p - y (1-p)``::

        dl/dx = alpha_t (m^gamma dce/dx + gamma m^(gamma-1) dm/dx ce)

    the second term taken as 0 where ``m == 0`` or ``gamma == 0`` (and where ``dm/dx == 0``, so
    an infinite ``ce`` at infinite logits does not make it nan).
    """
    alpha, gamma = _focal_params("sigmoid_focal", alpha, gamma)
    x, y = _pair("sigmoid_focal", logits, target, first="logits")
    p, q = _sigmoid(x), _sigmoid(-x)  # q = 1 - p, computed without cancellation
    ce = _bce_with_logits(x, y, 1.0)
    m = y * q + (1.0 - y) * p
    dce = (1.0 - y) * p - y * q
    dm = (1.0 - 2.0 * y) * p * q
    focal_slope = np.zeros(x.shape)  # gamma m^(gamma - 1), 0 where m == 0 or gamma == 0
    if gamma != 0.0:
        np.power(m, gamma - 1.0, out=focal_slope, where=m > 0)
        focal_slope *= gamma
    local = m ** gamma * dce + _times(focal_slope * dm, ce)
    if alpha is not None:
        local = (alpha * y + (1.0 - alpha) * (1.0 - y)) * local
    return local * _upstream("sigmoid_focal", x.shape, reduction, sample_weight, grad_output)


# --------------------------------------------------------------------------------------------
# Multi-class: logits with a class axis (default last)
# --------------------------------------------------------------------------------------------

def _label_smoothing(name, label_smoothing):
    eps = _real(name, "label_smoothing", label_smoothing)
    if not 0.0 <= eps <= 1.0:
        _fail(name, f"label_smoothing must be in [0, 1], got {_fmt(label_smoothing)}")
    return eps


def _ignore_index(name, ignore_index):
    if isinstance(ignore_index, (bool, np.bool_)) or not isinstance(ignore_index,
                                                                    (int, np.integer)):
        _fail(name, f"ignore_index must be an integer, got {ignore_index!r}")
    return int(ignore_index)


def _cross_entropy_parts(logits, target, axis, class_weight, ignore_index, label_smoothing):
    """Unreduced loss l (classes-last layout), mean normaliser n, and the pieces of the gradient.

    Writes every target as a smoothed distribution q (smoothed one-hot for indices); then
    l = sum_j c_j q_j (lse - x_j) and dl/dx_j = (sum_k c_k q_k) softmax_j - c_j q_j.
    """
    name = "cross_entropy"
    eps = _label_smoothing(name, label_smoothing)
    ignore_index = _ignore_index(name, ignore_index)
    x, axis, C = _classes_last(name, logits, axis)
    c = _class_weight(name, class_weight, C)
    log_p = _log_softmax(x)
    softmax = np.exp(log_p)
    nll = -log_p  # lse - x
    raw = np.asarray(target)
    if raw.dtype.kind in "iu":
        t, kept, safe = _index_targets(name, x, raw, C, ignore_index)
        c_t = c[safe]
        loss = (1.0 - eps) * c_t * _gather(nll, safe)
        if eps > 0.0:  # skipped at eps == 0 so that a -inf non-target logit stays finite
            loss = loss + (eps / C) * np.sum(c * nll, axis=-1)
        loss = np.where(kept, loss, 0.0)
        norm = np.where(kept, c_t, 0.0)
        # Gradient: W softmax_j - c_j q_j with q = (1 - eps) onehot + eps / C.  The target entry
        # W p_t - c_t q_t = -(1 - eps) c_t (1 - p_t) + (eps / C)(sum(c) p_t - c_t) is written out so
        # that 1 - p_t (the sum of the other probabilities) is exact when p_t is close to 1.
        onehot = _one_hot(safe, C)
        W = (1.0 - eps) * c_t + (eps / C) * np.sum(c)
        grad = W[..., None] * softmax - c * (eps / C)
        p_t = _gather(softmax, safe)
        one_minus_pt = np.sum(np.where(onehot, 0.0, softmax), axis=-1)
        g_t = -(1.0 - eps) * c_t * one_minus_pt + (eps / C) * (np.sum(c) * p_t - c_t)
        grad = np.where(onehot, g_t[..., None], grad)
        grad = np.where(kept[..., None], grad, 0.0)
    elif raw.dtype.kind == "f":
        y = _as_float(raw)
        if y.shape != np.moveaxis(x, -1, axis).shape:
            _fail(name, f"target of probabilities must have the logits shape "
                        f"{np.moveaxis(x, -1, axis).shape}, got {y.shape}")
        q = (1.0 - eps) * np.moveaxis(y, axis, -1) + eps / C
        loss = np.sum(c * q * nll, axis=-1)
        norm = None  # mean divides by the number of rows, like PyTorch
        kept = None
        W = np.sum(c * q, axis=-1)
        grad = W[..., None] * softmax - c * q
    else:
        _fail(name, f"target must hold integer class indices or floating probabilities, "
                    f"got dtype {raw.dtype}")
    return loss, norm, kept, grad, axis


def cross_entropy(logits, target, *, axis=-1, class_weight=None, ignore_index=-100,
                  label_smoothing=0.0, reduction="mean", sample_weight=None):
    """Softmax cross entropy (PyTorch ``cross_entropy``), class axis ``axis``.

    With ``lse = logsumexp(x)`` over classes, ``c = class_weight`` (ones), ``eps =
    label_smoothing`` and C classes:

    * integer ``target`` (class indices, the logits shape without the class axis)::

          l_i = (1 - eps) c[t_i] (lse_i - x_{i,t_i}) + (eps / C) sum_j c_j (lse_i - x_ij)

      rows with ``t_i == ignore_index`` give 0; mean = sum_i s_i l_i / sum_{kept i} s_i c[t_i].
    * floating ``target`` (probabilities y, the logits' shape), ``q = (1 - eps) y + eps / C``::

          l_i = sum_j c_j q_ij (lse_i - x_ij)                 mean = sum_i s_i l_i / sum_i s_i
    """
    loss, norm, _, _, _ = _cross_entropy_parts(logits, target, axis, class_weight, ignore_index,
                                               label_smoothing)
    return _reduce("cross_entropy", loss, reduction, sample_weight, norm)


def cross_entropy_grad(logits, target, *, grad_output=None, axis=-1, class_weight=None,
                       ignore_index=-100, label_smoothing=0.0, reduction="mean",
                       sample_weight=None):
    """``dl_i/dx_ij = (sum_k c_k q_ik) softmax_ij - c_j q_ij`` (q: the smoothed target), 0 for
    ignored rows (also when every row is ignored, like PyTorch)."""
    loss, norm, kept, grad, axis = _cross_entropy_parts(logits, target, axis, class_weight,
                                                        ignore_index, label_smoothing)
    up = _upstream("cross_entropy", loss.shape, reduction, sample_weight, grad_output, norm)
    if kept is not None:
        up = np.where(kept, up, 0.0)  # 0, not 0 * nan, when the mean's denominator is 0
    return np.moveaxis(grad * up[..., None], -1, axis)


def _multiclass_hinge_parts(logits, target, margin, kind, squared, axis, class_weight):
    name = "multiclass_hinge"
    margin = _real(name, "margin", margin)
    if not math.isfinite(margin):
        _fail(name, f"margin must be finite, got {_fmt(margin)}")
    if kind not in ("weston_watkins", "crammer_singer"):
        _fail(name, f"kind must be 'weston_watkins' or 'crammer_singer', got {kind!r}")
    if not isinstance(squared, (bool, np.bool_)):
        _fail(name, f"squared must be a bool, got {squared!r}")
    x, axis, C = _classes_last(name, logits, axis)
    c = _class_weight(name, class_weight, C)
    t, _, _ = _index_targets(name, x, target, C, None)
    onehot = _one_hot(t, C)
    # h_j = max(0, margin + x_j - x_t) for j != t; h_t = 0
    h = np.where(onehot, 0.0, np.maximum(0.0, margin + x - _gather(x, t)[..., None]))
    return x, axis, C, c[t], onehot, h


def multiclass_hinge(logits, target, *, margin=1.0, kind="weston_watkins", squared=False,
                     axis=-1, class_weight=None, reduction="mean", sample_weight=None):
    """Multi-class hinge, integer targets, ``h_j = max(0, margin + x_j - x_t)`` for j != t::

        weston_watkins:  l = c[t] sum_{j != t} h_j^p        (the seed's one-vs-all form)
        crammer_singer:  l = c[t] (max_{j != t} h_j)^p      (0 when C == 1)

    ``p = 2`` if ``squared`` else 1.  Not divided by C (PyTorch ``multi_margin_loss`` is this
    weston_watkins loss divided by C).  mean = sum_i s_i l_i / sum_i s_i.
    """
    _, _, _, c_t, _, h = _multiclass_hinge_parts(logits, target, margin, kind, squared, axis,
                                                 class_weight)
    p = 2 if squared else 1
    if kind == "weston_watkins":
        loss = c_t * np.sum(h ** p, axis=-1)
    else:
        loss = c_t * np.max(h, axis=-1) ** p
    return _reduce("multiclass_hinge", loss, reduction, sample_weight)


def multiclass_hinge_grad(logits, target, *, grad_output=None, margin=1.0,
                          kind="weston_watkins", squared=False, axis=-1, class_weight=None,
                          reduction="mean", sample_weight=None):
    """Subgradient: ``dh_j^p/dx_j = [h_j > 0]`` (p = 1) or ``2 h_j`` (p = 2), and ``-`` that at
    x_t; for crammer_singer only the first argmax j of h_j gets it (nothing if max h == 0)."""
    x, axis, C, c_t, onehot, h = _multiclass_hinge_parts(logits, target, margin, kind, squared,
                                                         axis, class_weight)
    if kind == "weston_watkins":
        slope = 2.0 * h if squared else (h > 0.0).astype(np.float64)
    else:
        h_max = np.max(h, axis=-1, keepdims=True)
        first_argmax = _one_hot(np.argmax(h, axis=-1), C)
        slope = np.where(first_argmax & (h_max > 0.0), 2.0 * h_max if squared else 1.0, 0.0)
    # slope is 0 at j == t; the target logit gets minus the sum of the others
    grad = c_t[..., None] * np.where(onehot, -np.sum(slope, axis=-1, keepdims=True), slope)
    up = _upstream("multiclass_hinge", h.shape[:-1], reduction, sample_weight, grad_output)
    return np.moveaxis(grad * up[..., None], -1, axis)


def _softmax_focal_parts(logits, target, alpha, gamma, axis, ignore_index):
    name = "softmax_focal"
    gamma = _real(name, "gamma", gamma)
    if not gamma >= 0.0:
        _fail(name, f"gamma must be >= 0, got {_fmt(gamma)}")
    ignore_index = _ignore_index(name, ignore_index)
    x, axis, C = _classes_last(name, logits, axis)
    t, kept, safe = _index_targets(name, x, target, C, ignore_index)
    if alpha is None:
        a_t = np.ones(t.shape)
    elif np.ndim(alpha) == 0:
        a_t = np.full(t.shape, _real(name, "alpha", alpha))
    else:
        a_t = _class_weight(name, alpha, C, arg="alpha")[safe]
    log_p = _log_softmax(x)
    p = np.exp(log_p)
    onehot = _one_hot(safe, C)
    log_pt = _gather(log_p, safe)
    one_minus_pt = np.sum(np.where(onehot, 0.0, p), axis=-1)  # exact even when p_t ~ 1
    return x, axis, gamma, kept, a_t, p, onehot, log_pt, one_minus_pt


def softmax_focal(logits, target, *, alpha=None, gamma=2.0, axis=-1, ignore_index=-100,
                  reduction="mean", sample_weight=None):
    """Softmax focal loss, the seed's ``FL = -alpha (1 - p)^gamma log p`` with ``p = softmax_t``::

        l = -a_t (1 - p_t)^gamma log p_t

    ``a_t`` = 1 (alpha None), alpha (scalar) or alpha[t] (C per-class weights).  Rows with
    ``t == ignore_index`` give 0; mean = sum_i s_i l_i / sum_{kept i} s_i.  gamma = 0 is
    (alpha-weighted) cross entropy.
    """
    _, _, gamma, kept, a_t, _, _, log_pt, one_minus_pt = _softmax_focal_parts(
        logits, target, alpha, gamma, axis, ignore_index)
    loss = np.where(kept, -a_t * one_minus_pt ** gamma * log_pt, 0.0)
    return _reduce("softmax_focal", loss, reduction, sample_weight, kept.astype(np.float64))


def softmax_focal_grad(logits, target, *, grad_output=None, alpha=None, gamma=2.0, axis=-1,
                       ignore_index=-100, reduction="mean", sample_weight=None):
    """``dl/dx_j = K (p_j - [j == t])`` with
    ``K = a_t ((1 - p_t)^gamma - gamma (1 - p_t)^(gamma - 1) p_t log p_t)``, the gamma term
    taken as 0 where ``1 - p_t == 0`` or ``gamma == 0``; ``p_t - 1`` is ``-(1 - p_t)``."""
    x, axis, gamma, kept, a_t, p, onehot, log_pt, one_minus_pt = _softmax_focal_parts(
        logits, target, alpha, gamma, axis, ignore_index)
    focal_slope = np.zeros(one_minus_pt.shape)  # gamma (1 - p_t)^(gamma - 1), or 0
    if gamma != 0.0:
        np.power(one_minus_pt, gamma - 1.0, out=focal_slope, where=one_minus_pt > 0)
        focal_slope *= gamma
    K = a_t * (one_minus_pt ** gamma - focal_slope * np.exp(log_pt) * log_pt)
    grad = K[..., None] * np.where(onehot, -one_minus_pt[..., None], p)
    up = _upstream("softmax_focal", kept.shape, reduction, sample_weight, grad_output,
                   kept.astype(np.float64))
    up = np.where(kept, up, 0.0)
    return np.moveaxis(grad * up[..., None], -1, axis)
