"""``fastloss.properties`` entries of the GAN losses (``_adversarial.py``: gan_discriminator,
gan_generator), in the table of ``_properties.py`` (see its module doc). The prediction is the
discriminator's output: for the discriminator its outputs on real and on generated samples
("gan_real_and_fake", two arrays, each term a function of one output), for the generator its
output on generated samples ("gan_fake", no target). Stated per element, as functions of that
output, for the kind given; the mean over an array divides the bounds by its length.
"""

from __future__ import annotations

from . import _adversarial as A
from ._properties import entry
from ._validate import choice


def _d_kind(fn, key, value):
    return choice(fn, key, value, tuple(A._DISCRIMINATOR))


def _g_kind(fn, key, value):
    return choice(fn, key, value, tuple(A._GENERATOR))


def _label(fn, key, value):
    return A._real_label("bce", value, fn)


def _facts(prediction, *, convex, kinks=None, gradient_bound=None, lipschitz=None,
           robust, nll_of=None, notes=""):
    bounded = gradient_bound is not None
    return dict(prediction=prediction, convex=convex, smooth=kinks is None, kinks=kinks,
                bounded_gradient=bounded, gradient_bound=gradient_bound,
                lipschitz_gradient=lipschitz is not None, lipschitz=lipschitz, robust=robust,
                proper_scoring=None, nll_of=nll_of, minimiser=None, constant_minimiser=None,
                notes=notes)


@entry("gan_discriminator", kind=("bce", _d_kind), real_label=(1.0, _label))
def _gan_discriminator(p):
    kind, b = p["kind"], p["real_label"]
    pred = "gan_real_and_fake"
    if kind == "bce":
        # b softplus(-r) + (1 - b) softplus(r): slope sigma(r) - b in (-b, 1 - b), curvature
        # sigma (1 - sigma) <= 1/4; softplus(f): slope in (0, 1)
        return _facts(pred, convex=True, gradient_bound=1.0, lipschitz=0.25, robust=True,
                      nll_of="Bernoulli (real samples labelled real_label, generated ones 0)",
                      notes="minimised as r -> +inf, f -> -inf (b = 1); with b < 1 the real "
                            "term is minimal at r = logit(b)")
    if kind == "wasserstein":
        return _facts(pred, convex=True, gradient_bound=1.0, lipschitz=0.0, robust=True,
                      notes="linear and unbounded below: the critic must be kept 1-Lipschitz "
                            "(weight clipping, a gradient penalty)")
    if kind == "least_squares":
        return _facts(pred, convex=True, lipschitz=1.0, robust=False,
                      notes=f"minimal (0) at r = {b:g}, f = 0; the gradient grows linearly")
    return _facts(pred, convex=True, kinks="real = 1 and fake = -1", gradient_bound=1.0,
                  robust=True, notes="zero beyond the margins r >= 1, f <= -1")


@entry("gan_generator", kind=("bce", _g_kind))
def _gan_generator(p):
    kind = p["kind"]
    pred = "gan_fake"
    if kind == "bce":
        return _facts(pred, convex=True, gradient_bound=1.0, lipschitz=0.25, robust=True,
                      nll_of="Bernoulli (generated samples labelled real)",
                      notes="non-saturating: the slope tends to -1 as f -> -inf (the "
                            "discriminator rejects the samples)")
    if kind == "minimax":
        return _facts(pred, convex=False, gradient_bound=1.0, lipschitz=0.25, robust=True,
                      notes="concave; saturates: the slope -sigma(f) vanishes as f -> -inf, "
                            "where the generator most needs it")
    if kind == "least_squares":
        return _facts(pred, convex=True, lipschitz=1.0, robust=False,
                      notes="minimal (0) at f = 1")
    return _facts(pred, convex=True, gradient_bound=1.0, lipschitz=0.0, robust=True,
                  notes="linear (-f), unbounded below")
