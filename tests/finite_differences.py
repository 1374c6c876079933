"""Central finite differences of a reference loss, in float64 (a plain module, imported by the
reference-gradient tests; ``tests/conftest.py`` puts this directory on ``sys.path``)."""

from __future__ import annotations

import numpy as np

# A step of 1e-6 relative: the truncation error (~1e-12 of the third derivative) and the
# rounding error (~1e-16 / 1e-6 of the loss) both sit far inside TOLERANCE["finite_difference"].
REL_STEP = 1e-6


def numerical_gradient(loss_fn, arrays, index, kwargs, grad_output):
    """d sum(grad_output * loss_fn(*arrays, **kwargs)) / d arrays[index], by central differences."""
    arrays = list(arrays)
    x = np.asarray(arrays[index], dtype=np.float64)

    def objective(value):
        arrays[index] = value
        return float(np.sum(grad_output * loss_fn(*arrays, **kwargs)))

    g = np.zeros(x.shape)
    for idx in np.ndindex(*x.shape):
        h = REL_STEP * max(1.0, abs(x[idx]))
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        g[idx] = (objective(xp) - objective(xm)) / (xp[idx] - xm[idx])
    return g


def grad_output_for(rng, reduction, loss_shape, scalar):
    """An upstream gradient that is never all ones: `scalar` for mean/sum, uniform(-2, 2) per
    element for none."""
    if reduction == "none":
        return rng.uniform(-2.0, 2.0, size=loss_shape)
    return scalar


def sample_weight_for(rng, weighting, loss_shape):
    """None, weights of the loss shape, or weights along its last axis (broadcast)."""
    if weighting == "unweighted":
        return None
    if weighting == "weighted" or len(loss_shape) == 0:
        return rng.uniform(0.2, 2.0, size=loss_shape)
    return rng.uniform(0.2, 2.0, size=loss_shape[-1:])
