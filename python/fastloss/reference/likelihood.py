"""Losses that are a negative log-likelihood or a divergence of given probabilities (the
lecture's maximum-likelihood view of losses and its KL divergence), as PyTorch defines them:
``poisson_nll_loss``, ``gaussian_nll_loss`` and ``kl_div``.

The first argument is a prediction (a rate or its logarithm, a mean, log-probabilities). PyTorch
differentiates every argument of these, and so do the references: the target (counts,
observations, probabilities) and gaussian_nll's variance.
"""

from __future__ import annotations

import math

import numpy as np

from ._argnums import _select
from ._checks import _fail, _fmt, _pair, _real
from ._reductions import _reduce, _upstream

# The names fastloss re-exports (its package __init__ adds each module's __all__).
__all__ = [
    "poisson_nll",
    "poisson_nll_grad",
    "gaussian_nll",
    "gaussian_nll_grad",
    "kl_div",
    "kl_div_grad",
]


def _flag(name, arg, value):
    if not isinstance(value, (bool, np.bool_)):
        _fail(name, f"{arg} must be a bool, got {_fmt(value)}")
    return bool(value)


def _positive(name, arg, value):
    v = _real(name, arg, value)
    if not (v > 0 and math.isfinite(v)):
        _fail(name, f"{arg} must be finite and > 0, got {_fmt(value)}")
    return v


def _poisson_args(input, target, log_input, full, eps):
    name = "poisson_nll"
    x, y = _pair(name, input, target, first="input")
    return x, y, _flag(name, "log_input", log_input), _flag(name, "full", full), \
        _positive(name, "eps", eps)


def _stirling(y):
    """Stirling's approximation of log(y!), y log y - y + 0.5 log(2 pi y), where y > 1, else 0
    (PyTorch's rule)."""
    big = y > 1.0
    safe = np.where(big, y, 2.0)
    return np.where(big, safe * np.log(safe) - safe + 0.5 * np.log(2.0 * np.pi * safe), 0.0)


def poisson_nll(input, target, *, log_input=True, full=False, eps=1e-8, reduction="mean",
                sample_weight=None):
    """Poisson negative log-likelihood of counts y at rate r, without log(y!) (PyTorch
    ``poisson_nll_loss``)::

        log_input:  l = exp(x) - y x            (x = log r)
        otherwise:  l = x - y log(x + eps)      (x = r)

    ``full`` adds Stirling's approximation of log(y!) where y > 1.
    """
    x, y, log_input, full, eps = _poisson_args(input, target, log_input, full, eps)
    with np.errstate(divide="ignore", invalid="ignore"):
        loss = np.exp(x) - y * x if log_input else x - y * np.log(x + eps)
    if full:
        loss = loss + _stirling(y)
    return _reduce("poisson_nll", loss, reduction, sample_weight)


def poisson_nll_grad(input, target, *, grad_output=None, argnums=0, log_input=True, full=False,
                     eps=1e-8, reduction="mean", sample_weight=None):
    """``dl/dx = exp(x) - y`` (log_input), else ``1 - y / (x + eps)``; ``dl/dy = -x``, else
    ``-log(x + eps)``, plus ``log y + 1 / (2 y)`` where full and y > 1 (0 elsewhere, where the
    Stirling term is 0)."""
    x, y, log_input, full, eps = _poisson_args(input, target, log_input, full, eps)
    with np.errstate(divide="ignore", invalid="ignore"):
        d_x = np.exp(x) - y if log_input else 1.0 - y / (x + eps)
        d_y = -x if log_input else -np.log(x + eps)
    if full:
        big = y > 1.0
        safe = np.where(big, y, 2.0)
        d_y = d_y + np.where(big, np.log(safe) + 0.5 / safe, 0.0)
    up = _upstream("poisson_nll", x.shape, reduction, sample_weight, grad_output)
    return _select("poisson_nll", ("input", "target"), argnums,
                   {"input": d_x * up, "target": d_y * up})


# ---- gaussian_nll -------------------------------------------------------------------------------

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def _gaussian_args(input, target, var, full, eps):
    """x, y, the variance broadcast to x's shape (as given: PyTorch's three layouts) and its
    clamp max(var, eps)."""
    name = "gaussian_nll"
    x, y = _pair(name, input, target, first="input")
    full = _flag(name, "full", full)
    eps = _positive(name, "eps", eps)
    v = np.asarray(var, dtype=np.float64)
    if np.any(v < 0):
        _fail(name, f"var must be >= 0, got {_fmt(v[v < 0].flat[0])}")
    v = _var_layout(name, v, x.shape)
    return x, y, v, np.where(np.isnan(v), v, np.maximum(v, eps)), full


def _var_layout(name, v, shape):
    """PyTorch's rules: var of the input's shape, or of its shape without the last axis, or of
    its number of dimensions with exactly one axis of length 1 where the input's differs; a
    number is a variance shared by every element."""
    if v.ndim == 0 or v.shape == shape:
        return np.broadcast_to(v, shape)
    if v.shape == shape[:-1]:
        return np.broadcast_to(v[..., None], shape)
    if v.ndim == len(shape):
        differ = [d for d in range(v.ndim) if v.shape[d] != shape[d]]
        if len(differ) == 1 and v.shape[differ[0]] == 1:
            return np.broadcast_to(v, shape)
    _fail(name, f"var of shape {v.shape} does not fit the input's shape {shape}")


def _sum_to_shape(g, shape):
    """A full-shape gradient summed over the axes along which var broadcast to it."""
    if g.shape == shape:
        return g
    if len(shape) == 0:
        return np.asarray(np.sum(g))
    if len(shape) == g.ndim - 1:
        return np.sum(g, axis=-1)
    axes = tuple(d for d in range(g.ndim) if shape[d] == 1 and g.shape[d] != 1)
    return np.sum(g, axis=axes, keepdims=True)


def gaussian_nll(input, target, var, *, full=False, eps=1e-6, reduction="mean",
                 sample_weight=None):
    """Gaussian negative log-likelihood of y under N(x, var) (PyTorch ``gaussian_nll_loss``)::

        l = 0.5 (log v + (x - y)^2 / v),   v = max(var, eps)

    plus 0.5 log(2 pi) with ``full``. ``var`` >= 0 has the input's shape, its shape without the
    last axis, or one axis of length 1 (PyTorch's layouts), or is a number.
    """
    x, y, _, v, full = _gaussian_args(input, target, var, full, eps)
    loss = 0.5 * (np.log(v) + (x - y) ** 2 / v) + (_HALF_LOG_2PI if full else 0.0)
    return _reduce("gaussian_nll", loss, reduction, sample_weight)


def gaussian_nll_grad(input, target, var, *, grad_output=None, argnums=0, full=False, eps=1e-6,
                      reduction="mean", sample_weight=None):
    """``dl/dx = (x - y) / v = -dl/dy`` and ``dl/dvar = 0.5 (1 / v - (x - y)^2 / v^2)``, the
    latter also below eps (PyTorch clamps under no_grad: the clamp passes the gradient), summed
    over the axes along which var was broadcast."""
    x, y, _, v, full = _gaussian_args(input, target, var, full, eps)
    r = (x - y) / v
    up = _upstream("gaussian_nll", x.shape, reduction, sample_weight, grad_output)
    d_var = _sum_to_shape(0.5 * (1.0 / v - r * r) * up, np.shape(var))
    return _select("gaussian_nll", ("input", "target", "var"), argnums,
                   {"input": r * up, "target": -r * up, "var": d_var})


# ---- kl_div -------------------------------------------------------------------------------------

def _kl_reduction(reduction):
    """PyTorch's reductions plus batchmean (the sum divided by the first dimension)."""
    if reduction == "batchmean":
        return "sum", True
    return reduction, False


def _batch(x):
    """batchmean's divisor: input.shape[0], or 1 for a 0-d input (PyTorch divides only when
    input.dim() != 0)."""
    return x.shape[0] if x.ndim else 1


def _kl_args(input, target, log_target):
    x, y = _pair("kl_div", input, target, first="input")
    return x, y, _flag("kl_div", "log_target", log_target)


def kl_div(input, target, *, log_target=False, reduction="mean", sample_weight=None):
    """Pointwise Kullback-Leibler divergence (PyTorch ``kl_div``) of given probabilities p from
    log-probabilities x = log q::

        l = p (log p - x)           (0 where p == 0: 0 log 0 = 0, also for x = -inf)
        log_target (t = log p):  l = exp(t) (t - x)

    whose sum over a distribution is the lecture's KL(p || q). Reductions: PyTorch's, with
    ``mean`` dividing by the number of elements and ``batchmean`` by ``input.shape[0]``.
    """
    x, y, log_target = _kl_args(input, target, log_target)
    red, batch = _kl_reduction(reduction)
    with np.errstate(divide="ignore", invalid="ignore"):
        if log_target:
            e = np.exp(y)
            loss = np.where(e == 0.0, 0.0, e * (y - x))
        else:
            loss = np.where(y == 0.0, 0.0, y * (np.log(y) - x))
    loss = np.where(np.isnan(x), x, loss)
    out = _reduce("kl_div", loss, red, sample_weight)
    return out / _batch(x) if batch else out


def kl_div_grad(input, target, *, grad_output=None, argnums=0, log_target=False, reduction="mean",
                sample_weight=None):
    """``dl/dx = -p`` (``-exp(t)``); ``dl/dp = log p + 1 - x`` (-inf at p = 0, the limit of
    log p), or ``dl/dt = exp(t) (t - x + 1)`` (0 where exp(t) == 0)."""
    x, y, log_target = _kl_args(input, target, log_target)
    red, batch = _kl_reduction(reduction)
    with np.errstate(divide="ignore", invalid="ignore"):
        if log_target:
            e = np.exp(y)
            d_x, d_y = -e, np.where(e == 0.0, 0.0, e * (y - x + 1.0))
        else:
            d_x, d_y = -y, np.where(y == 0.0, -np.inf, np.log(y) + 1.0 - x)
    d_x, d_y = np.where(np.isnan(x), x, d_x), np.where(np.isnan(x), x, d_y)
    up = _upstream("kl_div", x.shape, red, sample_weight, grad_output)
    if batch:
        up = up / _batch(x)
    with np.errstate(invalid="ignore"):  # -inf (p = 0) times a weight of 0
        return _select("kl_div", ("input", "target"), argnums,
                       {"input": d_x * up, "target": d_y * up})
