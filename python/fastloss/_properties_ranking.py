"""``fastloss.properties`` entries of the pairwise losses: the ranking losses (``_ranking.py``:
margin_ranking) and the metric-learning losses of distances (``_metric.py``: hinge_embedding),
in the table of ``_properties.py`` (see its module doc for the fields and conventions).
"""

from __future__ import annotations

from ._properties import entry


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
