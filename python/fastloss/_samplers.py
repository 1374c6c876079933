"""Input samplers and kink helpers shared by the registry entries of the family modules.

A sampler is ``(rng, shape, dtype) -> (args, kwargs)``: realistic inputs drawn in the requested
dtype. A kink helper is ``(args, full_kwargs) -> distance`` per unreduced loss element to where
the loss is not twice differentiable (finite differences stay away from there).
"""

from __future__ import annotations

import numpy as np


# ---- kinks: distances to where a loss is not twice differentiable ---------------------------

def abs_error_kinks(points):
    """Kinks where |pred - target| is one of points(kwargs)."""
    def distance(args, kwargs):
        z = np.abs(np.asarray(args[0], np.float64) - np.asarray(args[1], np.float64))
        return np.min([np.abs(z - k) for k in points(kwargs)], axis=0)
    return distance


def smooth_l1_points(kwargs):
    # beta > 0: the quadratic piece meets the linear one at |d| = beta; beta == 0 is |d|
    return (kwargs["beta"],) if kwargs["beta"] > 0 else (0.0,)


def margin_kinks(args, kwargs):
    """Hinge losses: the kink at y f = 1 (labels 0 mean -1)."""
    f, y = np.asarray(args[0], np.float64), np.asarray(args[1], np.float64)
    return np.abs(1.0 - np.where(y == 0, -1.0, y) * f)


def multiclass_margin_kinks(args, kwargs):
    """z_j = margin + x_j - x_t (j != t) at 0, and for crammer_singer a tie for the largest z."""
    x = np.moveaxis(np.asarray(args[0], np.float64), kwargs["axis"], -1)
    t = np.asarray(args[1])[..., None]
    z = kwargs["margin"] + x - np.take_along_axis(x, t, axis=-1)
    others = np.where(np.arange(x.shape[-1]) == t, -np.inf, z)
    distance = np.min(np.where(np.isinf(others), np.inf, np.abs(others)), axis=-1)
    if kwargs["kind"] == "crammer_singer" and x.shape[-1] > 2:
        top = -np.sort(-others, axis=-1)
        tie = np.where(top[..., 0] > 0, top[..., 0] - top[..., 1], np.inf)
        distance = np.minimum(distance, tie)
    return distance


def structured_kinks(args, kwargs):
    """A tie between the two largest terms of the outer max (the true candidate's included)."""
    x = np.moveaxis(np.asarray(args[0], np.float64), kwargs["axis"], -1)
    t = np.asarray(args[1])[..., None]
    K = x.shape[-1]
    if K < 2:
        return np.full(x.shape[:-1], np.inf)
    cost = kwargs["cost"]
    is_target = np.arange(K) == t
    if cost is None:
        delta = np.where(is_target, 0.0, 1.0)
    else:
        cost = np.asarray(cost, np.float64)
        per_sample = cost.shape == np.shape(args[0]) and kwargs["cost_per_sample"] is not False
        delta = np.moveaxis(cost, kwargs["axis"], -1) if per_sample else cost[t[..., 0]]
    f_t = np.take_along_axis(x, t, axis=-1)
    z = delta + x - f_t if kwargs["rescaling"] == "margin" else delta * (1.0 + x - f_t)
    z = np.where(is_target, np.take_along_axis(delta, t, axis=-1), z)
    top = -np.sort(-z, axis=-1)
    return top[..., 0] - top[..., 1]


def structured_costs(rng, shape, layout, target):
    """Task losses on a 1/8 grid (the terms stay exact in float32, as grid_logits): a (K, K)
    table with a zero diagonal, or per-sample costs of the scores' shape, 0 at the targets."""
    K = shape[-1]
    if layout == "table":
        return np.where(np.eye(K, dtype=bool), 0.0, rng.integers(0, 17, (K, K)) / 8)
    c = rng.integers(0, 17, shape) / 8
    np.put_along_axis(c, np.asarray(target)[..., None], 0.0, axis=-1)
    return c


def poisson_kinks(args, kwargs):
    """The Stirling term's jump at y = 1 (with full)."""
    y = np.asarray(args[1], np.float64)
    return np.abs(y - 1.0) if kwargs["full"] else np.full(y.shape, np.inf)


def gaussian_kinks(args, kwargs):
    """The variance's clamp at eps; below it the var gradient is PyTorch's (the derivative at
    eps, passed through the clamp), not the flat loss's 0, so no finite difference checks it
    there (distance 0)."""
    shape = np.shape(args[0])
    v = np.broadcast_to(np.asarray(args[2], np.float64), shape)
    return np.where(v <= kwargs["eps"], 0.0, np.abs(v - kwargs["eps"]))


def kl_div_kinks(args, kwargs):
    """p log p at p = 0 (its derivative is -inf there)."""
    y = np.asarray(args[1], np.float64)
    return np.full(y.shape, np.inf) if kwargs["log_target"] else np.abs(y)


def tau_quantile(y, kwargs):
    return np.quantile(y, kwargs["tau"], method="inverted_cdf")


# ---- samplers: realistic inputs, drawn in the requested dtype --------------------------------

def pair(rng, shape, dtype, scale=2.0):
    return (rng.standard_normal(shape) * scale).astype(dtype), rng.standard_normal(shape).astype(dtype)


def regression(rng, shape, dtype):
    return pair(rng, shape, dtype), {}


def quantile(rng, shape, dtype):
    return pair(rng, shape, dtype), {}


def probabilities(rng, shape, dtype):
    p = rng.uniform(0.02, 0.98, shape).astype(dtype)
    y = (rng.random(shape) < 0.5).astype(dtype)
    return (p, y), {}


def logits_binary(rng, shape, dtype):
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    y = rng.random(shape)
    y = np.where(rng.random(shape) < 0.8, np.round(y), y).astype(dtype)  # mostly hard labels
    return (x, y), {}


def binary_labels(rng, shape, dtype):
    # Scores on a 1/8 grid: 1 - y f is then exact in every dtype, so float32 and the float64
    # reference agree on which side of the hinge's kink each element falls.
    f = (rng.integers(-24, 25, shape) / 8).astype(dtype)
    y = rng.choice(np.array([-1, 1], dtype=np.int64), shape)
    return (f, y), {}


def distances_and_pair_labels(rng, shape, dtype):
    """Distances on a 1/8 grid in [0, 3] (margin - x is then exact in every dtype, so float32
    and the float64 reference agree on the side of the kink) and pair labels in {-1, 1} of
    int64, a tenth of them 0 (PyTorch counts both terms for a label other than +-1)."""
    x = (rng.integers(0, 25, shape) / 8).astype(dtype)
    y = rng.choice(np.array([-1, 1], dtype=np.int64), shape)
    y = np.where(rng.random(shape) < 0.1, 0, y)
    return (x, y), {}


def hinge_embedding_kinks(args, kwargs):
    """hinge_embedding: the kink at margin - x = 0 where the label is not 1."""
    x, y = np.asarray(args[0], np.float64), np.asarray(args[1], np.float64)
    return np.where(y == 1, np.inf, np.abs(kwargs["margin"] - x))


def ranking_pairs(rng, shape, dtype):
    """Score pairs on a 1/8 grid (so -y (x1 - x2) + margin is exact in every dtype and float32
    agrees with the float64 reference on each element's side of the kink) and preferences in
    {-1, 1} of the scores' dtype, a tenth of them 0 (PyTorch accepts any real y)."""
    x1, x2 = ((rng.integers(-24, 25, shape) / 8).astype(dtype) for _ in range(2))
    y = rng.choice(np.array([-1.0, 1.0]), shape)
    y = np.where(rng.random(shape) < 0.1, 0.0, y).astype(dtype)
    return (x1, x2, y), {}


def ranking_kinks(args, kwargs):
    """margin_ranking: the kink at -y (x1 - x2) + margin = 0 (none where y = 0)."""
    x1, x2, y = (np.asarray(a, np.float64) for a in args[:3])
    return np.where(y == 0, np.inf, np.abs(kwargs["margin"] - y * (x1 - x2)))


def signed_margins(rng, shape, dtype):
    """Scores and labels in {-1, 1}, a tenth of them a soft real target (PyTorch accepts any)."""
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    y = rng.choice(np.array([-1.0, 1.0]), shape)
    y = np.where(rng.random(shape) < 0.1, rng.uniform(-1.5, 1.5, shape), y).astype(dtype)
    return (x, y), {}


def poisson_counts(rng, shape, dtype):
    """Rates (positive, so also valid log-rates) and counts around them, some above 1."""
    x = rng.uniform(0.05, 3.0, shape).astype(dtype)
    y = rng.poisson(2.0, shape).astype(dtype)
    return (x, y), {}


def gaussian(rng, shape, dtype):
    """Means, observations and variances of the input's shape (variances below eps, whose
    1 / eps^2 scales overflow the property tests' bounds: tests/test_likelihood.py)."""
    x = (rng.standard_normal(shape) * 2).astype(dtype)
    y = rng.standard_normal(shape).astype(dtype)
    v = rng.uniform(0.1, 3.0, shape).astype(dtype)
    return (x, y, v), {}


def log_probabilities(rng, shape, dtype):
    """Log-probabilities of a distribution along the last axis and target probabilities, a
    fifth of them exactly 0."""
    z = rng.standard_normal(shape) * 2
    x = z - np.logaddexp.reduce(z, axis=-1, keepdims=True) if np.ndim(z) else -np.abs(z)
    p = rng.random(shape)
    p = np.where(rng.random(shape) < 0.2, 0.0, p)
    p = p / np.maximum(p.sum(axis=-1, keepdims=True), 1e-12) if np.ndim(p) else p
    return (np.asarray(x).astype(dtype), np.asarray(p).astype(dtype)), {}


def class_logits(rng, shape, dtype):
    return (rng.standard_normal(shape) * 2).astype(dtype)


def labels(rng, shape, classes, ignore=False):
    t = rng.integers(0, classes, shape[:-1] if shape else ())
    if ignore and t.size:
        t = np.where(rng.random(t.shape) < 0.2, -100, t)
    return t


def cross_entropy(rng, shape, dtype):
    return (class_logits(rng, shape, dtype), labels(rng, shape, shape[-1], ignore=True)), {}


def cross_entropy_dense(rng, shape, dtype):
    x = class_logits(rng, shape, dtype)
    y = rng.random(shape)
    y = (y / np.maximum(y.sum(-1, keepdims=True), 1e-12)).astype(dtype)
    return (x, y), {}


def grid_logits(rng, shape, dtype):
    # A 1/8 grid keeps margin + x_j - x_t exact, as for the binary hinge.
    return (rng.integers(-16, 17, shape) / 8).astype(dtype)


def multiclass_hinge(rng, shape, dtype):
    return (grid_logits(rng, shape, dtype), labels(rng, shape, shape[-1])), {}


def softmax_focal(rng, shape, dtype):
    return (class_logits(rng, shape, dtype), labels(rng, shape, shape[-1], ignore=True)), {}


def nll(rng, shape, dtype):
    """Log-probabilities in [log 0.05, log 0.95] (nll reads one per row, so rows need not sum
    to 1; every value stays clear of 0, the end of their domain) and class indices, some
    ignored."""
    log_p = np.log(rng.uniform(0.05, 0.95, shape)).astype(dtype)
    return (log_p, labels(rng, shape, shape[-1] if shape else 1, ignore=True)), {}


def multilabel_soft_margin(rng, shape, dtype):
    """Logits and per-class targets: mostly 0/1, some soft."""
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    y = rng.random(shape)
    y = np.where(rng.random(shape) < 0.8, np.round(y), y).astype(dtype)
    return (x, y), {}


def index_lists(rng, shape):
    """Per row, a random number (0 to C) of distinct classes in random order, then -1s."""
    classes = shape[-1] if shape else 0
    rows = int(np.prod(shape[:-1], dtype=np.int64)) if shape else 0
    t = np.full((rows, classes), -1, dtype=np.int64)
    for r in range(rows):
        k = int(rng.integers(0, classes + 1))
        t[r, :k] = rng.permutation(classes)[:k]
    return t.reshape(shape)


def multilabel_margin(rng, shape, dtype):
    # Scores on a 1/8 grid: 1 - x_t + x_j is exact, as for the other hinges.
    return (grid_logits(rng, shape, dtype), index_lists(rng, shape)), {}


def multilabel_margin_kinks(args, kwargs):
    """z = 1 - x_t + x_j at 0, for every listed t and unlisted j (the classes last)."""
    x = np.moveaxis(np.asarray(args[0], np.float64), kwargs["axis"], -1)
    t = np.moveaxis(np.asarray(args[1]), kwargs["axis"], -1)
    valid = np.cumprod(t != -1, axis=-1).astype(bool)
    safe = np.where(valid, t, 0)
    listed = ((safe[..., :, None] == np.arange(x.shape[-1])) & valid[..., None]).any(-2)
    z = 1.0 - np.take_along_axis(x, safe, -1)[..., :, None] + x[..., None, :]
    counts = valid[..., :, None] & ~listed[..., None, :]
    return np.min(np.where(counts, np.abs(z), np.inf), axis=(-2, -1), initial=np.inf)


def per_class(rng, classes):
    return rng.uniform(0.2, 2.0, classes)


def logits_pair(rng, shape, dtype):
    """Two logits arrays of one shape (p's and q's): independent, so the divergences are O(1)."""
    return (class_logits(rng, shape, dtype), class_logits(rng, shape, dtype)), {}


def distillation(rng, shape, dtype):
    """Student and teacher logits, and labels (a fifth of them ignored) as a keyword, so that
    args stay the two differentiable arrays."""
    (s, t), _ = logits_pair(rng, shape, dtype)
    return (s, t), {"labels": labels(rng, shape, shape[-1] if shape else 1, ignore=True)}


def ranked_lists(rng, shape, dtype):
    """Scores and graded relevance labels 0..4 (as floats of the scores' dtype: ties are
    common, as in real judgements)."""
    s = (rng.standard_normal(shape) * 2).astype(dtype)
    r = rng.integers(0, 5, shape).astype(dtype)
    return (s, r), {}


def list_mask(rng, shape):
    """A boolean mask of the lists' shape, about a quarter of the items padding (short lists
    are then sometimes all padding)."""
    return rng.random(shape) > 0.25
