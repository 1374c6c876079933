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

from ._validate import choice, fail, integer, positive, real_scalar

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

# Kendall et al.'s factor on exp(-s) L per kind of task: a Gaussian likelihood gives
# L / (2 sigma^2) + log sigma, a softmax likelihood L / sigma^2 + log sigma (s = log sigma^2).
UNCERTAINTY_FACTORS = {"regression": 0.5, "classification": 1.0}
SCHEDULES = ("linear", "root", "geometric")
SELF_PACED_KINDS = ("hard", "linear", "mixture")


# -- argument checks (shared with fastloss.torch and fastloss.jax, which pass their own names) --

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


def _scalar(value: float) -> np.ndarray:
    return np.asarray(value, dtype=np.float64)


def _closed_form_gradients(arrays: tuple[str, ...], value_and_grad):
    """Lets ``fastloss.value_and_grad`` differentiate a combination: ``value_and_grad(*args,
    **kwargs)`` returns the value and one gradient per name of ``arrays`` (in that order)."""
    def mark(fn):
        fn._combination_arrays = arrays
        fn._combination_value_and_grad = value_and_grad
        return fn
    return mark


# -- fixed weights -----------------------------------------------------------------------------

def _weighted_sum_value_and_grad(losses, weights):
    fn = "weighted_sum"
    L = real_vector(fn, "losses", losses)
    w = weight_vector(fn, "weights", weights)
    same_length(fn, ("losses", "weights"), L.size, w.size)
    return _scalar(math.fsum(w * L)), (w, L)


@_closed_form_gradients(("losses", "weights"), _weighted_sum_value_and_grad)
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


@_closed_form_gradients(("losses", "log_vars"), _uncertainty_value_and_grad)
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
        s = real_vector(fn, "log_vars", _entry(fn, state, "log_vars"), length=self.log_vars.size)
        uncertainty_factors(fn, _entry(fn, state, "kind"), s.size)
        self.kind, self.log_vars = state["kind"], s

    def __repr__(self) -> str:
        return f"UncertaintyWeighting(num_tasks={self.log_vars.size}, kind={self.kind!r})"


def _entry(fn: str, state, key: str):
    if not isinstance(state, dict) or key not in state:
        fail(fn, f"state must be a dict from state_dict() with the key {key!r}, got {state!r}",
             TypeError if not isinstance(state, dict) else ValueError)
    return state[key]


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
        w = weight_vector(fn, "initial_weights", _entry(fn, state, "initial_weights"), length=k)
        L0 = _entry(fn, state, "initial_losses")
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
        t = positive(fn, "temperature", _entry(fn, state, "temperature"))
        history = _entry(fn, state, "history")
        if not isinstance(history, (list, tuple)) or len(history) > 2:
            fail(fn, f"history must be a list of at most 2 epochs' losses, got {history!r}")
        self.history = [positive_vector(fn, "history", h, length=self.num_tasks)
                        for h in history]
        self.temperature = t

    def __repr__(self) -> str:
        return (f"DynamicWeightAverage(num_tasks={self.num_tasks}, "
                f"temperature={self.temperature!r})")


# -- curriculum learning (Platanios et al. 2019) ------------------------------------------------

def competence(fn: str, step, *, schedule, total_steps, initial) -> float:
    r"""Platanios et al.'s competence c(t) in [c0, 1], reaching 1 at ``total_steps``."""
    t = integer(fn, "step", step)
    if t < 0:
        fail(fn, f"step must be >= 0, got {step!r}")
    T = integer(fn, "total_steps", total_steps)
    if T < 1:
        fail(fn, f"total_steps must be >= 1, got {total_steps!r}")
    c0 = positive(fn, "initial", initial)
    if c0 > 1:
        fail(fn, f"initial must be in (0, 1], got {initial!r}")
    choice(fn, "schedule", schedule, SCHEDULES)
    progress = min(t, T) / T
    if schedule == "linear":
        c = c0 + (1.0 - c0) * progress
    elif schedule == "root":
        c = math.sqrt(c0 * c0 + (1.0 - c0 * c0) * progress)
    else:  # geometric: c0, c0 * q, c0 * q^2, ... with q^T = 1 / c0
        c = c0 ** (1.0 - progress)
    return min(1.0, c)


def difficulty_cdf(fn: str, difficulty, by_rank: bool) -> np.ndarray:
    """The difficulties as values in [0, 1]: as given, or (``by_rank``) their empirical CDF,
    the fraction of samples at most as difficult (ties share a value; the hardest has 1)."""
    if not isinstance(by_rank, (bool, np.bool_)):
        fail(fn, f"by_rank must be a bool, got {by_rank!r}", TypeError)
    d = np.asarray(difficulty)
    if d.dtype == object or d.dtype.kind not in "fiu":
        fail(fn, f"difficulty must be a real array, got dtype {d.dtype}", TypeError)
    d = d.astype(np.float64)
    if not np.isfinite(d).all():
        fail(fn, "difficulty must be finite")
    if by_rank:
        flat = np.sort(d, axis=None)
        return np.searchsorted(flat, d, side="right") / max(flat.size, 1)
    if d.size and not (d.min() >= 0 and d.max() <= 1):
        fail(fn, f"difficulty must be in [0, 1] (or pass by_rank=True), got values in "
                 f"[{d.min()!r}, {d.max()!r}]")
    return d


def curriculum_weights(difficulty, step, *, total_steps, schedule="linear", initial=0.01,
                       by_rank=False):
    r"""The lecture's curriculum weights :math:`w_i(t)` for :math:`L(t) = \sum_i w_i(t)\,\ell_i`.

    Competence-based curriculum (Platanios et al. 2019): a sample is in the curriculum at step t
    when its difficulty :math:`d_i \in [0, 1]` is at most the competence :math:`c(t)`:

    .. math:: w_i(t) = [d_i \le c(t)], \qquad
        c_{linear}(t) = \min\Big(1, c_0 + (1 - c_0)\frac tT\Big), \quad
        c_{root}(t) = \min\Big(1, \sqrt{c_0^2 + (1 - c_0^2)\frac tT}\Big), \quad
        c_{geometric}(t) = \min\big(1, c_0^{\,1 - t/T}\big)

    so :math:`c(0) = c_0`, :math:`c(T) = 1` (every sample is in from step T on), and the harder
    samples' weights rise from 0 to 1 over time, as the lecture asks (it gives no smooth form, so
    the weights are Platanios et al.'s 0/1 selection). The ``root`` pacing adds the
    hard samples early (it spends equal time per sample as the pool grows); ``geometric`` late.

    Args:
      difficulty: array of per-sample difficulties in [0, 1] (Platanios et al. use the CDF of a
        difficulty score), or any finite scores with ``by_rank=True``, which turns them into
        their empirical CDF (the fraction of samples at most as difficult: ties share it, the
        hardest sample has 1).
      step: the training step t (integer >= 0; steps past ``total_steps`` give c = 1).
      total_steps: T, the step at which the competence reaches 1 (integer >= 1).
      schedule: ``"linear"`` (default), ``"root"`` (square root) or ``"geometric"``.
      initial: :math:`c_0`, the competence at step 0, in (0, 1] (default 0.01, the paper's).
      by_rank: rank the difficulties first (see above).

    Returns:
      float64 weights (0 or 1) of ``difficulty``'s shape.

    >>> import fastloss
    >>> fastloss.curriculum_weights([0.1, 0.5, 0.9], 50, total_steps=100, initial=0.1).tolist()
    [1.0, 1.0, 0.0]
    >>> fastloss.curriculum_weights([3.0, 1.0, 2.0], 0, total_steps=10, initial=0.4,
    ...                             by_rank=True).tolist()
    [0.0, 1.0, 0.0]

    Reference: E. A. Platanios, O. Stretcu, G. Neubig, B. Poczos and T. M. Mitchell,
    "Competence-based Curriculum Learning for Neural Machine Translation", NAACL 2019; the
    lecture's "Curriculum Learning".
    """
    fn = "curriculum_weights"
    c = competence(fn, step, schedule=schedule, total_steps=total_steps, initial=initial)
    d = difficulty_cdf(fn, difficulty, by_rank)
    return (d <= c).astype(np.float64)


# -- self-paced learning (Kumar, Packer and Koller 2010; Jiang et al. 2014) ---------------------

def _self_paced_args(fn: str, lam, kind, gamma):
    lam = positive(fn, "lam", lam)
    kind = choice(fn, "kind", kind, SELF_PACED_KINDS)
    return lam, kind, mixture_threshold(fn, kind, lam, gamma)


def _real_array(fn: str, name: str, value) -> np.ndarray:
    a = np.asarray(value)
    if a.dtype == object or a.dtype.kind not in "fiu":
        fail(fn, f"{name} must be a real array, got dtype {a.dtype}", TypeError)
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        fail(fn, f"{name} must be finite")
    return a


def self_paced_weights(losses, lam, *, kind="hard", gamma=None):
    r"""The self-paced sample weights :math:`v^* = \arg\min_{v \in [0,1]^n} \sum_i v_i \ell_i +
    g(v, \lambda)` for the lecture's self-paced objective, in closed form.

    .. math::
        \text{hard:}\quad v_i = [\ell_i < \lambda]
        \qquad
        \text{linear:}\quad v_i = \min(1, \max(0, 1 - \ell_i/\lambda))

    .. math::
        \text{mixture:}\quad v_i = \begin{cases} 1 & \ell_i \le \gamma \\
            \zeta/\ell_i - \zeta/\lambda & \gamma < \ell_i < \lambda \\
            0 & \ell_i \ge \lambda \end{cases}, \qquad \zeta = \frac{\lambda\gamma}{\lambda - \gamma}

    The age :math:`\lambda` grows during training to admit harder (higher-loss) samples. (Hard
    weighting at :math:`\ell_i = \lambda` is a tie: every :math:`v_i` minimises; 0 is returned.) The
    mixture weighting is hard below :math:`\gamma` and above :math:`\lambda` and soft between;
    :math:`\gamma` is the :math:`\lambda'` of Jiang et al. (2014). The regularisers are in
    :func:`self_paced_regularizer`.

    Args:
      losses: array of per-sample losses :math:`\ell_i` (finite; the weights are 1 for
        :math:`\ell_i \le 0`).
      lam: :math:`\lambda > 0`.
      kind: ``"hard"`` (Kumar et al. 2010, default), ``"linear"`` or ``"mixture"`` (Jiang et
        al. 2014).
      gamma: the mixture's lower threshold, :math:`0 < \gamma < \lambda` (mixture only).

    Returns:
      float64 weights in [0, 1] of ``losses``' shape. Treat them as constants when
      differentiating the weighted loss (self-paced learning alternates: v for fixed
      parameters, then the parameters for fixed v).

    >>> import fastloss
    >>> fastloss.self_paced_weights([0.5, 1.5, 3.0], 2.0).tolist()
    [1.0, 1.0, 0.0]
    >>> fastloss.self_paced_weights([0.5, 1.5, 3.0], 2.0, kind="linear").tolist()
    [0.75, 0.25, 0.0]
    >>> fastloss.self_paced_weights([0.5, 1.5, 3.0], 2.0, kind="mixture", gamma=1.0).tolist()
    [1.0, 0.33333333333333326, 0.0]

    References: M. P. Kumar, B. Packer and D. Koller, "Self-Paced Learning for Latent Variable
    Models", NeurIPS 2010; L. Jiang, D. Meng, T. Mitamura and A. G. Hauptmann, "Easy Samples
    First: Self-paced Reranking for Zero-Example Multimedia Search", ACM MM 2014.
    """
    fn = "self_paced_weights"
    lam, kind, gamma = _self_paced_args(fn, lam, kind, gamma)
    loss = _real_array(fn, "losses", losses)
    if kind == "hard":
        return (loss < lam).astype(np.float64)
    if kind == "linear":
        return np.clip(1.0 - loss / lam, 0.0, 1.0)
    zeta = lam * gamma / (lam - gamma)
    soft = np.divide(zeta, loss, out=np.ones_like(loss), where=loss > gamma) - zeta / lam
    return np.where(loss <= gamma, 1.0, np.where(loss >= lam, 0.0, soft))


def self_paced_regularizer(weights, lam, *, kind="hard", gamma=None):
    r"""The self-paced regulariser :math:`g(v, \lambda)` whose minimiser, with
    :math:`\sum_i v_i \ell_i`, is :func:`self_paced_weights`.

    .. math::
        \text{hard:}\quad g = -\lambda \sum_i v_i
        \qquad
        \text{linear:}\quad g = \lambda \sum_i \big(\tfrac12 v_i^2 - v_i\big)
        \qquad
        \text{mixture:}\quad g = -\zeta \sum_i \log\big(v_i + \zeta/\lambda\big)

    with :math:`\zeta = \lambda\gamma/(\lambda - \gamma)`. Each is separable over the samples;
    linear and mixture are strictly convex in :math:`v_i`, so setting the derivative of
    :math:`v_i \ell_i + g_i` to zero and clipping to [0, 1] gives the closed forms.

    Args:
      weights: array of sample weights :math:`v_i \in [0, 1]`.
      lam, kind, gamma: as :func:`self_paced_weights`.

    Returns:
      A 0-d float64 array.

    >>> import fastloss
    >>> float(fastloss.self_paced_regularizer([1.0, 0.5], 2.0, kind="linear"))
    -1.75

    References: as :func:`self_paced_weights`.
    """
    fn = "self_paced_regularizer"
    lam, kind, gamma = _self_paced_args(fn, lam, kind, gamma)
    v = _real_array(fn, "weights", weights)
    if v.size and not (v.min() >= 0 and v.max() <= 1):
        fail(fn, f"weights must be in [0, 1], got values in [{v.min()!r}, {v.max()!r}]")
    if kind == "hard":
        return _scalar(-lam * math.fsum(v.ravel()))
    if kind == "linear":
        return _scalar(lam * math.fsum((0.5 * v * v - v).ravel()))
    zeta = lam * gamma / (lam - gamma)
    return _scalar(-zeta * math.fsum(np.log(v + zeta / lam).ravel()))

