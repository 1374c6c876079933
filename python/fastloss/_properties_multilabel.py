"""``fastloss.properties`` entries of the losses of ``_multilabel.py`` (multilabel_soft_margin,
multilabel_margin) and of ``nll`` and ``soft_margin`` (``_classification.py``), in the table of
``_properties.py`` (see its module doc for the fields and conventions).
"""

from __future__ import annotations

from ._properties import entry


@entry("soft_margin")
def _soft_margin(p):
    # log(1 + exp(-y x)): |y| sigmoid(-y x) <= |y|, curvature y^2 / 4; both depend on the
    # target's magnitude (PyTorch allows any real y), so no number without it.
    return dict(prediction="score", convex=True, smooth=True, kinks=None,
                bounded_gradient=True, gradient_bound=None,
                lipschitz_gradient=True, lipschitz=None, robust=True, proper_scoring=None,
                nll_of="Bernoulli", minimiser=None,
                notes="with labels -1 / +1 the logistic loss: gradient bound 1, Lipschitz 1/4")


@entry("nll", rows=True)
def _nll(p, classes):
    # -x_t: linear in the log-probabilities (gradient -e_t, norm 1, no curvature)
    return dict(prediction="log_probs", convex=True, smooth=True, kinks=None,
                bounded_gradient=True, gradient_bound=1.0,
                lipschitz_gradient=True, lipschitz=0.0, robust=True, proper_scoring=True,
                nll_of="categorical", minimiser=None,
                notes="the categorical likelihood of normalised log-probabilities (which "
                      "log_softmax gives); linear, so unbounded below over unnormalised ones")


@entry("multilabel_soft_margin", rows=True)
def _multilabel_soft_margin(p, classes):
    # the mean over classes of binary cross-entropy with logits: per class sigmoid(x) - y,
    # curvature sigmoid'(x) <= 1/4, each divided by C
    c = classes
    return dict(prediction="scores_per_class", convex=True, smooth=True, kinks=None,
                bounded_gradient=True, gradient_bound=None,
                lipschitz_gradient=True, lipschitz=None if c is None else 0.25 / c,
                robust=True, proper_scoring=None, nll_of=None, minimiser=None,
                notes="gradient norm below 1 / sqrt(C) for 0/1 targets")


@entry("multilabel_margin", rows=True)
def _multilabel_margin(p, classes):
    # sum over listed t and unlisted j of max(0, 1 - x_t + x_j) / C: piecewise linear
    return dict(prediction="scores_per_class", convex=True, smooth=False,
                kinks="1 - x_t + x_j = 0 for a listed t and an unlisted j",
                bounded_gradient=True, gradient_bound=None,
                lipschitz_gradient=False, lipschitz=None, robust=True, proper_scoring=None,
                nll_of=None, minimiser=None,
                notes="the gradient's norm grows with the numbers of listed and unlisted "
                      "classes")
