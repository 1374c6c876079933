"""Regression losses (the lecture's "Regression Loss Functions"): pred and target of one shape.

Every loss here is a function of ``d = pred - target`` alone, so its gradient with respect to
target is minus its gradient with respect to pred; ``NAME_grad(..., argnums=1)`` returns that.
"""

from __future__ import annotations

import math

import numpy as np

from ._argnums import _select
from ._checks import _as_float, _fail, _fmt, _pair, _real
from ._reductions import _reduce, _upstream

# The names fastloss re-exports (its package __init__ adds each module's __all__).
__all__ = [
    "mse",
    "mse_grad",
    "mae",
    "mae_grad",
    "huber",
    "huber_grad",
    "smooth_l1",
    "smooth_l1_grad",
    "quantile",
    "quantile_grad",
    "log_cosh",
    "log_cosh_grad",
]

_LOG2 = math.log(2.0)


def _gradient(name, slope, argnums, reduction, sample_weight, grad_output):
    """dl/dpred = slope (the derivative in d) times the upstream gradient; dl/dtarget = -dl/dpred.
    Returns the one(s) argnums asks for."""
    d_pred = slope * _upstream(name, np.shape(slope), reduction, sample_weight, grad_output)
    return _select(name, ("pred", "target"), argnums, {"pred": d_pred, "target": -d_pred})


def mse(pred, target, *, reduction="mean", sample_weight=None):
    """Squared error ``l = (pred - target)^2``; its mean is the lecture's
    ``MSE = 1/n sum_i (y_i - yhat_i)^2`` (the Gaussian negative log-likelihood, up to constants)."""
    pred, target = _pair("mse", pred, target)
    d = pred - target
    return _reduce("mse", d * d, reduction, sample_weight)


def mse_grad(pred, target, *, grad_output=None, argnums=0, reduction="mean",
             sample_weight=None):
    """The lecture's ``dMSE/dyhat_i = -2 (y_i - yhat_i)``: ``dl/dpred = 2 (pred - target)``."""
    pred, target = _pair("mse", pred, target)
    d = pred - target
    return _gradient("mse", 2.0 * d, argnums, reduction, sample_weight, grad_output)


def mae(pred, target, *, reduction="mean", sample_weight=None):
    """Absolute error ``l = |pred - target|``; its mean is the lecture's ``MAE = 1/n sum_i |y_i -
    yhat_i|`` (the Laplace negative log-likelihood; its constant minimiser is the median)."""
    pred, target = _pair("mae", pred, target)
    return _reduce("mae", np.abs(pred - target), reduction, sample_weight)


def mae_grad(pred, target, *, grad_output=None, argnums=0, reduction="mean",
             sample_weight=None):
    """The lecture's ``sign(yhat - y)``: ``dl/dpred = sign(pred - target)``, 0 at the kink
    d == 0."""
    pred, target = _pair("mae", pred, target)
    d = pred - target
    return _gradient("mae", np.sign(d), argnums, reduction, sample_weight, grad_output)


def _check_delta(name, arg, value, allow_zero):
    v = _real(name, arg, value)
    if not (v >= 0 if allow_zero else v > 0):
        _fail(name, f"{arg} must be {'>= 0' if allow_zero else '> 0'}, got {_fmt(value)}")
    return v


def huber(pred, target, *, delta=1.0, reduction="mean", sample_weight=None):
    """Huber loss (P. J. Huber, "Robust Estimation of a Location Parameter", 1964; PyTorch
    ``huber_loss``), the lecture's ``L_delta`` with ``z = |pred - target|``::

        l = 0.5 z^2                  if z < delta
            delta (z - 0.5 delta)    otherwise          (delta > 0)
    """
    delta = _check_delta("huber", "delta", delta, allow_zero=False)
    pred, target = _pair("huber", pred, target)
    z = np.abs(pred - target)
    loss = np.where(z < delta, 0.5 * z * z, delta * (z - 0.5 * delta))
    return _reduce("huber", loss, reduction, sample_weight)


def huber_grad(pred, target, *, grad_output=None, argnums=0, delta=1.0, reduction="mean",
               sample_weight=None):
    """The lecture's ``-(y - yhat)`` inside delta, ``-delta sign(y - yhat)`` outside::

        dl/dpred = d  if |d| <= delta  else  delta sign(d)
    """
    delta = _check_delta("huber", "delta", delta, allow_zero=False)
    pred, target = _pair("huber", pred, target)
    d = pred - target
    local = np.where(np.abs(d) <= delta, d, delta * np.sign(d))
    return _gradient("huber", local, argnums, reduction, sample_weight, grad_output)


def smooth_l1(pred, target, *, beta=1.0, reduction="mean", sample_weight=None):
    """Smooth L1 (R. Girshick, "Fast R-CNN", 2015; PyTorch ``smooth_l1_loss``), the Huber loss
    divided by its threshold, ``z = |pred - target|``::

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


def smooth_l1_grad(pred, target, *, grad_output=None, argnums=0, beta=1.0, reduction="mean",
                   sample_weight=None):
    """``dl/dpred = d / beta`` if ``|d| < beta`` else ``sign(d)``."""
    beta = _check_delta("smooth_l1", "beta", beta, allow_zero=True)
    pred, target = _pair("smooth_l1", pred, target)
    d = pred - target
    if beta == 0.0:
        local = np.sign(d)
    else:
        local = np.where(np.abs(d) < beta, d / beta, np.sign(d))
    return _gradient("smooth_l1", local, argnums, reduction, sample_weight, grad_output)


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
    """Quantile (pinball) loss (R. Koenker and G. Bassett, "Regression Quantiles", 1978), the
    lecture's ``L_tau`` with ``u = target - pred``::

        l = tau u          if u >= 0
            (tau - 1) u    if u < 0          (= max(tau u, (tau - 1) u))

    ``tau`` is a scalar in (0, 1) or a 1-D array of quantiles of length ``pred.shape[-1]``
    (multi-quantile regression: broadcast along the last axis).  Its constant minimiser is the
    tau-quantile of the targets; tau = 0.5 is half the MAE.
    """
    pred, target = _pair("quantile", pred, target)
    tau = _tau("quantile", tau, pred)
    u = target - pred
    loss = np.where(u >= 0, tau * u, (tau - 1.0) * u)
    return _reduce("quantile", loss, reduction, sample_weight)


def quantile_grad(pred, target, *, grad_output=None, argnums=0, tau=0.5, reduction="mean",
                  sample_weight=None):
    """``dl/dpred = -tau`` if ``u > 0``, ``1 - tau`` if ``u < 0``, 0 if ``u == 0``."""
    pred, target = _pair("quantile", pred, target)
    tau = _tau("quantile", tau, pred)
    u = target - pred
    local = np.where(u > 0, -tau, np.where(u < 0, 1.0 - tau, 0.0))
    return _gradient("quantile", local, argnums, reduction, sample_weight, grad_output)


def log_cosh(pred, target, *, reduction="mean", sample_weight=None):
    """The lecture's log-cosh loss ``l = log(cosh(pred - target))`` (about d^2/2 for small d and
    |d| - log 2 for large d), with ``a = |d|`` evaluated as::

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


def log_cosh_grad(pred, target, *, grad_output=None, argnums=0, reduction="mean",
                  sample_weight=None):
    """The lecture's ``dL/dyhat_i = tanh(yhat_i - y_i)``: ``dl/dpred = tanh(pred - target)``."""
    pred, target = _pair("log_cosh", pred, target)
    d = pred - target
    return _gradient("log_cosh", np.tanh(d), argnums, reduction, sample_weight, grad_output)

