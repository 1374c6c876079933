"""``fastloss.properties`` entries of the pairwise losses: the ranking losses (``_ranking.py``:
margin_ranking, and the listwise listnet and listmle), the structured hinge (``_structured.py``)
and the metric-learning losses of distances (``_metric.py``: hinge_embedding),
in the table of ``_properties.py`` (see its module doc for the fields and conventions).
"""

from __future__ import annotations

import math

from ._properties import entry
from ._validate import choice


def _rescaling(fn, key, value):
    return choice(fn, key, value, ("margin", "slack"))


@entry("margin_ranking")
def _margin_ranking(p):
    # max(0, margin - y (x1 - x2)): piecewise linear in the score pair, slope -y / +y where
    # active; the gradient's size is |y| (1 for the preferences +-1, but PyTorch allows any y).
    return dict(prediction="score_pair", convex=True, smooth=False,
                kinks="y (x1 - x2) = margin",
                bounded_gradient=True, gradient_bound=None,
                lipschitz_gradient=False, lipschitz=None, robust=True, proper_scoring=None,
                nll_of=None, minimiser=None,
                notes="with preferences -1 / +1 the gradient with respect to each score is "
                      "bounded by 1; zero once the preferred score leads by the margin")


@entry("hinge_embedding")
def _hinge_embedding(p):
    # x (y = 1) or max(0, margin - x) (y = -1): piecewise linear in the distance, slope 1 or -1;
    # the distance is a score with labels +-1 to the probes (the same lines)
    return dict(prediction="score", convex=True, smooth=False, kinks="x = margin (y = -1)",
                bounded_gradient=True, gradient_bound=1.0,
                lipschitz_gradient=False, lipschitz=None, robust=True, proper_scoring=None,
                nll_of=None, minimiser=None,
                notes="for labels -1 / +1; a label other than +-1 counts both terms (slope up "
                      "to 2), as PyTorch's")


@entry("listnet", rows=True)
def _listnet(p, classes):
    # log-sum-exp of the scores minus a linear term: convex and smooth; the gradient p - q has
    # entries in [-1, 1], and the Hessian diag(p) - p p^T has norm at most 1/2
    return dict(prediction="list_scores", convex=True, smooth=True, kinks=None,
                bounded_gradient=True, gradient_bound=1.0,
                lipschitz_gradient=True, lipschitz=0.5, robust=True, proper_scoring=None,
                nll_of="the top-one (softmax) model of the scores, the labels' softmax as a "
                       "soft target",
                minimiser=None,
                notes="minimal (the entropy of softmax(relevance)) at scores = relevance + any "
                      "constant; the lecture's listwise loss when relevance = scores")


@entry("listmle", rows=True)
def _listmle(p, classes):
    # a sum of n log-sum-exps of suffixes minus the scores: convex and smooth; item m's gradient
    # sum_{k <= m} p_k(m) - 1 lies in [-1, n - 1], the Hessian is a sum of n softmax Hessians
    n = classes
    return dict(prediction="list_scores", convex=True, smooth=True, kinks=None,
                bounded_gradient=True, gradient_bound=None if n is None else float(n - 1),
                lipschitz_gradient=True, lipschitz=None if n is None else 0.5 * n,
                robust=True, proper_scoring=None,
                nll_of="the Plackett-Luce model of the scores (the order by relevance)",
                minimiser=None,
                notes="positive for every finite score; tends to 0 as the scores of the order "
                      "by relevance draw apart (no finite minimiser)")


@entry("structured_hinge", rows=True, rescaling=("margin", _rescaling))
def _structured_hinge(p, classes):
    # a max of functions affine in the scores (Delta + f(y') - f(y), or Delta (1 + f(y') - f(y))):
    # convex, piecewise linear; the gradient is s (e_y* - e_y) with s = 1 (margin) or
    # Delta(y, y*) (slack), of 2-norm sqrt(2) s
    slack = p["rescaling"] == "slack"
    return dict(prediction="scores", convex=True, smooth=False,
                kinks="a tie of the two largest terms of the max (the true candidate's included)",
                bounded_gradient=True, gradient_bound=math.sqrt(2.0),
                lipschitz_gradient=False, lipschitz=None, robust=True, proper_scoring=None,
                nll_of=None, minimiser=None,
                notes="the bound is for 0/1 costs (the default)" + (
                    "; a task loss Delta multiplies it by Delta(y, y*) under slack rescaling"
                    if slack else " and for every task loss under margin rescaling"))
