"""The loss combinations of :mod:`fastloss._combine` on tensors, written with torch operations.

They act on a few task losses or one weight per sample, so autograd differentiates them as
written (on any device, under ``torch.compile`` too); no kernel is involved. The
hyper-parameters are checked by the NumPy API's own checks (with the name
``fastloss.torch.<function>``); the stateful weightings keep the NumPy API's objects, whose
state travels in the module's ``state_dict`` (``get_extra_state``). The adaptive and dynamic
weights, and the self-paced weights, are constants of the step: computed from the detached loss
values, not differentiated through. See the NumPy functions for the formulas and references.
"""

from __future__ import annotations

import torch
from torch import Tensor

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


def _task_losses(fn: str, losses, length: int | None = None) -> Tensor:
    """A 1-D floating tensor of task losses: a 1-D tensor as it is, or a sequence of 0-d tensors
    (or numbers) stacked, which keeps each one's autograd graph."""
    if isinstance(losses, Tensor):
        L = losses
    elif isinstance(losses, (list, tuple)) and losses:
        parts = [x if isinstance(x, Tensor) else torch.as_tensor(x) for x in losses]
        if any(p.numel() != 1 for p in parts):
            fail(fn, "losses must be a 1-D tensor or a sequence of scalars (0-d tensors)")
        dtype = parts[0].dtype
        for p in parts[1:]:
            dtype = torch.promote_types(dtype, p.dtype)
        L = torch.stack([p.reshape(()).to(dtype) for p in parts])
    else:
        fail(fn, f"losses must be a 1-D tensor or a non-empty sequence of scalars, got "
                 f"{type(losses).__name__}", TypeError)
    if L.ndim != 1:
        fail(fn, f"losses must be 1-D (one value per task), got shape {tuple(L.shape)}")
    if L.numel() == 0:
        fail(fn, "losses must not be empty")
    if length is not None and L.numel() != length:
        fail(fn, f"losses must have {length} values (one per task), got {L.numel()}")
    if not L.dtype.is_floating_point:
        L = L.to(torch.get_default_dtype())
    return L


def _values(t: Tensor):
    return t.detach().to("cpu", torch.float64).numpy()


def weighted_sum(losses, weights) -> Tensor:
    """:func:`fastloss.weighted_sum` on tensors: ``sum_i weights[i] * losses[i]``, differentiable
    with respect to the losses (and to ``weights`` when it is a tensor that requires grad; its
    values must still be finite and >= 0)."""
    fn = "torch.weighted_sum"
    L = _task_losses(fn, losses)
    if isinstance(weights, Tensor):
        K.weight_vector(fn, "weights", _values(weights))
        w = weights
    else:
        w = torch.as_tensor(K.weight_vector(fn, "weights", weights))
    K.same_length(fn, ("losses", "weights"), L.numel(), w.numel())
    return (w.to(L.device, L.dtype) * L).sum()


def uncertainty_weighting(losses, log_vars, *, kind="regression") -> Tensor:
    """:func:`fastloss.uncertainty_weighting` on tensors:
    ``sum_i c_i exp(-s_i) L_i + s_i / 2`` (c = 1/2 regression, 1 classification)."""
    fn = "torch.uncertainty_weighting"
    L = _task_losses(fn, losses)
    s = log_vars if isinstance(log_vars, Tensor) else torch.as_tensor(
        K.real_vector(fn, "log_vars", log_vars), dtype=L.dtype)
    if s.ndim != 1:
        fail(fn, f"log_vars must be 1-D, got shape {tuple(s.shape)}")
    K.same_length(fn, ("losses", "log_vars"), L.numel(), s.numel())
    c = torch.as_tensor(K.uncertainty_factors(fn, kind, L.numel()), dtype=L.dtype,
                        device=L.device)
    s = s.to(L.device)
    return (c * torch.exp(-s) * L).sum() + 0.5 * s.sum()


def curriculum_weights(difficulty, step, *, total_steps, schedule="linear", initial=0.01,
                       by_rank=False) -> Tensor:
    """:func:`fastloss.curriculum_weights` on a tensor of difficulties: 0/1 weights of its
    shape (its dtype if floating, else the default dtype) on its device."""
    fn = "torch.curriculum_weights"
    c = P.competence(fn, step, schedule=schedule, total_steps=total_steps, initial=initial)
    d = torch.as_tensor(difficulty).detach()
    P.difficulty_cdf(fn, _values(d), by_rank)  # checks (dtype, range, finite)
    dtype = d.dtype if d.dtype.is_floating_point else torch.get_default_dtype()
    d = d.to(torch.float64)
    if by_rank:
        flat = torch.sort(d.reshape(-1)).values
        d = torch.searchsorted(flat, d.reshape(-1), right=True).reshape(d.shape) / max(
            flat.numel(), 1)
    return (d <= c).to(dtype)


def _self_paced_args(fn, lam, kind, gamma):
    lam = positive(fn, "lam", lam)
    kind = choice(fn, "kind", kind, K.SELF_PACED_KINDS)
    return lam, kind, K.mixture_threshold(fn, kind, lam, gamma)


def self_paced_weights(losses: Tensor, lam, *, kind="hard", gamma=None) -> Tensor:
    """:func:`fastloss.self_paced_weights` on a tensor of per-sample losses; the weights do not
    require grad (they are the minimiser over v for the current losses)."""
    fn = "torch.self_paced_weights"
    lam, kind, gamma = _self_paced_args(fn, lam, kind, gamma)
    losses = torch.as_tensor(losses).detach()
    dtype = losses.dtype if losses.dtype.is_floating_point else torch.get_default_dtype()
    # in float64, as the NumPy API: a float32 comparison would round lam and gamma and move ties
    L = losses.to(torch.float64)
    if kind == "hard":
        v = (L < lam).to(torch.float64)
    elif kind == "linear":
        v = torch.clamp(1.0 - L / lam, 0.0, 1.0)
    else:
        zeta = lam * gamma / (lam - gamma)
        soft = zeta / torch.where(L > gamma, L, torch.ones_like(L)) - zeta / lam
        v = torch.where(L <= gamma, torch.ones_like(L),
                        torch.where(L >= lam, torch.zeros_like(L), soft))
    return v.to(dtype)


def self_paced_regularizer(weights: Tensor, lam, *, kind="hard", gamma=None) -> Tensor:
    """:func:`fastloss.self_paced_regularizer` on a tensor of weights in [0, 1],
    differentiable with respect to them."""
    fn = "torch.self_paced_regularizer"
    lam, kind, gamma = _self_paced_args(fn, lam, kind, gamma)
    v = torch.as_tensor(weights)
    values = _values(v)
    if values.size and not (values.min() >= 0 and values.max() <= 1):
        fail(fn, f"weights must be in [0, 1], got values in [{values.min()!r}, "
                 f"{values.max()!r}]")
    if kind == "hard":
        return -lam * v.sum()
    if kind == "linear":
        return lam * (0.5 * v * v - v).sum()
    zeta = lam * gamma / (lam - gamma)
    return -zeta * torch.log(v + zeta / lam).sum()


class UncertaintyWeighting(torch.nn.Module):
    """Kendall, Gal and Cipolla's weighting with the log-variances ``log_vars`` (s) as a
    learnable ``nn.Parameter`` (``init`` 0, of the default dtype): ``forward(losses)`` returns
    ``sum_i c_i exp(-s_i) L_i + s_i / 2``; an optimiser on the module's parameters drives s_i to
    ``log(2 c_i L_i)`` (``log L_i`` for regression tasks)."""

    def __init__(self, num_tasks, *, kind="regression", init=0.0):
        super().__init__()
        fn = "torch.UncertaintyWeighting"
        k = K.task_count(fn, num_tasks)
        K.uncertainty_factors(fn, kind, k)
        self.kind = kind if isinstance(kind, str) else list(kind)
        self.log_vars = torch.nn.Parameter(torch.full((k,), real_scalar(fn, "init", init)))

    def forward(self, losses) -> Tensor:
        L = _task_losses("torch.UncertaintyWeighting", losses, self.log_vars.numel())
        return uncertainty_weighting(L, self.log_vars, kind=self.kind)

    def extra_repr(self) -> str:
        return f"num_tasks={self.log_vars.numel()}, kind={self.kind!r}"


class _Weighting(torch.nn.Module):
    """A NumPy weighting object whose weights multiply the losses as constants; its state is the
    module's extra state (so ``state_dict``/``load_state_dict`` carry it)."""

    def __init__(self, weighting):
        super().__init__()
        self.weighting = weighting

    def _total(self, L: Tensor, w) -> Tensor:
        return (torch.as_tensor(w, dtype=L.dtype, device=L.device) * L).sum()

    def get_extra_state(self):
        return self.weighting.state_dict()

    def set_extra_state(self, state):
        self.weighting.load_state_dict(state)

    def extra_repr(self) -> str:
        return repr(self.weighting)


class AdaptiveWeighting(_Weighting):
    """:class:`fastloss.AdaptiveWeighting` as a module: ``forward(losses)`` returns
    ``sum_i lambda_i(t) L_i`` with ``lambda_i(t) = lambda_i(0) L_i(0) / L_i(t)`` from the loss
    values (the first call records L(0)); ``weights(losses)``, ``reset()``."""

    def __init__(self, num_tasks, *, initial_weights=None):
        fn = "torch.AdaptiveWeighting"
        k = K.task_count(fn, num_tasks)
        if initial_weights is not None:
            initial_weights = K.weight_vector(fn, "initial_weights", initial_weights, length=k)
        super().__init__(C.AdaptiveWeighting(k, initial_weights=initial_weights))

    def _weights(self, L: Tensor):
        fn = "torch.AdaptiveWeighting"
        k = self.weighting.initial_weights.size
        return self.weighting.weights(K.positive_vector(fn, "losses", _values(L), length=k))

    def weights(self, losses) -> Tensor:
        L = _task_losses("torch.AdaptiveWeighting", losses)
        return torch.as_tensor(self._weights(L), dtype=L.dtype, device=L.device)

    def forward(self, losses) -> Tensor:
        L = _task_losses("torch.AdaptiveWeighting", losses)
        return self._total(L, self._weights(L))

    def reset(self) -> None:
        self.weighting.reset()


class DynamicWeightAverage(_Weighting):
    """:class:`fastloss.DynamicWeightAverage` as a module: ``forward(losses)`` returns
    ``sum_i w_i L_i`` with this epoch's weights; ``update(epoch_losses)`` at each epoch's end
    (a tensor or a sequence of numbers); ``weights``; ``reset()``."""

    def __init__(self, num_tasks, *, temperature=2.0):
        fn = "torch.DynamicWeightAverage"
        super().__init__(C.DynamicWeightAverage(K.task_count(fn, num_tasks),
                                                temperature=positive(fn, "temperature",
                                                                     temperature)))

    @property
    def weights(self) -> Tensor:
        return torch.as_tensor(self.weighting.weights)

    def update(self, epoch_losses) -> Tensor:
        fn = "torch.DynamicWeightAverage"
        values = K.positive_vector(fn, "epoch_losses", _values(_task_losses(fn, epoch_losses)),
                                   length=self.weighting.num_tasks)
        return torch.as_tensor(self.weighting.update(values))

    def forward(self, losses) -> Tensor:
        L = _task_losses("torch.DynamicWeightAverage", losses, self.weighting.num_tasks)
        return self._total(L, self.weighting.weights)

    def reset(self) -> None:
        self.weighting.reset()


COMBINATIONS = {name: globals()[name] for name in __all__}
for _obj in COMBINATIONS.values():
    _obj.__module__ = "fastloss.torch"
