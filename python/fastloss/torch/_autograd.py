"""The autograd side of every loss: the kernel's forward already computed the gradient, so
backward multiplies that saved gradient by the upstream one.

Two carriers share that backward: the custom op's ``register_fake``/``register_autograd``
formulas (what ``torch.compile`` and ``torch.func`` see), and plain ``torch.autograd.Function``
classes for eager calls, which skip the dispatcher's per-call cost.
"""

import torch
from torch import Tensor

from ._kernel import grad_into
from ._tensors import HALF, class_dim


# ---- custom-op formulas: fake = output shapes, autograd = saved gradient x upstream -----------
#
# Every op takes (input, target, reduction, need_grad, <loss-specific arguments>) and returns
# (loss, grad); grad is empty when need_grad is False.

def fake(row: bool, classes_last: bool = False, both_gradients: bool = False):
    def fake(input, target, reduction, need_grad, *rest):
        if reduction != "none":
            shape = ()
        elif row:
            dim = class_dim(input, classes_last)
            shape = tuple(s for d, s in enumerate(input.shape) if d != dim)
        else:
            shape = tuple(input.shape)
        dtype = torch.float32 if input.dtype in HALF else input.dtype
        loss = input.new_empty(shape, dtype=dtype)
        stacked = (2,) if both_gradients else ()
        grad = input.new_empty(stacked + tuple(input.shape) if need_grad else (0,))
        return loss, grad
    return fake


def setup_context(row: bool, target_grad, classes_last: bool = False):
    def setup_context(ctx, inputs, output):
        input, target, reduction, need_grad = inputs[:4]
        ctx.save_for_backward(output[1])
        ctx.mark_non_differentiable(output[1])
        ctx.set_materialize_grads(False)
        ctx.reduction = reduction
        ctx.need_grad = need_grad
        ctx.class_dim = class_dim(input, classes_last) if row else None
        ctx.target_grad = target_grad
        ctx.target_dtype = target.dtype
        ctx.n_inputs = len(inputs)
    return setup_context


def backward(ctx, grad_loss, _grad_of_grad):
    nones = [None] * ctx.n_inputs
    if grad_loss is None:
        return tuple(nones)
    _no_double_backward()
    (grad,) = ctx.saved_tensors
    if not ctx.need_grad:
        raise RuntimeError("[fastloss.torch] backward through a fastloss op called with "
                           "need_grad=False; call the fastloss.torch functions, not the raw op")
    grad_input = _scaled(grad, grad_loss, ctx.reduction, ctx.class_dim)
    nones[0], nones[1] = _input_and_target_grads(ctx, grad_input)
    return tuple(nones)


# ---- eager carriers ---------------------------------------------------------------------------
# (named with an underscore: a loss's grad_fn shows the name, _EagerLossBackward, as it always has)

class _EagerLoss(torch.autograd.Function):
    """A fastloss op outside torch.compile: the same body and backward as the custom op, without
    the dispatcher's per-call cost (~60 us of a 10-class cross-entropy call's ~160 us). Under
    torch.compile the custom op runs instead, so the graph has no break."""

    @staticmethod
    def forward(ctx, input, target, body, reduction, class_dim, target_grad, args):
        loss, grad = body(input, target, reduction, True, *args)
        ctx.save_for_backward(grad)
        ctx.reduction, ctx.class_dim = reduction, class_dim
        ctx.target_grad, ctx.target_dtype = target_grad, target.dtype
        return loss

    @staticmethod
    def backward(ctx, grad_loss):
        _no_double_backward()
        (grad,) = ctx.saved_tensors
        if ctx.reduction != "none" and _is_eager_one(grad_loss):
            grad_input = grad  # (see _scaled)
        else:
            grad_input = _scaled(grad, grad_loss, ctx.reduction, ctx.class_dim)
        return (*_input_and_target_grads(ctx, grad_input), None, None, None, None, None)


def eager_loss(input, target, body, reduction, class_dim, target_grad, args):
    """_EagerLoss.apply without the Python wrapper's per-call work (binding default arguments,
    unwrapping dead functorch wrappers: a few microseconds of a 32-element call), which only
    matters under torch.func transforms; there, the wrapper runs."""
    if torch._C._are_functorch_transforms_active():
        return _EagerLoss.apply(input, target, body, reduction, class_dim, target_grad, args)
    return _apply_eager_loss(input, target, body, reduction, class_dim, target_grad, args)


# The C entry autograd.Function.apply ends in (torch._C._FunctionBase.apply), bound to the class.
_apply_eager_loss = super(torch.autograd.Function, _EagerLoss).apply


class _InPlaceRowLoss(torch.autograd.Function):
    """``inplace_backward=True``: the row kernel overwrites ``input`` with the gradient of the
    loss (each row is read before its gradient is written), so no gradient buffer is allocated,
    and backward scales it in place. ``input``'s version counter is bumped, so an earlier op that
    saved ``input`` for its own backward fails loudly instead of computing with the gradient."""

    @staticmethod
    def forward(ctx, input, target, body, reduction, class_dim, args):
        token = grad_into.set(input)
        try:
            loss, _ = body(input, target, reduction, True, *args)
        finally:
            grad_into.reset(token)
        torch.autograd.graph.increment_version(input)
        ctx.save_for_backward(input)
        ctx.reduction, ctx.class_dim = reduction, class_dim
        return loss

    @staticmethod
    def backward(ctx, grad_loss):
        _no_double_backward()
        (grad,) = ctx.saved_tensors
        return _scaled(grad, grad_loss, ctx.reduction, ctx.class_dim, in_place=True), \
            None, None, None, None, None


# ---- what both carriers share -------------------------------------------------------------------

def _is_one(grad_loss: Tensor) -> bool:
    """A concrete scalar upstream gradient equal to 1 (never true while tracing: reading a
    traced or fake tensor's value is not possible, and the multiply is then fused anyway)."""
    return (grad_loss.dim() == 0 and type(grad_loss) is Tensor
            and not torch.compiler.is_compiling()
            and not torch._C._functorch.is_functorch_wrapped_tensor(grad_loss)
            and grad_loss.item() == 1.0)


def _is_eager_one(grad_loss: Tensor) -> bool:
    """_is_one for the eager carrier's backward, which never runs under torch.compile (compiled
    autograd traces it with fake tensors, which are not of type Tensor) nor, unless a torch.func
    transform is active, with functorch-wrapped tensors: a third of _is_one's checks' cost."""
    return (grad_loss.dim() == 0 and type(grad_loss) is Tensor
            and not torch._C._are_functorch_transforms_active() and grad_loss.item() == 1.0)


def _no_double_backward():
    if torch.is_grad_enabled():
        raise RuntimeError(
            "[fastloss.torch] double backward is not supported: the fused kernel computes the "
            "first derivative only. Do not pass create_graph=True through a fastloss loss (or "
            "use the torch.nn.functional loss where second derivatives are needed).")


def _scaled(grad: Tensor, grad_loss: Tensor, reduction: str, class_dim, *, in_place=False):
    """grad_loss * grad, grad_loss broadcast over the class dimension for ``none``."""
    if _is_one(grad_loss):
        # loss.backward() on a reduced loss: the saved gradient is the answer; skipping the
        # multiply saves a full read and write of it (autograd copies it if it is still shared).
        return grad
    if reduction == "none" and class_dim is not None:
        grad_loss = grad_loss.unsqueeze(class_dim)
    if in_place:
        return grad.mul_(grad_loss.to(grad.dtype))
    return (grad_loss * grad).to(grad.dtype)


def _input_and_target_grads(ctx, grad_input: Tensor):
    """(d input, d target) as autograd wants them: the second only for the losses of
    input - target, whose target gradient is the input gradient's negative, and for a target of
    logits (target_grad "logits"), whose gradient is stacked after the input's."""
    grad_target = None
    if ctx.target_grad == "logits":
        grad_target = grad_input[1].to(ctx.target_dtype) if ctx.needs_input_grad[1] else None
        return (grad_input[0] if ctx.needs_input_grad[0] else None), grad_target
    if ctx.target_grad and ctx.needs_input_grad[1]:
        grad_target = (-grad_input).to(ctx.target_dtype)
    return (grad_input if ctx.needs_input_grad[0] else None), grad_target
