"""What the lecture "Loss Functions — Mathematical Foundations and Learning Objectives" says of
each loss ("Properties of Good Loss Functions"), as data that tests can check.

``fastloss.properties(name, **params)`` returns a frozen :class:`LossProperties` for every loss
in ``fastloss._registry.REGISTRY``, at the given hyper-parameters (huber's gradient bound is its
``delta``; focal with ``gamma=0`` is cross-entropy). The table is :data:`TABLE`, one entry per loss
name, written with :func:`entry` below; a loss registered without an entry is a clear error, and
``tests/test_properties.py`` checks every claim numerically for every registered loss.

Conventions (each claim is about the loss of one element, or one row, as a function of the
prediction, the first argument, at any valid target):

* gradients are measured by their Euclidean norm (the absolute value for pointwise losses);
* for the row losses (``kind == "row"``) a bound may depend on the number of classes C: pass
  ``classes=C`` to get it; without ``classes`` a number is given only where one bound holds for
  every C (otherwise it is None while the boolean fact stays true for each fixed C);
* sample weights, class weights and array hyper-parameters only rescale elements or classes, so
  properties are stated for scalar hyper-parameters without weights.

Adding a loss adds one entry: ``@entry("name", **{hyper-parameter: (default, checker)})`` on a
function from the checked values (and ``classes`` for a row loss) to the fields of
:class:`LossProperties`. The tests probe the loss along its first argument at a target from its
registry sampler, so ``prediction`` says how to read that argument; a new kind of prediction
(a variance, a distribution over rows) adds its name to ``PREDICTIONS`` and its probes to the
tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from ._validate import (choice, fail, in_open_unit_interval, in_unit_interval, integer,
                        non_negative, positive)

PREDICTIONS = ("point", "probability", "logit", "logits", "score", "scores",
               # of the likelihoods, multi-label, divergence, ranking, GAN and embedding losses
               # (test_properties.UNPROBED says what each of the latter is):
               "log_probs", "log_rate", "rate", "log_probability", "point_with_variance",
               "scores_per_class", "logits_pair", "score_pair", "gan_real_and_fake", "gan_fake",
               "embedding_pair", "embedding_triplet", "list_scores")


@dataclass(frozen=True)
class LossProperties:
    """The lecture's properties of one loss at given hyper-parameters."""

    name: str
    params: tuple                  # the hyper-parameters used, as sorted (name, value) pairs
    # What the prediction is: "point" (regression), "probability", "logit" (of a Bernoulli
    # probability), "logits" (of a softmax), "score" (a binary margin score), "scores" (one
    # per class, not probabilities).
    prediction: str
    convex: bool                   # convex in the prediction, for every valid target
    smooth: bool                   # differentiable everywhere in the prediction
    kinks: Optional[str]           # where it is not differentiable (None when smooth)
    bounded_gradient: bool         # sup of the gradient norm is finite (for each class count)
    gradient_bound: Optional[float]  # that supremum, where it has a closed form
    lipschitz_gradient: bool       # the gradient is Lipschitz continuous (for each class count)
    lipschitz: Optional[float]     # its Lipschitz constant (the sup of the Hessian's norm)
    robust: bool                   # bounded influence: one far outlier moves the fit boundedly
    # E_{Y~q} loss(p, Y) is minimal at p = q; None where the prediction is not a probability
    proper_scoring: Optional[bool]
    nll_of: Optional[str]          # the model whose negative log-likelihood it is (up to a constant)
    minimiser: Optional[str]       # its constant minimiser, in words ("mean", "median", ...)
    # targets (1-D; class indices for row losses) -> the constant prediction minimising the
    # summed loss (logits for the softmax losses, defined up to an added constant)
    constant_minimiser: Optional[Callable] = field(default=None, compare=False, repr=False)
    notes: str = ""

    def __post_init__(self):
        assert self.prediction in PREDICTIONS, self.prediction
        assert self.smooth == (self.kinks is None), (self.name, "kinks iff not smooth")
        assert self.gradient_bound is None or self.bounded_gradient
        assert self.lipschitz is None or self.lipschitz_gradient
        assert (self.constant_minimiser is None) == (self.minimiser is None)


@dataclass(frozen=True)
class Entry:
    """One loss's row of the table: its hyper-parameters (name -> (default, checker)) and the
    function that states its properties from the checked values (and ``classes`` or None)."""

    params: dict
    describe: Callable
    rows: bool = False             # a row loss: accepts ``classes``


TABLE: dict[str, Entry] = {}


def entry(name: str, rows: bool = False, **params):
    """Decorator adding ``TABLE[name]``: ``params`` maps each hyper-parameter to (default,
    checker), a checker being ``(fn, argument, value) -> value`` from ``_validate``."""
    def add(describe):
        TABLE[name] = Entry(params, describe, rows)
        return describe
    return add


def properties(name, **params) -> LossProperties:
    """The lecture's properties of the registered loss ``name`` at hyper-parameters ``params``.

    >>> import fastloss
    >>> p = fastloss.properties("huber", delta=0.5)
    >>> p.convex, p.smooth, p.gradient_bound, p.lipschitz, p.robust, p.minimiser
    (True, True, 0.5, 1.0, True, 'Huber M-estimate of location')
    >>> fastloss.properties("sigmoid_focal", gamma=0.0, alpha=None).nll_of
    'Bernoulli'

    Args:
      name: a loss of ``fastloss._registry.REGISTRY``.
      params: its scalar hyper-parameters (the public function's keywords that shape the loss;
        unset ones take the function's defaults) and, for row losses, ``classes``: the number
        of classes that class-count-dependent bounds are stated for.

    Raises ValueError for an unknown loss, a registered loss without a table entry, or a bad
    value, and TypeError for an argument the loss does not take.
    """
    from ._registry import REGISTRY

    fn = "properties"
    if not isinstance(name, str) or name not in REGISTRY:
        fail(fn, f"name must be a registered loss ({', '.join(sorted(REGISTRY))}), got {name!r}")
    if name not in TABLE:
        fail(fn, f"loss {name!r} is registered but has no properties entry: add one with "
                 f"@entry({name!r}, ...) in fastloss/_properties.py")
    e = TABLE[name]
    classes = params.pop("classes", None)
    if classes is not None:
        if not e.rows:
            fail(fn, f"classes applies to row losses only, not to {name!r}", TypeError)
        classes = integer(fn, "classes", classes)
        if classes < 2:
            fail(fn, f"classes must be >= 2, got {classes!r}")
    unknown = sorted(set(params) - set(e.params))
    if unknown:
        fail(fn, f"{name} takes no hyper-parameter {unknown[0]!r} (it takes: "
                 f"{', '.join(sorted(e.params)) or 'none'})", TypeError)
    values = {}
    for key, (default, check) in e.params.items():
        value = params.get(key, default)
        if np.ndim(value) != 0:
            fail(fn, f"{key} must be a scalar: properties are stated for scalar "
                     f"hyper-parameters, got an array of shape {np.shape(value)}")
        values[key] = value if check is None or value is None else check(fn, key, value)
    facts = e.describe(values, classes) if e.rows else e.describe(values)
    return LossProperties(name=name, params=tuple(sorted(values.items())), **facts)


# ---- checkers beyond _validate's ------------------------------------------------------------

def _flag(fn, key, value):
    if not isinstance(value, (bool, np.bool_)):
        fail(fn, f"{key} must be a bool, got {value!r}", TypeError)
    return bool(value)


def _kind(fn, key, value):
    return choice(fn, key, value, ("weston_watkins", "crammer_singer"))


# ---- constant minimisers --------------------------------------------------------------------

def _m_estimate(psi):
    """The root c of sum_i psi(c - y_i) = 0 for a non-decreasing psi (an M-estimate of
    location), by bisection to the last bit: the constant minimiser of sum_i rho(c - y_i)."""
    def solve(y):
        y = np.asarray(y, dtype=np.float64)
        lo, hi = float(y.min()), float(y.max())
        while True:
            mid = 0.5 * (lo + hi)
            if mid <= lo or mid >= hi:
                return mid
            if np.sum(psi(mid - y)) < 0:
                lo = mid
            else:
                hi = mid
    return solve


def _logit(p):
    return math.log(p) - math.log1p(-p)


def _weighted_logit(alpha):
    """The minimiser of sum_i alpha_t(y_i) BCE(c, y_i) (alpha_t = alpha y + (1 - alpha)(1 - y),
    or 1 for alpha None): logit(A / (A + B)), A = sum alpha_t y, B = sum alpha_t (1 - y)."""
    def solve(y):
        y = np.asarray(y, dtype=np.float64)
        at = np.ones_like(y) if alpha is None else alpha * y + (1.0 - alpha) * (1.0 - y)
        pos, neg = np.sum(at * y), np.sum(at * (1.0 - y))
        return _logit(pos / (pos + neg))
    return solve


def _log_frequencies(classes, smoothing=0.0):
    """Logits whose softmax is the (smoothed) class frequencies of the labels."""
    def solve(t):
        t = np.asarray(t)
        c = classes if classes is not None else int(t.max()) + 1
        q = np.bincount(t, minlength=c) / t.size
        with np.errstate(divide="ignore"):
            return np.log((1.0 - smoothing) * q + smoothing / c)
    return solve


# ---- the table: regression ------------------------------------------------------------------

@entry("mse")
def _mse(p):
    return dict(prediction="point", convex=True, smooth=True, kinks=None,
                bounded_gradient=False, gradient_bound=None,
                lipschitz_gradient=True, lipschitz=2.0, robust=False, proper_scoring=None,
                nll_of="Gaussian (variance 1/2)", minimiser="mean",
                constant_minimiser=lambda y: float(np.mean(y)))


@entry("mae")
def _mae(p):
    return dict(prediction="point", convex=True, smooth=False, kinks="pred = target",
                bounded_gradient=True, gradient_bound=1.0,
                lipschitz_gradient=False, lipschitz=None, robust=True, proper_scoring=None,
                nll_of="Laplace (scale 1)", minimiser="median",
                constant_minimiser=lambda y: float(np.median(y)))


@entry("huber", delta=(1.0, positive))
def _huber(p):
    d = p["delta"]
    return dict(prediction="point", convex=True, smooth=True, kinks=None,
                bounded_gradient=True, gradient_bound=d,
                lipschitz_gradient=True, lipschitz=1.0, robust=True, proper_scoring=None,
                nll_of="Huber's least favourable (Gaussian centre, Laplace tails)",
                minimiser="Huber M-estimate of location",
                constant_minimiser=_m_estimate(lambda u: np.clip(u, -d, d)),
                notes="the second derivative jumps at |pred - target| = delta")


@entry("smooth_l1", beta=(1.0, non_negative))
def _smooth_l1(p):
    b = p["beta"]
    if b == 0:  # exactly mae
        return _mae(p)
    return dict(prediction="point", convex=True, smooth=True, kinks=None,
                bounded_gradient=True, gradient_bound=1.0,
                lipschitz_gradient=True, lipschitz=1.0 / b, robust=True, proper_scoring=None,
                nll_of="Huber's least favourable (Gaussian centre, Laplace tails)",
                minimiser="Huber M-estimate of location",
                constant_minimiser=_m_estimate(lambda u: np.clip(u / b, -1.0, 1.0)),
                notes="huber(delta=beta) / beta")


@entry("quantile", tau=(0.5, in_open_unit_interval))
def _quantile(p):
    t = p["tau"]
    return dict(prediction="point", convex=True, smooth=False, kinks="pred = target",
                bounded_gradient=True, gradient_bound=max(t, 1.0 - t),
                lipschitz_gradient=False, lipschitz=None, robust=True, proper_scoring=None,
                nll_of="asymmetric Laplace (tau)", minimiser="tau-quantile",
                constant_minimiser=lambda y: float(np.quantile(y, t, method="inverted_cdf")))


@entry("log_cosh")
def _log_cosh(p):
    return dict(prediction="point", convex=True, smooth=True, kinks=None,
                bounded_gradient=True, gradient_bound=1.0,
                lipschitz_gradient=True, lipschitz=1.0, robust=True, proper_scoring=None,
                nll_of="hyperbolic secant", minimiser="log-cosh M-estimate of location",
                constant_minimiser=_m_estimate(np.tanh))


# ---- the table: binary classification -------------------------------------------------------

@entry("binary_cross_entropy")
def _bce(p):
    return dict(prediction="probability", convex=False, smooth=False,
                kinks="prob = exp(-100) and 1 - exp(-100), where each log term is clamped",
                bounded_gradient=False, gradient_bound=None,
                lipschitz_gradient=False, lipschitz=None, robust=False, proper_scoring=True,
                nll_of="Bernoulli", minimiser="mean",
                constant_minimiser=lambda y: float(np.mean(y)),
                notes="-log p is convex and smooth; PyTorch's clamp of the logs at -100 (which "
                      "fastloss keeps) makes it neither below p = exp(-100)")


@entry("binary_cross_entropy_with_logits", pos_weight=(None, non_negative))
def _bce_logits(p):
    w = 1.0 if p["pos_weight"] is None else p["pos_weight"]
    # loss'' = ((1 - y) + w y) sigma(x) sigma(-x) <= max(1, w) / 4; |loss'| -> 1 - y or w y
    return dict(prediction="logit", convex=True, smooth=True, kinks=None,
                bounded_gradient=True, gradient_bound=max(1.0, w),
                lipschitz_gradient=True, lipschitz=max(1.0, w) / 4.0, robust=True,
                proper_scoring=(w == 1.0), nll_of="Bernoulli" if w == 1.0 else None,
                minimiser="logit of the pos_weight-weighted mean",
                constant_minimiser=lambda y: _logit(w * np.sum(y) / (w * np.sum(y)
                                                                       + np.sum(1 - y))))


@entry("hinge")
def _hinge(p):
    return dict(prediction="score", convex=True, smooth=False, kinks="target * pred = 1",
                bounded_gradient=True, gradient_bound=1.0,
                lipschitz_gradient=False, lipschitz=None, robust=True, proper_scoring=None,
                nll_of=None, minimiser="sign of the majority label",
                constant_minimiser=lambda y: float(np.sign(np.sum(np.where(y == 0, -1, y)))))


@entry("squared_hinge")
def _squared_hinge(p):
    return dict(prediction="score", convex=True, smooth=True, kinks=None,
                bounded_gradient=False, gradient_bound=None,
                lipschitz_gradient=True, lipschitz=2.0, robust=False, proper_scoring=None,
                nll_of=None, minimiser="mean of the +-1 labels",
                constant_minimiser=lambda y: float(np.mean(np.where(y == 0, -1, y))))


@entry("sigmoid_focal", alpha=(0.25, in_unit_interval), gamma=(2.0, non_negative))
def _sigmoid_focal(p):
    a, g = p["alpha"], p["gamma"]
    focal = g > 0
    scale = 1.0 if a is None else max(a, 1.0 - a)  # the largest alpha_t
    plain = not focal and (a is None or a == 0.5)  # a multiple of BCE with logits
    weighted = not focal and (a is None or 0 < a < 1)
    return dict(prediction="logit", convex=not focal, smooth=True, kinks=None,
                bounded_gradient=True, gradient_bound=None if focal else scale,
                lipschitz_gradient=True, lipschitz=None if focal else scale / 4.0,
                robust=True, proper_scoring=plain,
                nll_of="Bernoulli" if not focal and a is None else None,
                minimiser="logit of the alpha_t-weighted mean" if weighted else None,
                constant_minimiser=_weighted_logit(a) if weighted else None,
                notes="gamma > 0 down-weights easy examples: not convex, not proper, and the "
                      "gradient bound (above alpha_t) has no closed form" if focal else
                      "gamma = 0 is alpha_t times binary cross-entropy with logits")


# ---- the table: multi-class (row) losses ----------------------------------------------------

@entry("cross_entropy", rows=True, label_smoothing=(0.0, in_unit_interval))
def _cross_entropy(p, classes):
    e = p["label_smoothing"]
    # gradient softmax(x) - q of two distributions: norm < sqrt(2); Hessian diag(s) - s s^T,
    # whose largest eigenvalue is at most 1/2 (two classes of probability 1/2 reach it)
    return dict(prediction="logits", convex=True, smooth=True, kinks=None,
                bounded_gradient=True, gradient_bound=math.sqrt(2.0) if e == 0 else None,
                lipschitz_gradient=True, lipschitz=0.5, robust=True,
                proper_scoring=(e == 0), nll_of="categorical" if e == 0 else None,
                minimiser="log class frequencies" + (" (smoothed)" if e else ""),
                constant_minimiser=_log_frequencies(classes, e),
                notes="label smoothing moves the minimiser to (1 - eps) q + eps / C: not proper")


@entry("multiclass_hinge", rows=True, margin=(1.0, non_negative),
       kind=("weston_watkins", _kind), squared=(False, _flag))
def _multiclass_hinge(p, classes):
    ww = p["kind"] == "weston_watkins"
    sq = p["squared"]
    c = classes
    if sq:
        bound = None
        # sum_j of 2 (e_j - e_t)(e_j - e_t)^T over the active j: largest eigenvalue 2C
        lip = (2.0 * c if c is not None else None) if ww else None
    else:
        # the gradient is (#active) on the target's logit and 1 on each active logit
        bound = (math.sqrt(c * (c - 1.0)) if c is not None else None) if ww else math.sqrt(2.0)
        lip = None
    return dict(prediction="scores", convex=True, smooth=ww and sq,
                kinks=None if ww and sq else
                ("a tie of the two largest positive margin + x_j - x_t" if sq else
                 "margin + x_j - x_t = 0 for some j != t" + ("" if ww else
                                                            ", or a tie of the largest")),
                bounded_gradient=not sq, gradient_bound=bound,
                lipschitz_gradient=ww and sq, lipschitz=lip, robust=not sq,
                proper_scoring=None, nll_of=None, minimiser=None,
                notes="a bound that grows with C is given only with classes=C")


@entry("softmax_focal", rows=True, alpha=(None, non_negative), gamma=(2.0, non_negative))
def _softmax_focal(p, classes):
    a, g = p["alpha"], p["gamma"]
    focal = g > 0
    s = 1.0 if a is None else a
    return dict(prediction="logits", convex=not focal, smooth=True, kinks=None,
                bounded_gradient=True, gradient_bound=None if focal else s * math.sqrt(2.0),
                lipschitz_gradient=True, lipschitz=None if focal else s * 0.5, robust=True,
                proper_scoring=not focal and s > 0,
                nll_of="categorical" if not focal and s == 1.0 else None,
                minimiser=None if focal or s == 0 else "log class frequencies",
                constant_minimiser=None if focal or s == 0 else _log_frequencies(classes),
                notes="gamma = 0 is alpha times cross-entropy" if not focal else
                      "gamma > 0 down-weights easy rows: not convex, not proper")


# The entries of the other families, in modules of their own (each imports entry from here).
from . import (_properties_adversarial, _properties_divergence,  # noqa: E402,F401
               _properties_likelihood, _properties_metric, _properties_multilabel,
               _properties_ranking)
