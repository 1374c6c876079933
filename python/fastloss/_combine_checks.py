"""Argument checks of the loss combinations (fastloss._combine, _pacing), shared with
fastloss.torch and fastloss.jax, which pass their own function names (``torch.weighted_sum``):
every message names the function and the argument."""

from __future__ import annotations

import numpy as np

from ._validate import choice, fail, integer, positive

# Kendall et al.'s factor on exp(-s) L per kind of task: a Gaussian likelihood gives
# L / (2 sigma^2) + log sigma, a softmax likelihood L / sigma^2 + log sigma (s = log sigma^2).
UNCERTAINTY_FACTORS = {"regression": 0.5, "classification": 1.0}


def real_vector(fn: str, name: str, value, *, length: int | None = None) -> np.ndarray:
    """`value` (a sequence of numbers or a 1-D real array) as a new float64 vector of finite
    values, of `length` when given, never empty."""
    try:
        a = np.asarray(value)
    except Exception as e:  # a tensor that requires grad, a ragged list
        fail(fn, f"{name} must be a 1-D sequence of real numbers ({e})", TypeError)
    if a.dtype == object or a.dtype.kind not in "fiu":
        fail(fn, f"{name} must be a 1-D sequence of real numbers, got dtype {a.dtype}", TypeError)
    if a.ndim != 1:
        fail(fn, f"{name} must be 1-D (one value per task), got shape {a.shape}")
    if a.size == 0:
        fail(fn, f"{name} must not be empty")
    if length is not None and a.size != length:
        fail(fn, f"{name} must have {length} values (one per task), got {a.size}")
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        fail(fn, f"{name} must be finite, got {a.tolist()}")
    return a


def weight_vector(fn: str, name: str, value, *, length: int | None = None) -> np.ndarray:
    w = real_vector(fn, name, value, length=length)
    if (w < 0).any():
        fail(fn, f"{name} must be >= 0, got {w.tolist()}")
    return w


def positive_vector(fn: str, name: str, value, *, length: int | None = None) -> np.ndarray:
    a = real_vector(fn, name, value, length=length)
    if not (a > 0).all():
        fail(fn, f"{name} must be > 0 (the weighting divides by them), got {a.tolist()}")
    return a


def same_length(fn: str, names: tuple[str, str], a: int, b: int) -> None:
    if a != b:
        fail(fn, f"{names[0]} and {names[1]} must have the same length, got {a} and {b}")


def task_count(fn: str, num_tasks) -> int:
    k = integer(fn, "num_tasks", num_tasks)
    if k < 1:
        fail(fn, f"num_tasks must be >= 1, got {num_tasks!r}")
    return k


def uncertainty_factors(fn: str, kind, num_tasks: int) -> np.ndarray:
    """One factor per task from ``kind``: a kind name for every task, or one name per task."""
    kinds = [kind] * num_tasks if isinstance(kind, str) else list(kind) \
        if isinstance(kind, (list, tuple)) else None
    if kinds is None:
        fail(fn, f"kind must be 'regression', 'classification' or a list of them, got {kind!r}",
             TypeError)
    if len(kinds) != num_tasks:
        fail(fn, f"kind must name one kind per task ({num_tasks}), got {len(kinds)}")
    for k in kinds:
        choice(fn, "kind", k, tuple(UNCERTAINTY_FACTORS))
    return np.array([UNCERTAINTY_FACTORS[k] for k in kinds])


SELF_PACED_KINDS = ("hard", "linear", "mixture")


def mixture_threshold(fn: str, kind: str, lam: float, gamma) -> float | None:
    """The mixture's lower threshold (0 < gamma < lam), None for the other kinds."""
    if kind != "mixture":
        if gamma is not None:
            fail(fn, f"gamma is used by kind='mixture' only, got gamma={gamma!r} with "
                     f"kind={kind!r}")
        return None
    if gamma is None:
        fail(fn, "kind='mixture' needs gamma (the loss below which a weight is 1), 0 < gamma < lam",
             TypeError)
    g = positive(fn, "gamma", gamma)
    if not g < lam:
        fail(fn, f"gamma must be < lam, got gamma={gamma!r} and lam={lam!r}")
    return g


def scalar(value: float) -> np.ndarray:
    return np.asarray(value, dtype=np.float64)


def closed_form_gradients(arrays: tuple[str, ...], value_and_grad):
    """Lets ``fastloss.value_and_grad`` differentiate a combination: ``value_and_grad(*args,
    **kwargs)`` returns the value and one gradient per name of ``arrays`` (in that order)."""
    def mark(fn):
        fn._combination_arrays = arrays
        fn._combination_value_and_grad = value_and_grad
        return fn
    return mark


def entry(fn: str, state, key: str):
    if not isinstance(state, dict) or key not in state:
        fail(fn, f"state must be a dict from state_dict() with the key {key!r}, got {state!r}",
             TypeError if not isinstance(state, dict) else ValueError)
    return state[key]

