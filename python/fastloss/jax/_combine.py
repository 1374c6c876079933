"""The loss combinations of :mod:`fastloss._combine` for JAX, written with ``jax.numpy``.

Pure functions and small pytree classes: they trace under ``jax.jit``, ``jax.grad`` and
``jax.vmap`` like any jax.numpy code (no custom call: a handful of task losses needs no kernel).
Hyper-parameters (``lam``, ``gamma``, ``kind``, ``temperature``, ``step``, ...) are static
Python values, checked at trace time by the NumPy API's checks (``[fastloss.jax.<name>]``);
weights and losses may be traced (then only their shapes are checked: a traced weight's sign
is not known while tracing). The stateful weightings are immutable pytrees: ``update`` /
``start`` return a new one, so they can be carried through a jitted training step. The adaptive,
dynamic and self-paced weights are constants of the step (``jax.lax.stop_gradient``). See the
NumPy functions for the formulas and references.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from .. import _combine as C
from .. import _combine_checks as K
from .. import _pacing as P
from .._validate import choice, fail, positive, real_scalar

__all__ = [
    "weighted_sum",
    "uncertainty_weighting",
    "curriculum_weights",
    "self_paced_weights",
    "self_paced_regularizer",
    "AdaptiveWeighting",
    "DynamicWeightAverage",
    "UncertaintyWeighting",
]


def _is_traced(x) -> bool:
    return isinstance(x, jax.core.Tracer)


def _vector(fn: str, name: str, value, *, check=K.real_vector, length=None):
    """A 1-D float array; concrete values get the NumPy API's checks, traced ones the shape
    checks only (their values are not known while tracing)."""
    if _is_traced(value):
        if value.ndim != 1 or value.shape[0] == 0:
            fail(fn, f"{name} must be 1-D and non-empty, got shape {value.shape}")
        if length is not None and value.shape[0] != length:
            fail(fn, f"{name} must have {length} values (one per task), got {value.shape[0]}")
        return value if jnp.issubdtype(value.dtype, jnp.floating) else value.astype(float)
    if isinstance(value, (list, tuple)):
        value = [np.asarray(v) if not _is_traced(v) else v for v in value]
        if any(_is_traced(v) for v in value):
            return _vector(fn, name, jnp.stack([jnp.reshape(v, ()) for v in value]),
                           check=check, length=length)
    checked = check(fn, name, np.asarray(value), length=length)
    dtype = jnp.asarray(value).dtype
    return jnp.asarray(checked, dtype=dtype if jnp.issubdtype(dtype, jnp.floating) else None)


def weighted_sum(losses, weights):
    """:func:`fastloss.weighted_sum` for JAX arrays (differentiable in both)."""
    fn = "jax.weighted_sum"
    L = _vector(fn, "losses", losses)
    w = _vector(fn, "weights", weights, check=K.weight_vector)
    K.same_length(fn, ("losses", "weights"), L.shape[0], w.shape[0])
    return jnp.sum(w.astype(L.dtype) * L)


def uncertainty_weighting(losses, log_vars, *, kind="regression"):
    """:func:`fastloss.uncertainty_weighting` for JAX arrays (differentiable in both)."""
    fn = "jax.uncertainty_weighting"
    L = _vector(fn, "losses", losses)
    s = _vector(fn, "log_vars", log_vars)
    K.same_length(fn, ("losses", "log_vars"), L.shape[0], s.shape[0])
    c = jnp.asarray(K.uncertainty_factors(fn, kind, L.shape[0]), dtype=L.dtype)
    return jnp.sum(c * jnp.exp(-s) * L) + 0.5 * jnp.sum(s)


def curriculum_weights(difficulty, step, *, total_steps, schedule="linear", initial=0.01,
                       by_rank=False):
    """:func:`fastloss.curriculum_weights` for a JAX array of difficulties (``step`` static)."""
    fn = "jax.curriculum_weights"
    c = P.competence(fn, step, schedule=schedule, total_steps=total_steps, initial=initial)
    if not _is_traced(difficulty):
        P.difficulty_cdf(fn, np.asarray(difficulty), by_rank)
    elif not isinstance(by_rank, bool):
        fail(fn, f"by_rank must be a bool, got {by_rank!r}", TypeError)
    d = jnp.asarray(difficulty)
    dtype = d.dtype if jnp.issubdtype(d.dtype, jnp.floating) else jnp.float32
    # Without x64 JAX would round c to float32 and move ties; so compare against thresholds that
    # give exactly the NumPy API's float64 comparisons.
    if by_rank:
        n = max(d.size, 1)
        at_most = jnp.searchsorted(jnp.sort(d.reshape(-1)), d, side="right")
        return jax.lax.stop_gradient((at_most <= _rank_threshold(c, n)).astype(dtype))
    if d.dtype != jnp.float64:  # float32 holds every narrower float exactly
        d = d.astype(jnp.float32)
        return jax.lax.stop_gradient((d <= _float32_at_most(c)).astype(dtype))
    return jax.lax.stop_gradient((d <= c).astype(dtype))


def _rank_threshold(c: float, n: int) -> int:
    """The largest k in [0, n] with k / n <= c in float64 (the NumPy API's test of a rank)."""
    k = min(n, int(math.floor(c * n)))
    while k < n and (k + 1) / n <= c:
        k += 1
    while k > 0 and k / n > c:
        k -= 1
    return k


def _float32_at_most(c: float) -> np.float32:
    """The largest float32 <= c: for a float32 d, d <= it exactly when d <= c."""
    f = np.float32(c)
    return np.nextafter(f, np.float32(-np.inf)) if float(f) > c else f


def _float32_below(c: float) -> np.float32:
    """The largest float32 < c: for a float32 d, d <= it exactly when d < c."""
    f = _float32_at_most(c)
    return np.nextafter(f, np.float32(-np.inf)) if float(f) == c else f


def _self_paced_args(fn, lam, kind, gamma):
    lam = positive(fn, "lam", lam)
    kind = choice(fn, "kind", kind, K.SELF_PACED_KINDS)
    return lam, kind, K.mixture_threshold(fn, kind, lam, gamma)


def self_paced_weights(losses, lam, *, kind="hard", gamma=None):
    """:func:`fastloss.self_paced_weights` for a JAX array of losses (no gradient flows)."""
    lam, kind, gamma = _self_paced_args("jax.self_paced_weights", lam, kind, gamma)
    L = jax.lax.stop_gradient(jnp.asarray(losses))
    dtype = L.dtype if jnp.issubdtype(L.dtype, jnp.floating) else jnp.float32
    # The cases are told apart as the NumPy API does in float64 (l < lam, l <= gamma): against
    # float32 thresholds that give the same answers, not lam and gamma rounded to float32.
    if L.dtype == jnp.float64:
        below_lam = L < lam
        at_most_gamma = None if gamma is None else L <= gamma
    else:
        L = L.astype(jnp.float32)
        below_lam = L <= _float32_below(lam)
        at_most_gamma = None if gamma is None else L <= _float32_at_most(gamma)
    if kind == "hard":
        return below_lam.astype(dtype)
    if kind == "linear":
        return jnp.where(below_lam, jnp.clip(1.0 - L / lam, 0.0, 1.0), 0.0).astype(dtype)
    zeta = lam * gamma / (lam - gamma)
    soft = zeta / jnp.where(at_most_gamma, 1.0, L) - zeta / lam
    return jnp.where(at_most_gamma, 1.0, jnp.where(below_lam, soft, 0.0)).astype(dtype)


def self_paced_regularizer(weights, lam, *, kind="hard", gamma=None):
    """:func:`fastloss.self_paced_regularizer` for a JAX array of weights (differentiable)."""
    fn = "jax.self_paced_regularizer"
    lam, kind, gamma = _self_paced_args(fn, lam, kind, gamma)
    v = jnp.asarray(weights)
    if not _is_traced(weights):
        values = np.asarray(weights, dtype=np.float64)
        if values.size and not (values.min() >= 0 and values.max() <= 1):
            fail(fn, f"weights must be in [0, 1], got values in [{values.min()!r}, "
                     f"{values.max()!r}]")
    if kind == "hard":
        return -lam * jnp.sum(v)
    if kind == "linear":
        return lam * jnp.sum(0.5 * v * v - v)
    zeta = lam * gamma / (lam - gamma)
    return -zeta * jnp.sum(jnp.log(v + zeta / lam))


@jax.tree_util.register_pytree_node_class
class UncertaintyWeighting:
    """The log-variances ``log_vars`` as a pytree (a leaf to differentiate and update) with the
    task kinds as static data: ``UncertaintyWeighting.create(num_tasks, kind=...)`` (s = 0);
    calling it on the losses gives :func:`uncertainty_weighting`, so
    ``jax.grad(lambda uw, L: uw(L))(uw, L)`` is an ``UncertaintyWeighting`` of gradients."""

    def __init__(self, log_vars, kind="regression"):
        self.log_vars = log_vars
        self.kind = kind if isinstance(kind, str) else tuple(kind)

    @classmethod
    def create(cls, num_tasks, *, kind="regression", init=0.0):
        fn = "jax.UncertaintyWeighting"
        k = K.task_count(fn, num_tasks)
        K.uncertainty_factors(fn, kind, k)
        return cls(jnp.full((k,), real_scalar(fn, "init", init)), kind)

    def __call__(self, losses):
        return uncertainty_weighting(losses, self.log_vars, kind=list(self.kind)
                                     if isinstance(self.kind, tuple) else self.kind)

    def tree_flatten(self):
        return (self.log_vars,), self.kind

    @classmethod
    def tree_unflatten(cls, kind, children):
        return cls(children[0], kind)


@jax.tree_util.register_pytree_node_class
class AdaptiveWeighting:
    """:class:`fastloss.AdaptiveWeighting` as an immutable pytree: ``AdaptiveWeighting.create(
    num_tasks, initial_weights=None)``, then ``aw = aw.start(L0)`` records L(0) (once: a started
    one is returned unchanged); ``aw.weights(L)`` is ``lambda(0) L(0) / L`` and ``aw(L)`` the
    weighted total with those weights as constants."""

    def __init__(self, initial_weights, initial_losses=None):
        self.initial_weights = initial_weights
        self.initial_losses = initial_losses

    @classmethod
    def create(cls, num_tasks, *, initial_weights=None):
        numpy_form = C.AdaptiveWeighting(num_tasks, initial_weights=initial_weights)
        return cls(jnp.asarray(numpy_form.initial_weights, dtype=jnp.float32
                               if not jax.config.jax_enable_x64 else jnp.float64))

    def start(self, losses):
        if self.initial_losses is not None:
            return self
        L = _vector("jax.AdaptiveWeighting", "losses", losses, check=K.positive_vector,
                    length=self.initial_weights.shape[0])
        return AdaptiveWeighting(self.initial_weights, jax.lax.stop_gradient(L))

    def weights(self, losses):
        if self.initial_losses is None:
            fail("jax.AdaptiveWeighting", "call start(losses) first: it records L(0)")
        L = _vector("jax.AdaptiveWeighting", "losses", losses, check=K.positive_vector,
                    length=self.initial_weights.shape[0])
        return jax.lax.stop_gradient(self.initial_weights * self.initial_losses / L)

    def __call__(self, losses):
        L = _vector("jax.AdaptiveWeighting", "losses", losses, check=K.positive_vector,
                    length=self.initial_weights.shape[0])
        return jnp.sum(self.weights(L).astype(L.dtype) * L)

    def tree_flatten(self):
        return (self.initial_weights, self.initial_losses), None

    @classmethod
    def tree_unflatten(cls, _, children):
        return cls(*children)


@jax.tree_util.register_pytree_node_class
class DynamicWeightAverage:
    """:class:`fastloss.DynamicWeightAverage` as an immutable pytree: ``DynamicWeightAverage.
    create(num_tasks, temperature=2.0)``; ``dwa = dwa.update(epoch_losses)`` at each epoch's end;
    ``dwa.weights`` (ones until two epochs are recorded); ``dwa(L)`` the weighted total."""

    def __init__(self, previous, before, epochs, temperature):
        self.previous, self.before, self.epochs = previous, before, epochs
        self.temperature = temperature

    @classmethod
    def create(cls, num_tasks, *, temperature=2.0):
        fn = "jax.DynamicWeightAverage"
        k = K.task_count(fn, num_tasks)
        return cls(jnp.ones(k), jnp.ones(k), jnp.zeros((), jnp.int32),
                   positive(fn, "temperature", temperature))

    @property
    def weights(self):
        z = (self.previous / self.before) / self.temperature
        dwa = self.previous.shape[0] * jax.nn.softmax(z)
        return jax.lax.stop_gradient(jnp.where(self.epochs >= 2, dwa, jnp.ones_like(dwa)))

    def update(self, epoch_losses):
        L = _vector("jax.DynamicWeightAverage", "epoch_losses", epoch_losses,
                    check=K.positive_vector, length=self.previous.shape[0])
        L = jax.lax.stop_gradient(L).astype(self.previous.dtype)
        return DynamicWeightAverage(L, self.previous, self.epochs + 1, self.temperature)

    def __call__(self, losses):
        L = _vector("jax.DynamicWeightAverage", "losses", losses,
                    length=self.previous.shape[0])
        return jnp.sum(self.weights.astype(L.dtype) * L)

    def tree_flatten(self):
        return (self.previous, self.before, self.epochs), self.temperature

    @classmethod
    def tree_unflatten(cls, temperature, children):
        return cls(*children, temperature)
