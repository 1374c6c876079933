"""``fastloss.properties`` entries of the embedding losses (``_metric.py``: contrastive,
triplet, cosine_embedding; ``_in_batch.py``: info_nce; ``_center.py``: center), in the table of
``_properties.py`` (see its module doc). Stated as functions of the first embedding row (the
anchor, the features) at fixed others (and label).
"""

from __future__ import annotations

import math

from ._properties import _flag, entry
from ._validate import fail, non_negative, positive, real_scalar


@entry("contrastive", margin=(1.0, non_negative))
def _contrastive(p):
    # In x1 at fixed x2: y = 1 gives d^2 / 2 (convex, gradient x1 - x2, unbounded, Lipschitz 1);
    # y = 0 gives max(0, m - d)^2 / 2, which falls as x1 leaves x2 (not convex) and whose
    # gradient -(m - d)(x1 - x2) / d turns with the direction at x1 = x2 (no limit there: a
    # kink, where fastloss takes the subgradient 0). With m = 0 that term vanishes.
    flat = p["margin"] == 0.0
    return dict(prediction="embedding_pair", convex=flat, smooth=flat,
                kinks=None if flat else "x1 = x2 for a dissimilar pair (the distance's cone)",
                bounded_gradient=False, gradient_bound=None, lipschitz_gradient=flat,
                lipschitz=1.0 if flat else None, robust=False, proper_scoring=None,
                nll_of=None, minimiser=None, constant_minimiser=None,
                notes="similar pairs: d^2 / 2 (quadratic growth); dissimilar pairs: 0 beyond "
                      "the margin")


def _degree(fn, name, value):
    v = positive(fn, name, value)
    if not (v >= 1 and math.isfinite(v)):
        fail(fn, f"{name} must be a finite number >= 1, got {value!r}")
    return v


@entry("triplet", margin=(1.0, non_negative), p=(2.0, _degree), eps=(1e-6, real_scalar),
       swap=(False, _flag))
def _triplet(p):
    # In the anchor at fixed positive and negative: margin + d(a, p) - d(a, n) is a norm minus
    # a norm (not convex), hinged (a kink where it crosses 0). The gradient u_ap - u_an is the
    # difference of two p-norm gradients, each of dual norm 1: Euclidean norm <= 2 for p >= 2
    # (the q-norm, q <= 2, bounds the 2-norm), a bound growing with D for p < 2. Bounded
    # gradient: one far outlier moves the fit boundedly (robust). The norms' gradients turn
    # with the direction at a zero difference: not Lipschitz.
    return dict(prediction="embedding_triplet", convex=False, smooth=False,
                kinks="margin + d(a, p) = d_neg (the hinge), a zero difference",
                bounded_gradient=True, gradient_bound=2.0 if p["p"] >= 2 else None,
                lipschitz_gradient=False, lipschitz=None, robust=True, proper_scoring=None,
                nll_of=None, minimiser=None, constant_minimiser=None,
                notes="0 once the negative is margin farther than the positive"
                      + ("; swap takes min(d(a, n), d(p, n))" if p["swap"] else ""))


@entry("cosine_embedding", margin=(0.0, real_scalar))
def _cosine_embedding(p):
    # In x1 at fixed x2: 1 - cos and max(0, cos - m) depend on x1's direction only (cos is
    # scale-invariant but for the 1e-12 eps), so neither is convex; the hinge has a kink where
    # cos = m. The gradient's norm is sin(angle) / |x1|: unbounded as x1 shrinks (capped near
    # 1e6 by eps), vanishing as x1 grows, so a far outlier moves the fit boundedly (robust).
    # The loss itself stays in [0, 2].
    return dict(prediction="embedding_pair", convex=False, smooth=False,
                kinks="cos(x1, x2) = margin for a dissimilar pair (the hinge)",
                bounded_gradient=False, gradient_bound=None, lipschitz_gradient=False,
                lipschitz=None, robust=True, proper_scoring=None, nll_of=None, minimiser=None,
                constant_minimiser=None,
                notes="similar pairs: 1 - cos; dissimilar pairs: 0 once cos <= margin; "
                      "values in [0, 2]")


@entry("info_nce", temperature=(0.07, positive), symmetric=(False, _flag))
def _info_nce(p):
    # In the queries at fixed keys: the log-sum-exp of logits linear in q minus a linear term,
    # convex and smooth. Its gradient sum_j (p_ij - [i = j]) k_j / t is a difference of two
    # convex combinations of keys, so bounded by 2 max |k| / t (bounded for bounded keys: a far
    # outlier query moves the others boundedly), and Lipschitz with a constant of at most
    # max |k|^2 / t^2 (the softmax's Jacobian has norm at most 1), which depends on the keys.
    return dict(prediction="embedding_pair", convex=True, smooth=True, kinks=None,
                bounded_gradient=True, gradient_bound=None, lipschitz_gradient=True,
                lipschitz=None, robust=True, proper_scoring=None,
                nll_of="the categorical model: query i's softmax over the batch's keys",
                minimiser=None, constant_minimiser=None,
                notes="convex in either input at the other fixed; log N at uniform logits"
                      + ("; CLIP's mean of both directions" if p["symmetric"] else ""))


@entry("center")
def _center(p):
    # In the features at fixed centres: 1/2 ||x - c||^2 per row, convex and smooth, its gradient
    # x - c unbounded (one far outlier pulls its centre as far: not robust) and Lipschitz with
    # constant 1 (the Hessian is the identity). It is the negative log-likelihood of an
    # isotropic unit Gaussian around the class centre, up to a constant; the centre minimising a
    # class's summed loss is the mean of its features.
    return dict(prediction="embedding_pair", convex=True, smooth=True, kinks=None,
                bounded_gradient=False, gradient_bound=None, lipschitz_gradient=True,
                lipschitz=1.0, robust=False, proper_scoring=None,
                nll_of="Gaussian around the class centre (identity covariance)",
                minimiser=None, constant_minimiser=None,
                notes="jointly convex in features and centres; a class's summed loss is least "
                      "at the mean of its features; train the centres by their gradient or by "
                      "Wen et al.'s update (center_update)")
