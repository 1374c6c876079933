"""The listwise ranking and structured losses in fastloss.torch: ``listnet``, ``listmle`` and
``structured_hinge`` (fastloss names; PyTorch has none of them), with their modules
``ListNetLoss``, ``ListMLELoss`` and ``StructuredHingeLoss``.

They run through the embedding losses' ``torch.autograd.Function`` (``_metric.py``): the forward
asks the NumPy API's ``value_and_grad`` for the loss and the gradient of the scores in one kernel
pass over NumPy views of the CPU tensors, the backward scales it by the upstream gradient. The
relevance labels, the target, the costs, the mask and the sample weights have no gradient. CPU tensors only for now;
under ``torch.compile`` a call is a graph break, never a wrong gradient.
"""

import torch
from torch import Tensor

from .. import _ranking as numpy_api
from .. import _structured
from ._metric import _call
from ._tensors import as_numpy


def _kwargs(name, axis, mask, reduction, sample_weight, **more):
    kwargs = dict(axis=axis, reduction=reduction)
    for arg, value in (("mask", mask), ("sample_weight", sample_weight), *more.items()):
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
    return _call(numpy_api.listnet, "listnet", (scores, relevance), (0,),
                 _kwargs("listnet", axis, mask, reduction, sample_weight))


def listmle(scores, relevance, axis=-1, mask=None, reduction="mean", sample_weight=None):
    """:func:`fastloss.listmle` on tensors: the Plackett-Luce negative log-likelihood of each
    list's order by relevance (ties in list order), ``mask`` False marking padding.
    Differentiable with respect to ``scores``."""
    _check_relevance("listmle", relevance)
    return _call(numpy_api.listmle, "listmle", (scores, relevance), (0,),
                 _kwargs("listmle", axis, mask, reduction, sample_weight))


def structured_hinge(scores, target, cost=None, rescaling="margin", cost_per_sample=None,
                     axis=-1, reduction="mean", sample_weight=None):
    """:func:`fastloss.structured_hinge` on tensors: the max over the K candidates along
    ``axis`` of Delta(y, y') + f(y') - f(y) (``rescaling="slack"``: Delta (1 + f(y') - f(y))),
    ``cost`` None (0/1), a (K, K) table or each sample's costs. Differentiable with respect to
    ``scores``."""
    name = "structured_hinge"
    if isinstance(target, Tensor) and (target.dtype.is_floating_point or
                                       target.dtype == torch.bool):
        raise TypeError(f"[fastloss.torch.{name}] target must hold integer class indices, got "
                        f"{target.dtype}")
    kwargs = _kwargs(name, axis, None, reduction, sample_weight, cost=cost)
    kwargs.update(rescaling=rescaling, cost_per_sample=cost_per_sample)
    return _call(_structured.structured_hinge, name, (scores, target), (0,), kwargs)


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


class StructuredHingeLoss(torch.nn.Module):
    """Module form of :func:`structured_hinge` (a fixed cost table or none; per-sample costs
    come with each call)."""

    def __init__(self, cost=None, rescaling: str = "margin", axis: int = -1,
                 reduction: str = "mean"):
        super().__init__()
        self.cost, self.rescaling, self.axis, self.reduction = cost, rescaling, axis, reduction

    def forward(self, scores, target, cost=None, sample_weight=None):
        return structured_hinge(scores, target, cost=self.cost if cost is None else cost,
                                rescaling=self.rescaling, axis=self.axis,
                                reduction=self.reduction, sample_weight=sample_weight)


FUNCTIONS = {"listnet": listnet, "listmle": listmle, "structured_hinge": structured_hinge}
MODULES = {"ListNetLoss": ListNetLoss, "ListMLELoss": ListMLELoss,
           "StructuredHingeLoss": StructuredHingeLoss}
FOR_REGISTRY = {"listnet": "listnet", "listmle": "listmle",
                "structured_hinge": "structured_hinge"}
