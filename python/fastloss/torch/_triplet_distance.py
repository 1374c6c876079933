"""``triplet_margin_with_distance_loss`` in fastloss.torch, with its module
``TripletMarginWithDistanceLoss``: the triplet hinge max(0, margin + d(a, p) - d(a, n)) for a
distance the caller chooses.

PyTorch's default distance (``torch.pairwise_distance``: the L2 norm of a - b + 1e-6) is the
fused triplet kernel's, so without a distance function (or with that one) the call is
:func:`triplet_margin_loss`: one pass for the loss and the three gradients. A distance function
of the caller's own is evaluated by torch, which differentiates it; the hinge and the reduction
on its distances are then fastloss's ``margin_ranking_loss`` kernel (x1 = d(a, n), x2 = d(a, p),
preference 1), so only the distances stay in torch.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ._functional import FUNCTIONS as _FUNCTIONS
from ._metric import triplet_margin_loss

_NAME = "triplet_margin_with_distance_loss"
# PyTorch's default distance and its eps (torch.nn.functional.pairwise_distance's default).
_PAIRWISE_EPS = 1e-6


def _is_pairwise_distance(fn) -> bool:
    return fn is None or fn is torch.pairwise_distance or fn is torch.nn.functional.pairwise_distance


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None,
                                      margin=1.0, swap=False, reduction="mean"):
    """``torch.nn.functional.triplet_margin_with_distance_loss``: :math:`\\max(0, m + d(a, p) -
    d(a, n))` per triplet, with :math:`d(a, n)` replaced by :math:`\\min(d(a, n), d(p, n))` when
    ``swap`` (Balntas et al. 2016, "Learning local feature descriptors with triplets and
    shallow convolutional neural networks"). ``distance_function`` None (or
    ``torch.pairwise_distance``) is the fused kernel of :func:`triplet_margin_loss` with
    ``p=2, eps=1e-6``; any other callable of two tensors is evaluated by torch and its distances
    go through the ``margin_ranking_loss`` kernel. As PyTorch, ``margin`` must be > 0 and the
    three tensors must have one number of dimensions; unlike it, the gradient at the hinge's
    kink is 0, and the fused path takes three tensors of one shape (no broadcasting).

    >>> import torch, fastloss.torch as flt
    >>> a, p, n = torch.zeros(1, 2), torch.tensor([[3.0, 4.0]]), torch.tensor([[0.0, 1.0]])
    >>> l1 = lambda x, y: (x - y).abs().sum(-1)
    >>> float(flt.triplet_margin_with_distance_loss(a, p, n, distance_function=l1))
    7.0
    """
    if not margin > 0:
        raise ValueError(f"[fastloss.torch.{_NAME}] margin must be greater than 0, got {margin}")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"[fastloss.torch.{_NAME}] reduction must be 'mean', 'sum' or 'none', "
                         f"got {reduction!r}")
    tensors = (anchor, positive, negative)
    if not all(isinstance(t, Tensor) for t in tensors):
        raise TypeError(f"[fastloss.torch.{_NAME}] anchor, positive and negative must be "
                        f"tensors, got {', '.join(type(t).__name__ for t in tensors)}")
    dims = [t.ndim for t in tensors]
    if len(set(dims)) != 1:
        raise ValueError(f"[fastloss.torch.{_NAME}] anchor, positive and negative must have one "
                         f"number of dimensions, got {dims[0]}, {dims[1]} and {dims[2]}")
    if _is_pairwise_distance(distance_function):
        return triplet_margin_loss(anchor, positive, negative, margin=margin, p=2,
                                   eps=_PAIRWISE_EPS, swap=swap, reduction=reduction)
    if not callable(distance_function):
        raise TypeError(f"[fastloss.torch.{_NAME}] distance_function must be None or a callable "
                        f"of two tensors, got {type(distance_function).__name__}")
    d_pos = distance_function(anchor, positive)
    d_neg = distance_function(anchor, negative)
    if swap:
        d_neg = torch.minimum(d_neg, distance_function(positive, negative))
    if not (isinstance(d_pos, Tensor) and isinstance(d_neg, Tensor) and d_pos.shape == d_neg.shape):
        raise ValueError(f"[fastloss.torch.{_NAME}] distance_function must return tensors of one "
                         f"shape for every pair")
    # max(0, -1 * (d_neg - d_pos) + margin): margin_ranking_loss with the preference 1.
    return _FUNCTIONS["margin_ranking_loss"](d_neg, d_pos, torch.ones_like(d_pos),
                                             margin=float(margin), reduction=reduction)


class TripletMarginWithDistanceLoss(torch.nn.Module):
    """Module form of :func:`triplet_margin_with_distance_loss`
    (``torch.nn.TripletMarginWithDistanceLoss``'s constructor)."""

    def __init__(self, *, distance_function=None, margin: float = 1.0, swap: bool = False,
                 reduction: str = "mean"):
        super().__init__()
        self.distance_function = distance_function
        self.margin, self.swap, self.reduction = margin, swap, reduction

    def forward(self, anchor, positive, negative):
        return triplet_margin_with_distance_loss(
            anchor, positive, negative, distance_function=self.distance_function,
            margin=self.margin, swap=self.swap, reduction=self.reduction)


FUNCTIONS = {_NAME: triplet_margin_with_distance_loss}
MODULES = {"TripletMarginWithDistanceLoss": TripletMarginWithDistanceLoss}
