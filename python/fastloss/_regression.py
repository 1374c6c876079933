"""Regression losses: pred and target of one shape, one fused pointwise kernel each.

Common arguments (documented once here, accepted by every function):

* ``reduction``: ``"mean"`` (default) returns sum(w * l) / sum(w) (sum(l) / n without weights),
  ``"sum"`` returns sum(w * l), ``"none"`` returns w * l with the inputs' shape. Reduced results
  are 0-d arrays of the input dtype. An empty input gives nan for mean and 0 for sum.
* ``sample_weight``: non-negative weights broadcastable to the input shape, or None.

float32 and float64 are computed natively; NaN propagates to the loss and the gradient.
"""

from __future__ import annotations

import numpy as np

from ._arrays import any_array
from ._small_call import small_call
from ._dispatch import all_elements, checked_weights, constant, float_input, pointwise
from . import _samplers as S
from ._registry import LossSpec, register
from ._validate import fail, in_open_unit_interval, non_negative, positive

# The names fastloss re-exports (its package __init__ adds each module's __all__).
__all__ = [
    "mse",
    "mae",
    "huber",
    "smooth_l1",
    "quantile",
    "log_cosh",
]


@small_call("mse")
@any_array
def mse(pred, target, *, reduction="mean", sample_weight=None):
    r"""Mean squared error.

    .. math:: \ell = (\hat y - y)^2, \qquad \partial\ell/\partial\hat y = 2(\hat y - y)

    Args:
      pred: float32/float64 array of predictions :math:`\hat y`.
      target: array of targets :math:`y`, same shape and dtype.
      reduction: ``"mean"`` | ``"sum"`` | ``"none"``.
      sample_weight: optional non-negative weights broadcastable to the shape.

    Returns:
      0-d array for mean/sum, else the per-element losses.

    >>> import numpy as np, fastloss
    >>> float(fastloss.mse(np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 0.0])))
    4.333333333333333

    Same values as ``torch.nn.functional.mse_loss``. Reference: the lecture's MSE (Gaussian
    maximum likelihood); reductions as in the module doc.
    """
    x = float_input("mse", "pred", pred)
    return pointwise("mse", "mse", x, target, x_name="pred", reduction=reduction,
                     sample_weight=sample_weight)


@small_call("mae")
@any_array
def mae(pred, target, *, reduction="mean", sample_weight=None):
    r"""Mean absolute error.

    .. math:: \ell = |\hat y - y|, \qquad \partial\ell/\partial\hat y = \operatorname{sign}(\hat y - y)

    with the subgradient 0 at :math:`\hat y = y` (as ``torch.nn.functional.l1_loss``).

    >>> import numpy as np, fastloss
    >>> float(fastloss.mae(np.array([1.0, -2.0]), np.array([0.0, 0.0])))
    1.5

    Args, returns and reductions as :func:`mse`. Reference: the lecture's MAE (Laplace likelihood;
    its constant minimiser is the median).
    """
    x = float_input("mae", "pred", pred)
    return pointwise("mae", "mae", x, target, x_name="pred", reduction=reduction,
                     sample_weight=sample_weight)


@small_call("huber", "delta")
@any_array
def huber(pred, target, *, delta=1.0, reduction="mean", sample_weight=None):
    r"""Huber loss: quadratic for small errors, linear for large ones.

    .. math::
       \ell = \begin{cases} \tfrac12 d^2 & |d| < \delta \\ \delta(|d| - \tfrac12\delta) & \text{else}
       \end{cases}, \qquad d = \hat y - y, \qquad \partial\ell/\partial\hat y = \operatorname{clip}(d, -\delta, \delta)

    Args:
      delta: the transition point, a finite number > 0 (default 1.0).

    >>> import numpy as np, fastloss
    >>> fastloss.huber(np.array([0.5, 3.0]), np.zeros(2), reduction="none").tolist()
    [0.125, 2.5]

    Same values and gradients as ``torch.nn.functional.huber_loss``. Other args as :func:`mse`.
    """
    delta = positive("huber", "delta", delta)
    x = float_input("huber", "pred", pred)
    return pointwise("huber", "huber", x, target, x_name="pred", params=(delta,),
                     reduction=reduction, sample_weight=sample_weight)


@small_call("smooth_l1", "beta")
@any_array
def smooth_l1(pred, target, *, beta=1.0, reduction="mean", sample_weight=None):
    r"""Smooth L1 loss (Huber divided by beta).

    .. math::
       \ell = \begin{cases} \tfrac12 d^2/\beta & |d| < \beta \\ |d| - \tfrac12\beta & \text{else}\end{cases}

    Args:
      beta: a finite number >= 0 (default 1.0); ``beta=0`` is exactly :func:`mae`.

    >>> import numpy as np, fastloss
    >>> fastloss.smooth_l1(np.array([0.5, 3.0]), np.zeros(2), reduction="none").tolist()
    [0.125, 2.5]

    Same values and gradients as ``torch.nn.functional.smooth_l1_loss``. Other args as :func:`mse`.
    """
    beta = non_negative("smooth_l1", "beta", beta)
    x = float_input("smooth_l1", "pred", pred)
    return pointwise("smooth_l1", "smooth_l1", x, target, x_name="pred", params=(beta,),
                     reduction=reduction, sample_weight=sample_weight)


@any_array
def quantile(pred, target, *, tau=0.5, reduction="mean", sample_weight=None):
    r"""Quantile (pinball) loss; its constant minimiser is the tau-quantile of the target.

    .. math:: \ell = \max(\tau u, (\tau - 1) u), \quad u = y - \hat y, \qquad
       \partial\ell/\partial\hat y = -\tau\ (u > 0),\ 1 - \tau\ (u < 0),\ 0\ (u = 0)

    Args:
      tau: a quantile in (0, 1), or a 1-D array of quantiles, one per position of ``pred``'s last
        axis (multi-quantile regression: ``pred[..., k]`` predicts quantile ``tau[k]``).

    >>> import numpy as np, fastloss
    >>> fastloss.quantile(np.array([0.0, 0.0]), np.array([1.0, -1.0]), tau=0.9, reduction="none").tolist()
    [0.9, 0.09999999999999998]

    ``tau=0.5`` is half the absolute error. Other args as :func:`mse`.
    """
    x = float_input("quantile", "pred", pred)
    if np.ndim(tau) == 0:
        t = in_open_unit_interval("quantile", "tau", tau)
        tau_array = constant(t, like=x)
    else:
        tau_array = checked_weights("quantile", "tau", tau)
        if tau_array.ndim != 1 or x.ndim == 0 or tau_array.shape[0] != x.shape[-1]:
            last = x.shape[-1] if x.ndim else None
            fail("quantile", f"tau array must be 1-D with one quantile per position of pred's "
                             f"last axis ({last}), got shape {tau_array.shape}")
        inside = lambda a: (a > 0) & (a < 1)  # noqa: E731 (operators only: any array library)
        if tau_array.size and not all_elements(tau_array, inside):
            shown = f", got {tau_array[~inside(tau_array)][0]!r}" if isinstance(tau_array, np.ndarray) else ""
            fail("quantile", f"tau must be in (0, 1){shown}")
    return pointwise("quantile", "quantile", x, target, x_name="pred", param=tau_array,
                     param_name="tau", reduction=reduction, sample_weight=sample_weight)


@small_call("log_cosh")
@any_array
def log_cosh(pred, target, *, reduction="mean", sample_weight=None):
    r"""Log-cosh loss: about :math:`d^2/2` for small errors and :math:`|d| - \log 2` for large ones.

    .. math:: \ell = \log\cosh(\hat y - y), \qquad \partial\ell/\partial\hat y = \tanh(\hat y - y)

    Computed without overflow for any finite or infinite error and with full relative accuracy for
    tiny ones (see ``losses/log_cosh.h``).

    >>> import numpy as np, fastloss
    >>> round(float(fastloss.log_cosh(np.array([1.0]), np.array([0.0]))), 12)
    0.433780830483

    Other args as :func:`mse`.
    """
    x = float_input("log_cosh", "pred", pred)
    return pointwise("log_cosh", "log_cosh", x, target, x_name="pred", reduction=reduction,
                     sample_weight=sample_weight)

# ---- registry entries: what the tests and benchmarks know about each loss ---------------------

_PRED_AND_TARGET = ("pred", "target")  # functions of pred - target: d/dtarget = -d/dpred


register(LossSpec("mse", "regression", "pointwise", mse, S.regression,
                  differentiable=_PRED_AND_TARGET, growth="quadratic", convex=True,
                  # float32: d and d^2 each rounded once, (1 + u)^3 with u = 2^-24: at most
                  # 3 ulp of the result; float64 evaluates the reference's own formula
                  elementwise_ulps={"float32": 3, "float64": 1},
                  constant_minimiser=lambda y, kw: np.mean(y)))
register(LossSpec("mae", "regression", "pointwise", mae, S.regression,
                  differentiable=_PRED_AND_TARGET, convex=True,
                  kinks=S.abs_error_kinks(lambda kw: (0.0,)),
                  constant_minimiser=lambda y, kw: np.median(y)))
register(LossSpec("huber", "regression", "pointwise", huber, S.regression,
                  variants=({}, {"delta": 0.5}, {"delta": 3.0}),
                  differentiable=_PRED_AND_TARGET, convex=True,
                  kinks=S.abs_error_kinks(lambda kw: (kw["delta"],))))
register(LossSpec("smooth_l1", "regression", "pointwise", smooth_l1, S.regression,
                  variants=({}, {"beta": 0.5}, {"beta": 0.0}),
                  differentiable=_PRED_AND_TARGET, convex=True,
                  kinks=S.abs_error_kinks(S.smooth_l1_points)))
register(LossSpec("quantile", "regression", "pointwise", quantile, S.quantile,
                  variants=({}, {"tau": 0.1}, {"tau": 0.9}, {"tau": "per_last_axis"}),
                  differentiable=_PRED_AND_TARGET, convex=True,
                  kinks=S.abs_error_kinks(lambda kw: (0.0,)),
                  constant_minimiser=S.tau_quantile))
register(LossSpec("log_cosh", "regression", "pointwise", log_cosh, S.regression,
                  differentiable=_PRED_AND_TARGET, convex=True))
