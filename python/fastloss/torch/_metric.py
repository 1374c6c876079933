"""The embedding losses in fastloss.torch: ``triplet_margin_loss`` and ``cosine_embedding_loss``
(PyTorch's signatures and semantics) and fastloss's ``contrastive``, ``info_nce`` and ``center``
(with ``center_update``), with their modules ``TripletMarginLoss``, ``CosineEmbeddingLoss``,
``ContrastiveLoss``, ``InfoNCELoss`` and ``CenterLoss``.

Their kernels take two or three embedding tensors, each differentiable, which the custom-op
table (``_losses.py``: an input, a target and one gradient output) does not describe yet. So a
call runs as one ``torch.autograd.Function`` over NumPy views of the CPU tensors (zero-copy for
float32/float64): its forward asks the NumPy API's ``value_and_grad`` for the loss and the
gradients of every tensor that requires grad in the same kernel pass, and its backward
multiplies them by the upstream gradient (per row for ``reduction='none'``). A first step:
CPU tensors only (others are a ``RuntimeError``), and under ``torch.compile`` the call is a
graph break (no custom op yet), never a wrong gradient.
"""

import numpy as np
import torch
from torch import Tensor

from .. import _center, _in_batch
from .. import _metric as numpy_api
from .._autodiff import value_and_grad
from ._call import legacy_reduction
from ._tensors import as_numpy


def _operand(name: str, t, like: Tensor):
    if not isinstance(t, Tensor):
        raise TypeError(f"[fastloss.torch.{name}] expected tensors, got {type(t).__name__}")
    if t.device.type != "cpu" or t.is_sparse:
        raise RuntimeError(f"[fastloss.torch.{name}] CPU dense tensors only for now (no CUDA "
                           f"embedding kernel yet), got {t.device} {t.layout}")
    a = as_numpy(t)
    x = as_numpy(like) if t is not like else a
    return a.astype(x.dtype) if t.dtype.is_floating_point and a.dtype != x.dtype else a


_NAMES = {"triplet_margin_loss": ("anchor", "positive", "negative"),
          "cosine_embedding_loss": ("input1", "input2"), "contrastive": ("x1", "x2"),
          "info_nce": ("query", "key"), "listnet": ("scores",), "listmle": ("scores",),
          "structured_hinge": ("scores",), "center": ("features", "labels", "centers")}


def _check_embeddings(name: str, tensors: tuple, differentiable: tuple):
    """The differentiable tensors must be float tensors (a bool or integer one is refused, not
    read as numbers)."""
    for position, (arg, t) in enumerate(zip(_NAMES[name], tensors)):
        if position in differentiable and isinstance(t, Tensor) and \
                not t.dtype.is_floating_point:
            raise TypeError(f"[fastloss.torch.{name}] {arg} must hold numbers of a float dtype, "
                            f"got {t.dtype}")


_LEADING = 5  # _Embedding.apply's arguments before the tensors


class _Embedding(torch.autograd.Function):
    @staticmethod
    def forward(ctx, fn, name, kwargs, differentiable, rowwise, *tensors):
        arrays = [_operand(name, t, tensors[0]) for t in tensors]
        needs = ctx.needs_input_grad[_LEADING:]
        positions = tuple(i for i in differentiable if needs[i])
        ctx.positions, ctx.dtypes = positions, [t.dtype for t in tensors]
        ctx.reduction, ctx.n = kwargs["reduction"], len(tensors)
        # the axis the loss reduces over (the listwise losses' item axis; embeddings: the last)
        ctx.axis = kwargs.get("axis", -1)
        # Per-row upstream gradients that do not scale rows of the gradients (a class centre's
        # sums over rows): the kernel runs again in the backward with them.
        ctx.deferred = bool(positions) and kwargs["reduction"] == "none" and not rowwise
        if ctx.deferred:
            ctx.fn, ctx.name, ctx.kwargs = fn, name, kwargs
            ctx.save_for_backward(*tensors)
            value = fn(*arrays, **kwargs)
        elif positions:
            value, grads = value_and_grad(fn, argnums=positions)(*arrays, **kwargs)
            ctx.grads = [torch.from_numpy(np.asarray(g)) for g in grads]
        else:
            value = fn(*arrays, **kwargs)
        return torch.from_numpy(np.asarray(value))

    @staticmethod
    def backward(ctx, grad_loss):
        if torch.is_grad_enabled():
            raise RuntimeError("[fastloss.torch] double backward is not supported: the fused "
                               "kernel computes the first derivative only")
        result = [None] * (_LEADING + ctx.n)
        if grad_loss is None or not ctx.positions:
            return tuple(result)
        if ctx.deferred:
            tensors = ctx.saved_tensors
            arrays = [_operand(ctx.name, t, tensors[0]) for t in tensors]
            _, grads = value_and_grad(ctx.fn, argnums=ctx.positions)(
                *arrays, grad_output=as_numpy(grad_loss.contiguous()), **ctx.kwargs)
            for position, g in zip(ctx.positions, grads):
                result[_LEADING + position] = torch.from_numpy(np.asarray(g)).to(
                    ctx.dtypes[position])
            return tuple(result)
        up = grad_loss if ctx.reduction != "none" else grad_loss.unsqueeze(ctx.axis)
        for position, g in zip(ctx.positions, ctx.grads):
            result[_LEADING + position] = (g * up.to(g.dtype)).to(ctx.dtypes[position])
        return tuple(result)


def _call(fn, name: str, tensors: tuple, differentiable: tuple, kwargs: dict, *,
          rowwise: bool = True) -> Tensor:
    """fn(*tensors, **kwargs) under autograd, differentiable in the tensors at the positions
    `differentiable` (the others are labels or targets). `rowwise`: row i of every gradient
    comes from loss i alone, so the kernel's gradients, scaled per row in the backward, serve
    reduction="none"; else that reduction's backward runs the kernel with the upstream."""
    _check_embeddings(name, tensors, differentiable)
    for position, t in enumerate(tensors):
        if position not in differentiable and isinstance(t, Tensor) and t.requires_grad:
            raise RuntimeError(f"[fastloss.torch.{name}] labels have no gradient")
    return _Embedding.apply(fn, name, kwargs, differentiable, rowwise, *tensors)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-06, swap=False,
                        size_average=None, reduce=None, reduction="mean"):
    """``torch.nn.functional.triplet_margin_loss``: :math:`\\max(0, m + d(a, p) - d(a, n))`
    per row of the last dimension, :math:`d(x, y) = \\lVert x - y + \\epsilon \\rVert_p`
    (PyTorch's eps on every coordinate difference), ``swap`` the distance swap, as
    :func:`fastloss.triplet` (one fused pass for the loss and every gradient requested).
    As PyTorch, ``margin`` must be > 0; unlike it, the three tensors must have one shape
    (no broadcasting), ``p`` is finite and >= 1, and the gradient at the hinge's kink is 0."""
    name = "triplet_margin_loss"
    if not margin > 0:
        raise ValueError(f"[fastloss.torch.{name}] margin must be greater than 0, got {margin}")
    reduction = legacy_reduction(size_average, reduce, reduction)
    kwargs = dict(margin=float(margin), p=float(p), eps=float(eps), swap=bool(swap),
                  reduction=reduction)
    return _call(numpy_api.triplet, name, (anchor, positive, negative), (0, 1, 2),
                 kwargs)


def cosine_embedding_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None,
                          reduction="mean"):
    """``torch.nn.functional.cosine_embedding_loss``: :math:`1 - \\cos` for a similar pair
    (target 1), :math:`\\max(0, \\cos - m)` for a dissimilar one (-1), per row of the last
    dimension, as :func:`fastloss.cosine_embedding` (one fused pass for the loss and both
    gradients). Unlike PyTorch, a target other than 1 or -1 is an error (PyTorch gives the row
    0), the inputs must have one shape (no broadcasting), and the gradient at the hinge's kink
    is 0."""
    name = "cosine_embedding_loss"
    reduction = legacy_reduction(size_average, reduce, reduction)
    kwargs = dict(margin=float(margin), reduction=reduction)
    return _call(numpy_api.cosine_embedding, name, (input1, input2, target), (0, 1),
                 kwargs)


def contrastive(x1, x2, similar, margin=1.0, reduction="mean", sample_weight=None):
    """:func:`fastloss.contrastive` on tensors: :math:`\\tfrac12[y d^2 + (1 - y)\\max(0,
    m - d)^2]` per row of the last dimension, ``similar`` 1 for a similar pair and 0 for a
    dissimilar one (any real dtype); differentiable with respect to ``x1`` and ``x2``."""
    kwargs = dict(margin=margin, reduction=reduction)
    if sample_weight is not None:
        kwargs["sample_weight"] = as_numpy(sample_weight) if isinstance(sample_weight, Tensor) \
            else sample_weight
    return _call(numpy_api.contrastive, "contrastive", (x1, x2, similar), (0, 1), kwargs)


def info_nce(query, key, temperature=0.07, symmetric=False, reduction="mean",
             sample_weight=None):
    """:func:`fastloss.info_nce` on (N, D) tensors: in-batch InfoNCE, row i's positive key i and
    the other keys its negatives (``symmetric=True``: CLIP's mean of both directions); the
    logits, the softmax and both gradients in one fused pass, never an N x N matrix.
    Differentiable with respect to ``query`` and ``key``."""
    kwargs = dict(temperature=temperature, symmetric=symmetric, reduction=reduction)
    if sample_weight is not None:
        kwargs["sample_weight"] = as_numpy(sample_weight) if isinstance(sample_weight, Tensor) \
            else sample_weight
    # (rowwise=False: a key's gradient sums over every query's loss)
    return _call(_in_batch.info_nce, "info_nce", (query, key), (0, 1), kwargs, rowwise=False)


def center(features, labels, centers, reduction="mean", sample_weight=None):
    """:func:`fastloss.center` on tensors: :math:`\\tfrac12\\lVert x_i - c_{y_i}\\rVert^2` per
    row of the (N, D) ``features``, ``labels`` (N,) integer class indices, ``centers`` (C, D).
    Differentiable with respect to ``features`` and ``centers`` (each class centre's gradient
    summed in row order: deterministic)."""
    if isinstance(labels, Tensor) and (labels.dtype.is_floating_point or
                                       labels.dtype == torch.bool):
        raise TypeError(f"[fastloss.torch.center] labels must hold integer class indices, got "
                        f"{labels.dtype}")
    kwargs = dict(reduction=reduction)
    if sample_weight is not None:
        kwargs["sample_weight"] = as_numpy(sample_weight) if isinstance(sample_weight, Tensor) \
            else sample_weight
    return _call(_center.center, "center", (features, labels, centers), (0, 2), kwargs,
                 rowwise=False)


def center_update(features, labels, centers, alpha=0.5):
    """:func:`fastloss.center_update` on tensors: new centres after Wen et al.'s rule
    :math:`c_j - \\alpha \\sum_{y_i = j} (c_j - x_i) / (1 + n_j)`, outside autograd (the result
    does not require grad; ``centers`` is not modified)."""
    tensors = (features, labels, centers)
    for arg, t in zip(_NAMES["center"], tensors):
        _operand("center_update", t, t)  # CPU dense tensors only
    with torch.no_grad():
        arrays = [as_numpy(t.detach()) for t in tensors]
        return torch.from_numpy(np.asarray(_center.center_update(*arrays, alpha=alpha)))


class CenterLoss(torch.nn.Module):
    """The center loss with its class centres as a parameter ``centers`` of shape
    (num_classes, feat_dim), initialised from a standard normal (as pytorch-center-loss).
    Train the centres by their gradient (give them to an optimiser), or by Wen et al.'s rule:
    call :meth:`update_centers` after each step and leave them out of the optimiser."""

    def __init__(self, num_classes: int, feat_dim: int, reduction: str = "mean", *,
                 device=None, dtype=None):
        super().__init__()
        self.reduction = reduction
        self.centers = torch.nn.Parameter(torch.randn(num_classes, feat_dim, device=device,
                                                      dtype=dtype))

    def forward(self, features, labels, sample_weight=None):
        return center(features, labels, self.centers, reduction=self.reduction,
                      sample_weight=sample_weight)

    @torch.no_grad()
    def update_centers(self, features, labels, alpha: float = 0.5):
        """Wen et al.'s update of ``centers`` in place, from one batch."""
        self.centers.copy_(center_update(features, labels, self.centers, alpha=alpha))


class TripletMarginLoss(torch.nn.Module):
    """Module form of :func:`triplet_margin_loss` (``torch.nn.TripletMarginLoss``'s
    constructor)."""

    def __init__(self, margin: float = 1.0, p: float = 2.0, eps: float = 1e-06,
                 swap: bool = False, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__()
        self.margin, self.p, self.eps, self.swap = margin, p, eps, swap
        self.reduction = legacy_reduction(size_average, reduce, reduction)

    def forward(self, anchor, positive, negative):
        return triplet_margin_loss(anchor, positive, negative, margin=self.margin, p=self.p,
                                   eps=self.eps, swap=self.swap, reduction=self.reduction)


class CosineEmbeddingLoss(torch.nn.Module):
    """Module form of :func:`cosine_embedding_loss` (``torch.nn.CosineEmbeddingLoss``'s
    constructor)."""

    def __init__(self, margin: float = 0.0, size_average=None, reduce=None,
                 reduction: str = "mean"):
        super().__init__()
        self.margin = margin
        self.reduction = legacy_reduction(size_average, reduce, reduction)

    def forward(self, input1, input2, target):
        return cosine_embedding_loss(input1, input2, target, margin=self.margin,
                                     reduction=self.reduction)


class ContrastiveLoss(torch.nn.Module):
    """Module form of :func:`contrastive`."""

    def __init__(self, margin: float = 1.0, reduction: str = "mean"):
        super().__init__()
        self.margin, self.reduction = margin, reduction

    def forward(self, x1, x2, similar, sample_weight=None):
        return contrastive(x1, x2, similar, margin=self.margin, reduction=self.reduction,
                           sample_weight=sample_weight)


class InfoNCELoss(torch.nn.Module):
    """Module form of :func:`info_nce`."""

    def __init__(self, temperature: float = 0.07, symmetric: bool = False,
                 reduction: str = "mean"):
        super().__init__()
        self.temperature, self.symmetric, self.reduction = temperature, symmetric, reduction

    def forward(self, query, key, sample_weight=None):
        return info_nce(query, key, temperature=self.temperature, symmetric=self.symmetric,
                        reduction=self.reduction, sample_weight=sample_weight)


FUNCTIONS = {"triplet_margin_loss": triplet_margin_loss,
             "cosine_embedding_loss": cosine_embedding_loss, "contrastive": contrastive,
             "info_nce": info_nce, "center": center, "center_update": center_update}
MODULES = {"TripletMarginLoss": TripletMarginLoss, "CosineEmbeddingLoss": CosineEmbeddingLoss,
           "ContrastiveLoss": ContrastiveLoss, "InfoNCELoss": InfoNCELoss,
           "CenterLoss": CenterLoss}
# registry name -> function name here
FOR_REGISTRY = {"triplet": "triplet_margin_loss", "cosine_embedding": "cosine_embedding_loss",
                "contrastive": "contrastive", "info_nce": "info_nce", "center": "center"}
