"""``fastloss.properties`` entries of the likelihood losses (``_likelihood.py``: poisson_nll,
kl_div, gaussian_nll), in the table of ``_properties.py`` (see its module doc for the fields and
conventions). Their predictions are a log-rate or rate, a log-probability per element, and a
Gaussian mean with a given variance.
"""

from __future__ import annotations

import math

import numpy as np

from ._properties import _flag, entry
from ._validate import positive


@entry("poisson_nll", log_input=(True, _flag), full=(False, _flag), eps=(1e-8, positive))
def _poisson_nll(p):
    # log_input: exp(x) - y x (convex, exp'' unbounded); else x - y log(x + eps) (convex for
    # x > -eps, y / (x + eps)^2 unbounded near the pole). full adds Stirling's term of y only.
    if p["log_input"]:
        return dict(prediction="log_rate", convex=True, smooth=True, kinks=None,
                    bounded_gradient=False, gradient_bound=None,
                    lipschitz_gradient=False, lipschitz=None, robust=False, proper_scoring=None,
                    nll_of="Poisson (up to a term of the count)", minimiser="log of the mean",
                    constant_minimiser=lambda y: math.log(float(np.mean(y))),
                    notes="full=True adds PyTorch's Stirling approximation of log y! for y > 1")
    eps = p["eps"]
    return dict(prediction="rate", convex=True, smooth=True, kinks=None,
                bounded_gradient=False, gradient_bound=None,
                lipschitz_gradient=False, lipschitz=None, robust=False, proper_scoring=None,
                nll_of="Poisson (up to a term of the count)", minimiser="mean minus eps",
                constant_minimiser=lambda y: float(np.mean(y)) - eps,
                notes="defined for rate > -eps")


@entry("kl_div", log_target=(False, _flag))
def _kl_div(p):
    # y (log y - x) (or e^t (t - x)): linear in the log-probability x, so its gradient is the
    # constant -y and the loss is unbounded below in x (no element-wise normalisation).
    return dict(prediction="log_probability", convex=True, smooth=True, kinks=None,
                bounded_gradient=True, gradient_bound=None,
                lipschitz_gradient=True, lipschitz=0.0, robust=True, proper_scoring=None,
                nll_of=None, minimiser=None,
                notes="element-wise and linear in the input; a divergence only over "
                      "normalised rows (the gradient bound is the largest target)")


@entry("gaussian_nll", full=(False, _flag), eps=(1e-6, positive))
def _gaussian_nll(p):
    # 1/2 (log v + (x - y)^2 / v) with v = max(var, eps): in the mean x a parabola of
    # curvature 1 / v, which depends on the variance operand (no constant without it).
    return dict(prediction="point_with_variance", convex=True, smooth=True, kinks=None,
                bounded_gradient=False, gradient_bound=None,
                lipschitz_gradient=True, lipschitz=None, robust=False, proper_scoring=None,
                nll_of="Gaussian (the given variance)", minimiser="variance-weighted mean",
                constant_minimiser=lambda y: float(np.mean(y)),
                notes="convex in the mean for a fixed variance, not jointly in (mean, "
                      "variance); the Lipschitz constant of the gradient is 1 / max(var, eps); "
                      "the constant minimiser is stated for one shared variance")
