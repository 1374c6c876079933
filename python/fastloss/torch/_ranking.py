"""The listwise ranking losses in fastloss.torch: ``listnet`` and ``listmle`` (fastloss names; PyTorch
has neither), with their modules ``ListNetLoss`` and ``ListMLELoss``.

They run through the embedding losses' ``torch.autograd.Function`` (``_metric.py``): the forward
asks the NumPy API's ``value_and_grad`` for the loss and the gradient of the scores in one kernel
pass over NumPy views of the CPU tensors, the backward scales it by the upstream gradient. The
relevance labels, the mask and the sample weights have no gradient. CPU tensors only for now;
under ``torch.compile`` a call is a graph break, never a wrong gradient.
"""

import torch
from torch import Tensor

from .. import _ranking as numpy_api
from ._metric import _call
from ._tensors import as_numpy


def _kwargs(name, axis, mask, reduction, sample_weight):
    kwargs = dict(axis=axis, reduction=reduction)
    for arg, value in (("mask", mask), ("sample_weight", sample_weight)):
        if isinstance(value, Tensor):
            if value.requires_grad:
                raise RuntimeError(f"[fastloss.torch.{name}] {arg} has no gradient")
            # (a bool tensor as a NumPy bool array: as_numpy reads booleans as bytes)
            value = value.numpy() if value.dtype == torch.bool else as_numpy(value)
        if value is not None:
            kwargs[arg] = value
    return kwargs


def _check_relevance(name, relevance):
    """Relevance labels must be a float tensor (a bool one is refused, not read as 0/1)."""
    if isinstance(relevance, Tensor) and not relevance.dtype.is_floating_point:
        raise TypeError(f"[fastloss.torch.{name}] relevance must hold numbers of a float dtype, "
                        f"got {relevance.dtype}")


def listnet(scores, relevance, axis=-1, mask=None, reduction="mean", sample_weight=None):
    """:func:`fastloss.listnet` on tensors: the cross-entropy between softmax(relevance) and
    softmax(scores) per list (the items along ``axis``), ``mask`` False marking padding.
    Differentiable with respect to ``scores``."""
    _check_relevance("listnet", relevance)
    return _call(numpy_api.listnet, "listnet", (scores, relevance), 1,
                 _kwargs("listnet", axis, mask, reduction, sample_weight))


def listmle(scores, relevance, axis=-1, mask=None, reduction="mean", sample_weight=None):
    """:func:`fastloss.listmle` on tensors: the Plackett-Luce negative log-likelihood of each
    list's order by relevance (ties in list order), ``mask`` False marking padding.
    Differentiable with respect to ``scores``."""
    _check_relevance("listmle", relevance)
    return _call(numpy_api.listmle, "listmle", (scores, relevance), 1,
                 _kwargs("listmle", axis, mask, reduction, sample_weight))


class ListNetLoss(torch.nn.Module):
    """Module form of :func:`listnet`."""

    def __init__(self, axis: int = -1, reduction: str = "mean"):
        super().__init__()
        self.axis, self.reduction = axis, reduction

    def forward(self, scores, relevance, mask=None, sample_weight=None):
        return listnet(scores, relevance, axis=self.axis, mask=mask, reduction=self.reduction,
                       sample_weight=sample_weight)


class ListMLELoss(torch.nn.Module):
    """Module form of :func:`listmle`."""

    def __init__(self, axis: int = -1, reduction: str = "mean"):
        super().__init__()
        self.axis, self.reduction = axis, reduction

    def forward(self, scores, relevance, mask=None, sample_weight=None):
        return listmle(scores, relevance, axis=self.axis, mask=mask, reduction=self.reduction,
                       sample_weight=sample_weight)


FUNCTIONS = {"listnet": listnet, "listmle": listmle}
MODULES = {"ListNetLoss": ListNetLoss, "ListMLELoss": ListMLELoss}
FOR_REGISTRY = {"listnet": "listnet", "listmle": "listmle"}
