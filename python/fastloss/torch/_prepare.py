"""The losses whose torch arguments do not map one to one onto their op's arguments: each
function takes ``input`` and the function's parameters by name and returns the op's arguments,
in the op's order (the generic float/tensor conversions and checks follow)."""

import torch
from torch import Tensor

from ._errors import fail
from ._tensors import is_tensor_like, optional_tensor


def quantile_arguments(input, tau, sample_weight):
    """``tau``, a number or one quantile per position of the last dimension, is two op
    arguments: a schema types each argument once."""
    if is_tensor_like(tau):
        return 0.5, optional_tensor(tau), sample_weight
    return tau, None, sample_weight


def margin_ranking_arguments(input, target, margin):
    """PyTorch's third tensor, ``target`` (the preference), is the op's ``preference``: the op's
    own ``target`` is the second score tensor, ``input2``. Like PyTorch's, it holds numbers."""
    target = optional_tensor(target)
    if isinstance(target, Tensor) and target.dtype == torch.bool:
        fail("margin_ranking_loss", "target must hold numbers (the preferences 1 or -1), got a "
                                    "bool tensor", TypeError)
    return target, margin


def softmax_focal_arguments(input, alpha, gamma, ignore_index, sample_weight):
    """``alpha``, None, a number or one weight per class, is two op arguments (as quantile's
    ``tau``)."""
    if is_tensor_like(alpha):
        return None, optional_tensor(alpha), gamma, ignore_index, sample_weight
    # (a number is converted, and a string refused, as every float argument: _call.run)
    return alpha, None, gamma, ignore_index, sample_weight


def multi_margin_arguments(input, p, margin, weight):
    """The kernel has the exponents 1 and 2 (PyTorch's p) and the 1-D/2-D layouts PyTorch
    accepts."""
    if p not in (1, 2) or isinstance(p, bool):
        fail("multi_margin_loss", f"only p == 1 and p == 2 are supported, got {p!r}")
    if isinstance(input, Tensor) and input.dim() not in (1, 2):
        fail("multi_margin_loss", f"input must be 1-D or 2-D, got {input.dim()}-D")
    return int(p), margin, weight


def _vector_or_matrix(fn: str, input):
    """PyTorch's multi-label losses take (C,) or (N, C) input, with C > 0."""
    if isinstance(input, Tensor) and (input.dim() not in (1, 2) or input.shape[-1] == 0):
        fail(fn, f"input must be a non-empty vector (C,) or matrix (N, C), got shape "
                 f"{tuple(input.shape)}")


def multilabel_soft_margin_arguments(input, weight):
    """The classes are the last dimension of any input, as PyTorch's (which sums over it); at
    least one class (PyTorch's 0 / 0 would be nan)."""
    if isinstance(input, Tensor) and input.dim() >= 1 and input.shape[-1] == 0:
        fail("multilabel_soft_margin_loss", f"input must have at least one class (its last "
                                            f"dimension), got shape {tuple(input.shape)}")
    return (weight,)


def multilabel_margin_arguments(input):
    """The layouts PyTorch's multilabel_margin_loss accepts: (C,) or (N, C)."""
    _vector_or_matrix("multilabel_margin_loss", input)
    return ()
