"""``fastloss.properties`` entries of the metric-learning losses (``_metric.py``: contrastive),
in the table of ``_properties.py`` (see its module doc). Stated as functions of the first
embedding row at a fixed second one (and label).
"""

from __future__ import annotations

from ._properties import entry
from ._validate import non_negative


@entry("contrastive", margin=(1.0, non_negative))
def _contrastive(margin):
    # In x1 at fixed x2: y = 1 gives d^2 / 2 (convex, gradient x1 - x2, unbounded, Lipschitz 1);
    # y = 0 gives max(0, m - d)^2 / 2, which falls as x1 leaves x2 (not convex) and whose
    # gradient -(m - d)(x1 - x2) / d turns with the direction at x1 = x2 (no limit there: a
    # kink, where fastloss takes the subgradient 0). With m = 0 that term vanishes.
    flat = margin == 0.0
    return dict(prediction="embedding_pair", convex=flat, smooth=flat,
                kinks=None if flat else "x1 = x2 for a dissimilar pair (the distance's cone)",
                bounded_gradient=False, gradient_bound=None, lipschitz_gradient=flat,
                lipschitz=1.0 if flat else None, robust=False, proper_scoring=None,
                nll_of=None, minimiser=None, constant_minimiser=None,
                notes="similar pairs: d^2 / 2 (quadratic growth); dissimilar pairs: 0 beyond "
                      "the margin")
