r"""Loss combinations: multi-task weighting, curriculum and self-paced sample weights.

The lecture's section "Loss Function Combinations and Multi-Task Learning": a total
:math:`L_{total} = \sum_i \lambda_i L_i` of task losses with fixed, adaptive, uncertainty-based
(Kendall, Gal and Cipolla 2018) or dynamic (Liu, Johns and Davison 2019) weights, and the
per-sample weights :math:`w_i(t)` of curriculum learning (Platanios et al. 2019) and self-paced
learning (Kumar, Packer and Koller 2010; Jiang et al. 2014).

These act on a handful of task losses (scalars already reduced by a loss kernel) or on one weight
per sample, so they are written in float64 NumPy, not as kernels: every result is float64 whatever
the inputs' dtype. Their gradients are closed forms: ``fastloss.value_and_grad(fn, argnums)`` and
``fastloss.grad`` accept :func:`weighted_sum` (argnums 0: the losses, 1: the weights) and
:func:`uncertainty_weighting` (0: the losses, 1: the log-variances) as they accept a loss. The
stateful weightings keep their state in plain Python numbers (``state_dict()`` is JSON-able).
``fastloss.torch`` and ``fastloss.jax`` offer the same objects on tensors and JAX arrays.
"""

from __future__ import annotations

import math

import numpy as np

from ._combine_checks import (closed_form_gradients, entry, positive_vector, real_vector,
                              same_length, task_count, uncertainty_factors, weight_vector)
from ._combine_checks import scalar as _scalar
from ._pacing import (curriculum_weights, self_paced_regularizer,  # noqa: F401 (exported)
                      self_paced_weights)
from ._validate import fail, positive, real_scalar

# The names fastloss re-exports (its package __init__ adds each module's __all__).
__all__ = [
    "weighted_sum",
    "uncertainty_weighting",
    "AdaptiveWeighting",
    "UncertaintyWeighting",
    "DynamicWeightAverage",
    "curriculum_weights",
    "self_paced_weights",
    "self_paced_regularizer",
]


# -- fixed weights -----------------------------------------------------------------------------

def _weighted_sum_value_and_grad(losses, weights):
    fn = "weighted_sum"
    L = real_vector(fn, "losses", losses)
    w = weight_vector(fn, "weights", weights)
    same_length(fn, ("losses", "weights"), L.size, w.size)
    return _scalar(math.fsum(w * L)), (w, L)


@closed_form_gradients(("losses", "weights"), _weighted_sum_value_and_grad)
def weighted_sum(losses, weights):
    r"""The lecture's linear combination of task losses.

    .. math:: L_{total} = \sum_{i=1}^{T} \lambda_i L_i, \qquad
        \partial L_{total} / \partial L_i = \lambda_i, \qquad
        \partial L_{total} / \partial \lambda_i = L_i

    Args:
      losses: the T task losses :math:`L_i` (a sequence of numbers or a 1-D array), finite.
      weights: the T weights :math:`\lambda_i`, finite and >= 0.

    Returns:
      A 0-d float64 array (summed exactly rounded, ``math.fsum``). ``fastloss.value_and_grad(
      weighted_sum)(losses, weights)`` also returns :math:`\partial L_{total}/\partial L_i`
      (``argnums=1``: with respect to the weights; ``(0, 1)``: both).

    >>> import fastloss
    >>> float(fastloss.weighted_sum([2.0, 0.5], [0.25, 2.0]))
    1.5
    >>> total, g = fastloss.value_and_grad(fastloss.weighted_sum)([2.0, 0.5], [0.25, 2.0])
    >>> g.tolist()
    [0.25, 2.0]

    Errors: losses and weights of different lengths, empty, not finite, or a negative weight.
    Reference: the lecture, "Weighted Loss Combinations".
    """
    return _weighted_sum_value_and_grad(losses, weights)[0]


# -- uncertainty weighting (Kendall, Gal and Cipolla 2018) --------------------------------------

def _uncertainty_value_and_grad(losses, log_vars, *, kind="regression", fn="uncertainty_weighting"):
    L = real_vector(fn, "losses", losses)
    s = real_vector(fn, "log_vars", log_vars)
    same_length(fn, ("losses", "log_vars"), L.size, s.size)
    c = uncertainty_factors(fn, kind, L.size)
    precision = c * np.exp(-s)
    total = math.fsum(precision * L) + 0.5 * math.fsum(s)
    return _scalar(total), (precision, 0.5 - precision * L)


@closed_form_gradients(("losses", "log_vars"), _uncertainty_value_and_grad)
def uncertainty_weighting(losses, log_vars, *, kind="regression"):
    r"""Kendall, Gal and Cipolla's (2018) homoscedastic-uncertainty weighting of task losses.

    .. math:: L_{total} = \sum_i c_i e^{-s_i} L_i + \tfrac12 s_i, \qquad s_i = \log\sigma_i^2

    with :math:`c_i = 1/2` for a regression task (a Gaussian likelihood:
    :math:`L_i/(2\sigma_i^2) + \log\sigma_i`, the lecture's form) and :math:`c_i = 1` for a
    classification task (a softmax likelihood: :math:`L_i/\sigma_i^2 + \log\sigma_i`, as in the
    paper). Gradients: :math:`\partial/\partial L_i = c_i e^{-s_i}`,
    :math:`\partial/\partial s_i = \tfrac12 - c_i e^{-s_i} L_i`; for :math:`L_i > 0` the total is
    minimised over :math:`s_i` at :math:`s_i^* = \log(2 c_i L_i)` (:math:`\log L_i` for
    regression). Learning :math:`s` rather than :math:`\sigma` keeps it unconstrained and the
    precision :math:`e^{-s}` positive. (The widely copied ``exp(-s) L + s`` is twice the
    regression form.)

    Args:
      losses: the T task losses (sequence or 1-D array), finite; >= 0 for the total to have a
        minimum in :math:`s`.
      log_vars: the T log-variances :math:`s_i`, finite (start them at 0).
      kind: ``"regression"`` (default), ``"classification"``, or a list with one per task.

    Returns:
      A 0-d float64 array. ``fastloss.value_and_grad(uncertainty_weighting, argnums=(0, 1))``
      gives the gradients with respect to the losses and to ``log_vars``.

    >>> import numpy as np, fastloss
    >>> float(fastloss.uncertainty_weighting([2.0, 4.0], [0.0, 0.0]))
    3.0
    >>> _, (g_loss, g_s) = fastloss.value_and_grad(fastloss.uncertainty_weighting, argnums=(0, 1))(
    ...     [2.0, 4.0], [0.0, np.log(4.0)], kind=["classification", "regression"])
    >>> g_loss.tolist(), g_s.tolist()
    ([1.0, 0.125], [-1.5, 0.0])

    Reference: A. Kendall, Y. Gal and R. Cipolla, "Multi-Task Learning Using Uncertainty to
    Weigh Losses for Scene Geometry and Semantics", CVPR 2018; the lecture's
    "Uncertainty-Based Weighting". See :class:`UncertaintyWeighting` for the stateful form.
    """
    return _uncertainty_value_and_grad(losses, log_vars, kind=kind)[0]


class UncertaintyWeighting:
    r""":func:`uncertainty_weighting` with its log-variances :math:`s` kept as state.

    ``UncertaintyWeighting(num_tasks, kind="regression", init=0.0)``; ``log_vars`` is a float64
    array (init 0, :math:`\sigma = 1`) that the caller updates with the gradient from
    :meth:`value_and_grad` (``fastloss.torch.UncertaintyWeighting`` makes it an
    ``nn.Parameter`` that an optimiser trains).

    >>> import fastloss
    >>> uw = fastloss.UncertaintyWeighting(2)
    >>> total, (g_loss, g_s) = uw.value_and_grad([1.0, 3.0])
    >>> float(total), g_loss.tolist(), g_s.tolist()
    (2.0, [0.5, 0.5], [0.0, -1.0])
    >>> for _ in range(200):                       # gradient descent on s: s* = log L
    ...     uw.log_vars -= 0.5 * uw.value_and_grad([1.0, 3.0])[1][1]
    >>> [round(float(s), 6) for s in uw.log_vars]
    [0.0, 1.098612]
    """

    def __init__(self, num_tasks, *, kind="regression", init=0.0):
        fn = "UncertaintyWeighting"
        k = task_count(fn, num_tasks)
        uncertainty_factors(fn, kind, k)  # checked now, not at the first call
        self.kind = kind if isinstance(kind, str) else list(kind)
        self.log_vars = np.full(k, real_scalar(fn, "init", init))

    def __call__(self, losses) -> np.ndarray:
        return self.value_and_grad(losses)[0]

    def value_and_grad(self, losses):
        """``(total, (d total/d losses, d total/d log_vars))``."""
        real_vector("UncertaintyWeighting", "losses", losses, length=self.log_vars.size)
        return _uncertainty_value_and_grad(losses, self.log_vars, kind=self.kind,
                                           fn="UncertaintyWeighting")

    def state_dict(self) -> dict:
        return {"kind": self.kind, "log_vars": self.log_vars.tolist()}

    def load_state_dict(self, state: dict) -> None:
        fn = "UncertaintyWeighting.load_state_dict"
        s = real_vector(fn, "log_vars", entry(fn, state, "log_vars"), length=self.log_vars.size)
        uncertainty_factors(fn, entry(fn, state, "kind"), s.size)
        self.kind, self.log_vars = state["kind"], s

    def __repr__(self) -> str:
        return f"UncertaintyWeighting(num_tasks={self.log_vars.size}, kind={self.kind!r})"


# -- adaptive weighting (the lecture) -----------------------------------------------------------

class AdaptiveWeighting:
    r"""The lecture's adaptive weighting: each task's weight scaled by its loss's decrease.

    .. math:: \lambda_i(t) = \lambda_i(0) \, \frac{L_i(0)}{L_i(t)}

    Stateful: the first call records :math:`L_i(0)`; :meth:`reset` forgets it. The weights are
    constants of the step (computed from the loss values, not differentiated through): their
    product with :math:`L_i(t)` is the constant :math:`\lambda_i(0) L_i(0)`, so the total's value
    does not move while its gradient :math:`\lambda_i(t)` grows for the tasks that lag.

    Args:
      num_tasks: T.
      initial_weights: the T weights :math:`\lambda_i(0)` (>= 0, finite); default ones.

    Methods: ``weights(losses)`` gives :math:`\lambda(t)`; calling the object gives
    :math:`\sum_i \lambda_i(t) L_i(t)`; ``value_and_grad(losses)`` gives it with
    :math:`\partial/\partial L_i = \lambda_i(t)`. ``losses`` must be finite and > 0.

    >>> import fastloss
    >>> aw = fastloss.AdaptiveWeighting(2, initial_weights=[1.0, 0.5])
    >>> aw.weights([2.0, 4.0]).tolist()            # the first call sets L(0)
    [1.0, 0.5]
    >>> aw.weights([1.0, 4.0]).tolist()            # task 0 halved its loss: its weight doubles
    [2.0, 0.5]
    >>> aw.state_dict()
    {'initial_weights': [1.0, 0.5], 'initial_losses': [2.0, 4.0]}
    """

    def __init__(self, num_tasks, *, initial_weights=None):
        fn = "AdaptiveWeighting"
        k = task_count(fn, num_tasks)
        self.initial_weights = np.ones(k) if initial_weights is None else weight_vector(
            fn, "initial_weights", initial_weights, length=k)
        self.initial_losses = None

    def weights(self, losses) -> np.ndarray:
        fn = "AdaptiveWeighting"
        L = positive_vector(fn, "losses", losses, length=self.initial_weights.size)
        if self.initial_losses is None:
            self.initial_losses = L
        return self.initial_weights * self.initial_losses / L

    def value_and_grad(self, losses):
        """``(total, d total/d losses)`` with this step's weights as constants."""
        w = self.weights(losses)
        return _scalar(math.fsum(w * np.asarray(losses, dtype=np.float64))), w

    def __call__(self, losses) -> np.ndarray:
        return self.value_and_grad(losses)[0]

    def reset(self) -> None:
        """Forget :math:`L(0)`: the next call records it again."""
        self.initial_losses = None

    def state_dict(self) -> dict:
        return {"initial_weights": self.initial_weights.tolist(),
                "initial_losses": None if self.initial_losses is None
                else self.initial_losses.tolist()}

    def load_state_dict(self, state: dict) -> None:
        fn = "AdaptiveWeighting.load_state_dict"
        k = self.initial_weights.size
        w = weight_vector(fn, "initial_weights", entry(fn, state, "initial_weights"), length=k)
        L0 = entry(fn, state, "initial_losses")
        self.initial_losses = None if L0 is None else positive_vector(fn, "initial_losses", L0,
                                                                      length=k)
        self.initial_weights = w

    def __repr__(self) -> str:
        return f"AdaptiveWeighting(num_tasks={self.initial_weights.size})"


# -- dynamic weight average (Liu, Johns and Davison 2019) ---------------------------------------

def dwa_weights(previous: np.ndarray, before: np.ndarray, temperature: float) -> np.ndarray:
    """K softmax(r / T) with r = L(t-1) / L(t-2), the exponent shifted by its max (exact in
    exact arithmetic, and no overflow)."""
    z = (previous / before) / temperature
    e = np.exp(z - z.max())
    return previous.size * e / math.fsum(e)


class DynamicWeightAverage:
    r"""Liu, Johns and Davison's (2019) dynamic weight average over epochs.

    .. math:: w_i(t) = K \frac{\exp(r_i(t-1)/T)}{\sum_j \exp(r_j(t-1)/T)}, \qquad
        r_i(t-1) = \frac{L_i(t-1)}{L_i(t-2)}

    with :math:`L_i` the average loss of task i over an epoch, K tasks and temperature T
    (default 2, the paper's); :math:`w_i = 1` for the first two epochs. A task whose loss falls
    slowly gets a larger weight; the weights sum to K.

    Call :meth:`update` with each finished epoch's average losses (finite, > 0); ``weights`` is
    the weights of the current epoch; calling the object gives :math:`\sum_i w_i L_i` with them
    and ``value_and_grad(losses)`` that total with :math:`\partial/\partial L_i = w_i`.

    >>> import fastloss
    >>> dwa = fastloss.DynamicWeightAverage(2)
    >>> dwa.weights.tolist()
    [1.0, 1.0]
    >>> dwa.update([1.0, 1.0]).tolist()            # after epoch 0: still ones
    [1.0, 1.0]
    >>> [round(w, 6) for w in dwa.update([0.5, 1.0]).tolist()]   # task 0 halved, task 1 stalled
    [0.875647, 1.124353]

    Reference: S. Liu, E. Johns and A. J. Davison, "End-to-End Multi-Task Learning with
    Attention", CVPR 2019.
    """

    def __init__(self, num_tasks, *, temperature=2.0):
        fn = "DynamicWeightAverage"
        self.num_tasks = task_count(fn, num_tasks)
        self.temperature = positive(fn, "temperature", temperature)
        self.history: list[np.ndarray] = []  # the last two epochs' losses, oldest first

    @property
    def weights(self) -> np.ndarray:
        if len(self.history) < 2:
            return np.ones(self.num_tasks)
        return dwa_weights(self.history[1], self.history[0], self.temperature)

    def update(self, epoch_losses) -> np.ndarray:
        """Record a finished epoch's average task losses; returns the next epoch's weights."""
        L = positive_vector("DynamicWeightAverage", "epoch_losses", epoch_losses,
                            length=self.num_tasks)
        self.history = [*self.history, L][-2:]
        return self.weights

    def value_and_grad(self, losses):
        w = self.weights
        L = real_vector("DynamicWeightAverage", "losses", losses, length=self.num_tasks)
        return _scalar(math.fsum(w * L)), w

    def __call__(self, losses) -> np.ndarray:
        return self.value_and_grad(losses)[0]

    def reset(self) -> None:
        self.history = []

    def state_dict(self) -> dict:
        return {"temperature": self.temperature, "history": [h.tolist() for h in self.history]}

    def load_state_dict(self, state: dict) -> None:
        fn = "DynamicWeightAverage.load_state_dict"
        t = positive(fn, "temperature", entry(fn, state, "temperature"))
        history = entry(fn, state, "history")
        if not isinstance(history, (list, tuple)) or len(history) > 2:
            fail(fn, f"history must be a list of at most 2 epochs' losses, got {history!r}")
        self.history = [positive_vector(fn, "history", h, length=self.num_tasks)
                        for h in history]
        self.temperature = t

    def __repr__(self) -> str:
        return (f"DynamicWeightAverage(num_tasks={self.num_tasks}, "
                f"temperature={self.temperature!r})")

