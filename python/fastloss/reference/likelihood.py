"""Losses that are a negative log-likelihood or a divergence of given probabilities (the
lecture's maximum-likelihood view of losses): the Poisson negative log-likelihood of a count,
as PyTorch's ``poisson_nll_loss``.

The first argument is a prediction (a rate or its logarithm); the target is a count.
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
    """``dl/dx = exp(x) - y`` (log_input), else ``1 - y / (x + eps)``."""
    x, y, log_input, full, eps = _poisson_args(input, target, log_input, full, eps)
    with np.errstate(divide="ignore", invalid="ignore"):
        local = np.exp(x) - y if log_input else 1.0 - y / (x + eps)
    up = _upstream("poisson_nll", x.shape, reduction, sample_weight, grad_output)
    return _select("poisson_nll", ("input", "target"), argnums, {"input": local * up})
