"""The autograd machinery of fastloss.torch: each loss is a ``torch.library.custom_op`` (for
torch.compile) with a fake implementation and an autograd formula that reuses the gradient of
the fused forward, and an eager path (``_call``) that runs the same body through a plain
``autograd.Function`` without the dispatcher's per-call cost; and the argument helpers of the
public functions."""

import numpy as np
import torch
from torch import Tensor

from ._tensors import _FLOATS, _HALF, _REDUCTIONS, _check_device, _class_dim, _fail, _grad_into


# ---- custom ops: forward = kernel, fake = shapes, autograd = saved gradient x upstream --------
#
# Every op takes (input, target, reduction, need_grad, <loss-specific arguments>) and returns
# (loss, grad); grad is empty when need_grad is False.

def _fake(row: bool):
    def fake(input, target, reduction, need_grad, *rest):
        if reduction != "none":
            shape = ()
        elif row:
            shape = tuple(s for d, s in enumerate(input.shape) if d != _class_dim(input))
        else:
            shape = tuple(input.shape)
        dtype = torch.float32 if input.dtype in _HALF else input.dtype
        loss = input.new_empty(shape, dtype=dtype)
        grad = input.new_empty(tuple(input.shape) if need_grad else (0,))
        return loss, grad
    return fake


def _setup_context(row: bool, target_grad: bool):
    def setup_context(ctx, inputs, output):
        input, target, reduction, need_grad = inputs[:4]
        ctx.save_for_backward(output[1])
        ctx.mark_non_differentiable(output[1])
        ctx.set_materialize_grads(False)
        ctx.reduction = reduction
        ctx.need_grad = need_grad
        ctx.class_dim = _class_dim(input) if row else None
        ctx.target_grad = target_grad
        ctx.target_dtype = target.dtype
        ctx.n_inputs = len(inputs)
    return setup_context


def _is_one(grad_loss: Tensor) -> bool:
    """A concrete scalar upstream gradient equal to 1 (never true while tracing: reading a
    traced or fake tensor's value is not possible, and the multiply is then fused anyway)."""
    return (grad_loss.dim() == 0 and type(grad_loss) is Tensor
            and not torch.compiler.is_compiling()
            and not torch._C._functorch.is_functorch_wrapped_tensor(grad_loss)
            and grad_loss.item() == 1.0)


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
    input - target, whose target gradient is the input gradient's negative."""
    grad_target = None
    if ctx.target_grad and ctx.needs_input_grad[1]:
        grad_target = (-grad_input).to(ctx.target_dtype)
    return (grad_input if ctx.needs_input_grad[0] else None), grad_target


def _backward(ctx, grad_loss, _grad_of_grad):
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


_LIB = "fastloss::"

# op -> its Python body, which the eager path calls directly (see _call).
_BODIES = {}


def _op(name: str, *, row: bool = False, target_grad: bool = False):
    """Registers the decorated body as the custom op ``fastloss::<name>`` with its fake
    implementation and autograd formula, and remembers the body."""
    def decorate(body):
        op = torch.library.custom_op(_LIB + name, mutates_args=())(body)
        op.register_fake(_fake(row))
        op.register_autograd(_backward, setup_context=_setup_context(row, target_grad))
        _BODIES[op] = body
        return op
    return decorate


# ---- the public functions: argument checks (traceable by torch.compile), then one op call ------

def _legacy_reduction(size_average, reduce, reduction: str) -> str:
    if size_average is not None or reduce is not None:
        return torch.nn._reduction.legacy_get_string(size_average, reduce)
    return reduction


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
        grad_input = _scaled(grad, grad_loss, ctx.reduction, ctx.class_dim)
        return (*_input_and_target_grads(ctx, grad_input), None, None, None, None, None)


class _InPlaceRowLoss(torch.autograd.Function):
    """``inplace_backward=True``: the row kernel overwrites ``input`` with the gradient of the
    loss (each row is read before its gradient is written), so no gradient buffer is allocated,
    and backward scales it in place. ``input``'s version counter is bumped, so an earlier op that
    saved ``input`` for its own backward fails loudly instead of computing with the gradient."""

    @staticmethod
    def forward(ctx, input, target, body, reduction, class_dim, args):
        token = _grad_into.set(input)
        try:
            loss, _ = body(input, target, reduction, True, *args)
        finally:
            _grad_into.reset(token)
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


def _check_in_place(fn: str, input: Tensor):
    if input.dtype not in (torch.float32, torch.float64):
        _fail(fn, f"inplace_backward=True needs a float32 or float64 input (got {input.dtype}: "
                  f"half precision is computed in a float32 copy)")
    if input.is_leaf:
        _fail(fn, "inplace_backward=True overwrites input with its gradient, which is only "
                  "meaningful for an intermediate result (e.g. the logits of a linear layer); "
                  "input is a leaf tensor")


def _eager(input: Tensor) -> bool:
    """Whether to run an op's body through _EagerLoss: a plain tensor outside torch.compile
    and torch.func (which need the registered custom op)."""
    return (type(input) is Tensor and not torch.compiler.is_compiling()
            and not torch._C._functorch.is_functorch_wrapped_tensor(input))


def _call(fn: str, op, input, target, reduction, *args, target_grad: bool = False,
          row: bool = False, inplace_backward: bool = False, **aux):
    """Validates what the op's fake implementation relies on, decides whether autograd will
    need the gradient, and runs the op. ``aux`` are the op's trailing arguments by name (tensor
    ones are checked for device and requires_grad); ``args`` precede them. With
    ``inplace_backward`` (row losses) a call that needs the gradient writes it into ``input``
    (in eager mode; under torch.compile the op computes it out of place)."""
    if not isinstance(inplace_backward, bool):
        _fail(fn, f"inplace_backward must be a bool, got {inplace_backward!r}", TypeError)
    if not isinstance(input, Tensor):
        _fail(fn, f"input must be a torch.Tensor, got {type(input).__name__}", TypeError)
    if not isinstance(target, Tensor):
        _fail(fn, f"target must be a torch.Tensor, got {type(target).__name__}", TypeError)
    if input.dtype not in _FLOATS:
        _fail(fn, f"input must be float16, bfloat16, float32 or float64, got {input.dtype}",
              TypeError)
    if reduction not in _REDUCTIONS:
        _fail(fn, f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    if row and input.dim() == 0:
        _fail(fn, "input must have a class dimension (dim >= 1), got a 0-d tensor")
    _check_device(fn, "input", input, input)
    _check_device(fn, "target", target, input)
    grad_mode = torch.is_grad_enabled()
    for name, value in aux.items():
        if isinstance(value, Tensor):
            _check_device(fn, name, value, input)
            if grad_mode and value.requires_grad:
                _fail(fn, f"{name} requires grad, but fastloss differentiates input only; pass "
                          f"{name}.detach()", RuntimeError)
    if grad_mode and target.requires_grad and not target_grad:
        _fail(fn, "target requires grad, but this loss is differentiated with respect to input "
                  "only; pass target.detach()", RuntimeError)
    need_grad = grad_mode and (input.requires_grad or (target_grad and target.requires_grad))
    if inplace_backward and need_grad:
        _check_in_place(fn, input)
    op_args = (*args, *aux.values())
    if not _eager(input):
        return op(input, target, reduction, need_grad, *op_args)[0]
    body = _BODIES[op]
    if not need_grad:
        return body(input, target, reduction, False, *op_args)[0]
    class_dim = _class_dim(input) if row else None
    if inplace_backward:
        return _InPlaceRowLoss.apply(input, target, body, reduction, class_dim, op_args)
    return _EagerLoss.apply(input, target, body, reduction, class_dim, target_grad, op_args)


def _tensor_or_none(fn: str, name: str, value, like: Tensor):
    """Optional tensor arguments may be given as tensors, arrays or sequences."""
    if value is None or isinstance(value, Tensor):
        return value
    return torch.as_tensor(np.asarray(value))
