"""Losses that are a negative log-likelihood or a divergence of given probabilities (pointwise
kernels): the Poisson and Gaussian negative log-likelihoods and the KL divergence, with
PyTorch's semantics, differentiable in every array argument as in PyTorch (the target, and
gaussian_nll's var: ``value_and_grad(..., argnums=(0, 1, 2))``).

``reduction`` and ``sample_weight`` work as in :mod:`fastloss._regression`.
"""

from __future__ import annotations

import numpy as np

from ._arrays import any_array
from ._dispatch import all_elements, as_array, constant, float_input, pointwise
from . import _samplers as S
from ._registry import LossSpec, register
from ._validate import fail, non_negative, positive

# The names fastloss re-exports (its package __init__ adds each module's __all__).
__all__ = [
    "poisson_nll",
    "gaussian_nll",
    "kl_div",
]


def _flag(fn: str, name: str, value) -> float:
    """A bool hyper-parameter, as the kernel's 0/1 parameter."""
    if not isinstance(value, (bool, np.bool_)):
        fail(fn, f"{name} must be a bool, got {value!r}", TypeError)
    return float(bool(value))


@any_array
def poisson_nll(input, target, *, log_input=True, full=False, eps=1e-8, reduction="mean",
                sample_weight=None):
    r"""Poisson negative log-likelihood of counts, as ``torch.nn.functional.poisson_nll_loss``.

    .. math:: \ell = e^{x} - y x \quad (\texttt{log\_input}, x = \log\lambda), \qquad
       \ell = x - y \log(x + \varepsilon) \quad (\text{otherwise}, x = \lambda)

    the negative log-likelihood of :math:`y \sim \mathrm{Poisson}(\lambda)` without the constant
    :math:`\log y!`; ``full`` adds its Stirling approximation
    :math:`y \log y - y + \tfrac12 \log(2\pi y)` where :math:`y > 1` (0 for :math:`y \le 1`, as in
    PyTorch, so the loss jumps at :math:`y = 1`). The gradient is
    :math:`e^{x} - y`, or :math:`1 - y/(x + \varepsilon)`.

    Args:
      input: float32/float64 log-rates (``log_input``) or rates (> -eps, else nan as in PyTorch).
      target: counts :math:`y` (any non-negative real), of the input's shape and dtype.
      log_input: whether ``input`` is the logarithm of the rate (PyTorch's default, True).
      full: add the Stirling term.
      eps: > 0, keeps the logarithm finite at a rate of 0 (without ``log_input``).

    Differentiable in ``input`` and ``target`` (:math:`\partial\ell/\partial y = -x`, or
    :math:`-\log(x + \varepsilon)`, plus :math:`\log y + 1/(2y)` where the Stirling term is on;
    PyTorch's is nan at :math:`y = 0` with ``full``, fastloss's 0).

    >>> import numpy as np, fastloss
    >>> round(float(fastloss.poisson_nll(np.array([0.0, 1.0]), np.array([1.0, 2.0]))), 12)
    0.85914091423
    """
    fn = "poisson_nll"
    params = (_flag(fn, "log_input", log_input), _flag(fn, "full", full),
              positive(fn, "eps", eps))
    x = float_input(fn, "input", input)
    return pointwise(fn, fn, x, target, x_name="input", params=params, reduction=reduction,
                     sample_weight=sample_weight)


def _variance(fn: str, x, var):
    """(var as an array of x's dtype, its view in a layout that broadcasts to x, or None):
    PyTorch's layouts (the input's shape, its shape without the last axis, or its number of
    dimensions with exactly one axis of length 1 where the input's differs), or a number; no
    negative entry (NaN passes, as in PyTorch)."""
    if np.ndim(var) == 0 and not hasattr(var, "__cuda_array_interface__"):
        value = var if isinstance(var, (int, float)) else np.asarray(var).item()
        return constant(non_negative(fn, "var", value), like=x), None
    v = as_array(fn, "var", var)
    if v.dtype != x.dtype:
        fail(fn, f"var must have the dtype of input ({x.dtype}), got {v.dtype}", TypeError)
    # (NumPy: NaN passes, as in PyTorch; a device array's check is the one comparison a >= 0)
    if (bool(np.any(v < 0)) if isinstance(v, np.ndarray)
            else not all_elements(v, lambda a: a >= 0)):
        fail(fn, "var must be >= 0 (PyTorch: var has negative entry/entries)")
    if v.shape == x.shape:
        return v, None
    if v.shape == x.shape[:-1]:
        return v, v.reshape(v.shape + (1,))
    differ = [d for d in range(v.ndim) if v.ndim == x.ndim and v.shape[d] != x.shape[d]]
    if v.ndim == x.ndim and len(differ) == 1 and v.shape[differ[0]] == 1:
        return v, None
    fail(fn, f"var of shape {v.shape} must have the input's shape {x.shape}, that shape without "
             f"the last axis, or one axis of length 1 where it differs")


@any_array
def gaussian_nll(input, target, var, *, full=False, eps=1e-6, reduction="mean",
                 sample_weight=None):
    r"""Gaussian negative log-likelihood, as ``torch.nn.functional.gaussian_nll_loss``.

    .. math:: \ell = \tfrac12\left(\log v + \frac{(x - y)^2}{v}\right), \quad
       v = \max(\mathrm{var}, \varepsilon)

    (plus :math:`\tfrac12\log 2\pi` with ``full``): the negative log-likelihood of :math:`y`
    under :math:`\mathcal N(x, \mathrm{var})`, for regression that predicts its own
    uncertainty. Differentiable in ``input``, ``target`` and ``var`` (``argnums=2``):
    :math:`\partial\ell/\partial x = (x - y)/v = -\partial\ell/\partial y`,
    :math:`\partial\ell/\partial\mathrm{var} = \tfrac12(1/v - (x - y)^2/v^2)`, also below
    :math:`\varepsilon`, as PyTorch's (it clamps without recording the clamp); a broadcast
    ``var``'s gradient is summed over its broadcast axes.

    Args:
      input: float32/float64 means :math:`x`.
      target: observations :math:`y`, of the input's shape and dtype.
      var: variances >= 0 (a negative one is a ValueError, as in PyTorch) of the input's shape
        (heteroscedastic), of that shape without the last axis or with one axis of length 1
        (homoscedastic along it), of the input's dtype; or a number.
      full: add the constant :math:`\tfrac12\log 2\pi`.
      eps: > 0, the clamp of the variance.

    >>> import numpy as np, fastloss
    >>> round(float(fastloss.gaussian_nll(np.array([1.0]), np.array([0.0]), np.array([1.0]))), 12)
    0.5
    """
    fn = "gaussian_nll"
    params = (_flag(fn, "full", full), positive(fn, "eps", eps))
    x = float_input(fn, "input", input)
    v, view = _variance(fn, x, var)
    return pointwise(fn, fn, x, target, x_name="input", param=v, param_name="var",
                     param_view=view, params=params, reduction=reduction,
                     sample_weight=sample_weight)


_KL_REDUCTIONS = ("mean", "sum", "none", "batchmean")


@any_array
def kl_div(input, target, *, log_target=False, reduction="mean", sample_weight=None):
    r"""Pointwise Kullback-Leibler divergence of given probabilities, as
    ``torch.nn.functional.kl_div``: ``input`` holds log-probabilities :math:`x = \log q`.

    .. math:: \ell = p\,(\log p - x) \quad (\ell = 0 \text{ where } p = 0), \qquad
       \texttt{log\_target}: \ell = e^{t}(t - x),\ t = \log p

    whose sum over a distribution's axis is :math:`\mathrm{KL}(p\,\|\,q)`. A term whose
    coefficient (:math:`p`, :math:`e^t`) is exactly 0 is 0, also where :math:`x = -\infty`
    (PyTorch: nan). Differentiable in ``input`` (:math:`-p`) and ``target``
    (:math:`\log p + 1 - x`, :math:`-\infty` at :math:`p = 0` where PyTorch's is nan; with
    ``log_target`` :math:`e^t(t - x + 1)`).

    Reductions are PyTorch's: ``"batchmean"`` divides the sum by ``input.shape[0]`` (by 1 for
    a 0-d input), which is the KL divergence per sample. **Use "batchmean"**: ``"mean"`` (the
    default, as in PyTorch) divides by the number of *elements*, so it is the divergence
    divided by the number of classes too, PyTorch's documented trap.

    Args:
      input: float32/float64 log-probabilities.
      target: probabilities (or log-probabilities with ``log_target``) of the input's shape and
        dtype.
      log_target: whether ``target`` holds log-probabilities.

    >>> import numpy as np, fastloss
    >>> p, q = np.array([[0.5, 0.5]]), np.array([[0.25, 0.75]])
    >>> round(float(fastloss.kl_div(np.log(q), p, reduction="batchmean")), 12)
    0.143841036226
    """
    fn = "kl_div"
    if not isinstance(reduction, str) or reduction not in _KL_REDUCTIONS:
        fail(fn, f"reduction must be 'mean', 'sum', 'none' or 'batchmean', got {reduction!r}")
    params = (_flag(fn, "log_target", log_target),)
    x = float_input(fn, "input", input)
    divisor = None
    if reduction == "batchmean":
        reduction, divisor = "sum", (x.shape[0] if x.ndim else 1)
    return pointwise(fn, fn, x, target, x_name="input", params=params, reduction=reduction,
                     sample_weight=sample_weight, divisor=divisor)


# ---- registry entries: what the tests and benchmarks know about each loss ---------------------

register(LossSpec("poisson_nll", "likelihood", "pointwise", poisson_nll, S.poisson_counts,
                  variants=({}, {"log_input": False}, {"full": True},
                            {"log_input": False, "full": True, "eps": 1e-3}),
                  # One domain serves every variant: rates (> 0) for log_input=False, and
                  # log-rates below 80, where exp(x) summed over a batch still fits in float32
                  # (any real is valid, but past ~88 the rate itself overflows).
                  differentiable=("input", "target"), domain={"input": (0.0, 80.0)},
                  # The input's gradient, 1 - t / (x + eps) or exp(x) - t, is a difference of
                  # terms of the target's size: near x = t it is as exact as a few eps of them,
                  # however small the difference (float32 rounds 1 - 1 / (1 + 1e-8) to 0).
                  tolerance={np.dtype(np.float32): {"abs_floor": 2e-6},
                             np.dtype(np.float64): {"abs_floor": 2e-14}},
                  kinks=S.poisson_kinks, convex=True, nonnegative=False))
register(LossSpec("gaussian_nll", "likelihood", "pointwise", gaussian_nll, S.gaussian,
                  # (var's broadcast layouts: tests/test_likelihood.py)
                  variants=({}, {"full": True}, {"eps": 0.3}),
                  differentiable=("input", "target", "var"), domain={"var": (0.0, np.inf)},
                  # (convex in the input for a fixed var, not jointly in (input, var))
                  kinks=S.gaussian_kinks, growth="quadratic", convex=True, nonnegative=False))
register(LossSpec("kl_div", "likelihood", "pointwise", kl_div, S.log_probabilities,
                  variants=({}, {"log_target": True}),
                  differentiable=("input", "target"),
                  kinks=S.kl_div_kinks, convex=True, nonnegative=False))
