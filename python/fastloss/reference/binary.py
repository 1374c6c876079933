"""Binary classification (the lecture's binary cross-entropy, hinge and focal losses): one score
or probability per element and a target of the same shape.

Only the first argument (the probability, logit or score) has a gradient: the targets are
labels, or soft labels that no caller differentiates.
"""

from __future__ import annotations

import numpy as np

from ._argnums import _select
from ._checks import _broadcast_arg, _fail, _fmt, _pair, _real
from ._reductions import _reduce, _upstream

# The names fastloss re-exports (its package __init__ adds each module's __all__).
__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_grad",
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits_grad",
    "hinge",
    "hinge_grad",
    "squared_hinge",
    "squared_hinge_grad",
    "sigmoid_focal",
    "sigmoid_focal_grad",
    "soft_margin",
    "soft_margin_grad",
]

# PyTorch's binary_cross_entropy clamps each log term at -100 and divides its gradient by
# max(p * (1 - p), 1e-12); both constants are part of the behaviour we reproduce.
_BCE_LOG_CLAMP = -100.0
_BCE_GRAD_EPS = 1e-12


def _gradient(name, first, slope, argnums, reduction, sample_weight, grad_output):
    """d/d first = slope (the elementwise derivative) times the upstream gradient."""
    d_first = slope * _upstream(name, np.shape(slope), reduction, sample_weight, grad_output)
    return _select(name, (first, "target"), argnums, {first: d_first})


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


def _probabilities(name, prob, target):
    p, y = _pair(name, prob, target, first="prob")
    bad = ~((p >= 0.0) & (p <= 1.0))  # nan is rejected too, like PyTorch
    if np.any(bad):
        _fail(name, f"prob must be in [0, 1], got {_fmt(p[bad].flat[0])}")
    return p, y


def binary_cross_entropy(prob, target, *, reduction="mean", sample_weight=None):
    """The lecture's binary cross-entropy on probabilities (PyTorch ``binary_cross_entropy``),
    ``BCE = -[y log p + (1 - y) log(1 - p)]`` with each log clamped like PyTorch::

        l = -(y max(log p, -100) + (1 - y) max(log(1 - p), -100))

    ``prob`` must lie in [0, 1]; ``target`` may be soft.
    """
    p, y = _probabilities("binary_cross_entropy", prob, target)
    with np.errstate(divide="ignore"):  # log 0 = -inf, then clamped
        log_p = np.maximum(np.log(p), _BCE_LOG_CLAMP)
        log_1mp = np.maximum(np.log1p(-p), _BCE_LOG_CLAMP)
    loss = -(y * log_p + (1.0 - y) * log_1mp)
    return _reduce("binary_cross_entropy", loss, reduction, sample_weight)


def binary_cross_entropy_grad(prob, target, *, grad_output=None, argnums=0, reduction="mean",
                              sample_weight=None):
    """PyTorch's backward: ``dl/dp = (p - y) / max(p (1 - p), 1e-12)``."""
    p, y = _probabilities("binary_cross_entropy", prob, target)
    local = (p - y) / np.maximum(p * (1.0 - p), _BCE_GRAD_EPS)
    return _gradient("binary_cross_entropy", "prob", local, argnums, reduction, sample_weight,
                     grad_output)


def _pos_weight(name, pos_weight, shape):
    if pos_weight is None:
        return np.ones(shape)
    return _broadcast_arg(name, "pos_weight", pos_weight, shape, "target")


def _bce_with_logits(x, y, pw):
    """(1 - y) softplus(x) + pw y softplus(-x), a term being 0 where its coefficient is 0."""
    return _times(1.0 - y, _softplus(x)) + _times(pw * y, _softplus(-x))


def binary_cross_entropy_with_logits(logits, target, *, pos_weight=None, reduction="mean",
                                     sample_weight=None):
    """Binary cross entropy on logits (PyTorch ``binary_cross_entropy_with_logits``), the
    lecture's BCE with ``p = sigmoid(x)``::

        l = (1 - y) softplus(x) + pw y softplus(-x)

    which for ``pw = 1`` is the lecture's stable form ``max(x, 0) - x y + log(1 + exp(-|x|))``.
    ``pos_weight`` broadcasts against ``target`` (typically shape ``(C,)``, the last axis).  A
    term whose coefficient ``(1 - y)`` or ``pw y`` is exactly 0 is 0, so logits of +-inf give the
    limits.
    """
    name = "binary_cross_entropy_with_logits"
    x, y = _pair(name, logits, target, first="logits")
    pw = _pos_weight(name, pos_weight, x.shape)
    return _reduce(name, _bce_with_logits(x, y, pw), reduction, sample_weight)


def binary_cross_entropy_with_logits_grad(logits, target, *, grad_output=None, argnums=0,
                                          pos_weight=None, reduction="mean", sample_weight=None):
    """``dl/dx = (1 - y) sigmoid(x) - pw y sigmoid(-x)``: for pw = 1 the lecture's ``p - y``."""
    name = "binary_cross_entropy_with_logits"
    x, y = _pair(name, logits, target, first="logits")
    pw = _pos_weight(name, pos_weight, x.shape)
    local = (1.0 - y) * _sigmoid(x) - pw * y * _sigmoid(-x)
    return _gradient(name, "logits", local, argnums, reduction, sample_weight, grad_output)


def _signed_labels(name, pred, target):
    """Labels in {-1, +1} (0 maps to -1) as float64, checked element by element."""
    f, t = _pair(name, pred, target)
    bad = ~((t == -1.0) | (t == 0.0) | (t == 1.0))
    if np.any(bad):
        _fail(name, f"target labels must be -1, 0 or 1 (0 means -1), got {_fmt(t[bad].flat[0])}")
    return f, np.where(t == 0.0, -1.0, t)


def hinge(pred, target, *, reduction="mean", sample_weight=None):
    """The lecture's hinge (SVM) loss ``l = max(0, 1 - y f)``, labels y in {-1, +1} (or {0, 1},
    0 meaning -1); 0 beyond the margin."""
    f, y = _signed_labels("hinge", pred, target)
    return _reduce("hinge", np.maximum(0.0, 1.0 - y * f), reduction, sample_weight)


def hinge_grad(pred, target, *, grad_output=None, argnums=0, reduction="mean", sample_weight=None):
    """``dl/df = -y`` where ``1 - y f > 0``, else 0 (the subgradient 0 at the kink)."""
    f, y = _signed_labels("hinge", pred, target)
    local = np.where(1.0 - y * f > 0.0, -y, 0.0)
    return _gradient("hinge", "pred", local, argnums, reduction, sample_weight, grad_output)


def squared_hinge(pred, target, *, reduction="mean", sample_weight=None):
    """The lecture's squared hinge loss ``l = max(0, 1 - y f)^2`` (differentiable everywhere)."""
    f, y = _signed_labels("squared_hinge", pred, target)
    h = np.maximum(0.0, 1.0 - y * f)
    return _reduce("squared_hinge", h * h, reduction, sample_weight)


def squared_hinge_grad(pred, target, *, grad_output=None, argnums=0, reduction="mean",
                       sample_weight=None):
    """``dl/df = -2 y max(0, 1 - y f)``."""
    f, y = _signed_labels("squared_hinge", pred, target)
    local = -2.0 * y * np.maximum(0.0, 1.0 - y * f)
    return _gradient("squared_hinge", "pred", local, argnums, reduction, sample_weight, grad_output)


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
    """Sigmoid focal loss (T.-Y. Lin et al., "Focal Loss for Dense Object Detection", 2017;
    torchvision ``sigmoid_focal_loss``): the lecture's ``FL = -alpha (1 - p)^gamma log p`` per
    element, with p the probability of the element's label::

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


def sigmoid_focal_grad(logits, target, *, grad_output=None, argnums=0, alpha=0.25, gamma=2.0,
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
    return _gradient("sigmoid_focal", "logits", local, argnums, reduction, sample_weight,
                     grad_output)




def soft_margin(input, target, *, reduction="mean", sample_weight=None):
    """Soft margin loss (PyTorch ``soft_margin_loss``), the lecture's logistic loss of the margin
    ``y x`` for labels y in {-1, +1} (any real target is accepted, as by PyTorch)::

        l = log(1 + exp(-y x)) = softplus(-y x)

    ``np.logaddexp`` keeps it exact for every |x| (PyTorch's form overflows to inf).
    """
    x, y = _pair("soft_margin", input, target, first="input")
    return _reduce("soft_margin", _softplus(-y * x), reduction, sample_weight)


def soft_margin_grad(input, target, *, grad_output=None, argnums=0, reduction="mean",
                     sample_weight=None):
    """``dl/dx = -y sigmoid(-y x)``; the target has no gradient (as in PyTorch)."""
    x, y = _pair("soft_margin", input, target, first="input")
    local = -y * _sigmoid(-y * x)
    return _gradient("soft_margin", "input", local, argnums, reduction, sample_weight,
                     grad_output)
