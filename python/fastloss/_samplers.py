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
