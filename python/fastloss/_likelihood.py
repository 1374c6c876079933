"""Losses that are a negative log-likelihood or a divergence of given probabilities (pointwise
kernels): the Poisson negative log-likelihood, with PyTorch's semantics.

``reduction`` and ``sample_weight`` work as in :mod:`fastloss._regression`.
"""

from __future__ import annotations

import numpy as np

from ._arrays import any_array
from ._dispatch import float_input, pointwise
from . import _samplers as S
from ._registry import LossSpec, register
from ._validate import fail, positive

# The names fastloss re-exports (its package __init__ adds each module's __all__).
__all__ = [
    "poisson_nll",
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


# ---- registry entries: what the tests and benchmarks know about each loss ---------------------

register(LossSpec("poisson_nll", "likelihood", "pointwise", poisson_nll, S.poisson_counts,
                  variants=({}, {"log_input": False}, {"full": True},
                            {"log_input": False, "full": True, "eps": 1e-3}),
                  # One domain serves every variant: rates (> 0) for log_input=False, and
                  # log-rates below 80, where exp(x) summed over a batch still fits in float32
                  # (any real is valid, but past ~88 the rate itself overflows).
                  differentiable=("input",), domain={"input": (0.0, 80.0)}, convex=True))
