"""PyTorch adapter: fastloss's fused kernels as autograd-aware ``torch`` functions and modules.

``import fastloss.torch as flt`` gives drop-in replacements for the losses of
``torch.nn.functional`` (same names, argument names, defaults and layouts, the class dimension
at 1) and ``torch.nn`` modules mirroring theirs::

    import torch, fastloss.torch as flt

    logits = torch.randn(64, 1000, requires_grad=True)
    labels = torch.randint(0, 1000, (64,))
    loss = flt.cross_entropy(logits, labels, label_smoothing=0.1)   # one fused kernel pass
    loss.backward()                                                 # reuses its gradient

| function | semantics |
|---|---|
| ``mse_loss``, ``l1_loss``, ``huber_loss``, ``smooth_l1_loss`` | as ``torch.nn.functional`` |
| ``binary_cross_entropy``, ``binary_cross_entropy_with_logits`` | as ``torch.nn.functional`` |
| ``cross_entropy``, ``multi_margin_loss`` | as ``torch.nn.functional`` (class dim 1) |
| ``quantile_loss``, ``log_cosh_loss``, ``hinge_loss``, ``squared_hinge_loss`` | fastloss |
| ``sigmoid_focal_loss`` | ``torchvision.ops.sigmoid_focal_loss``'s signature |
| ``softmax_focal_loss``, ``multiclass_hinge_loss`` | fastloss, class dim 1 |

Where PyTorch has the loss, the values follow PyTorch, including its ``weight`` conventions:
a weighted ``mean`` divides by the sum of the weights for ``mse_loss``/``l1_loss`` and by the
number of elements for ``huber_loss``, ``binary_cross_entropy`` and
``binary_cross_entropy_with_logits``; ``multi_margin_loss`` divides by the number of classes.
The fastloss-named functions take fastloss's ``sample_weight`` (``mean = sum(w*l)/sum(w)``).
The remaining deviations are those of the NumPy API (README, "Deliberate deviations"): finite
limits for infinite logits, weights must be finite and >= 0, and a target whose float dtype
differs from the input's is cast to the input's compute dtype (PyTorch would promote).

How it works. Each loss is a ``torch.library.custom_op`` named ``fastloss::<function>`` whose
forward runs the fused kernel once and returns ``(loss, gradient)``; the gradient is computed
only when autograd will need it (``need_grad``). ``register_autograd`` saves that gradient and
the backward multiplies it by the upstream gradient (a scalar for ``mean``/``sum``, the
per-sample cotangent for ``none``, broadcast over the class dimension for the multi-class
losses). ``register_fake`` gives the output shapes, so the functions trace under
``torch.compile(fullgraph=True)`` without graph breaks. In eager mode the same op body runs
through a plain ``torch.autograd.Function`` with the same backward, which skips the
dispatcher's per-call cost (a 256 x 10 cross-entropy forward+backward: ~165 -> ~125 us).

* Tensors: CPU tensors are read in place, zero-copy (``t.detach().numpy()``, strided views
  included). float32 and float64 are computed natively; float16 and bfloat16 are computed in
  float32 (one converted copy of the input), the loss is returned in float32 and the gradient
  in the input's dtype. Class indices may be of any integer dtype. CUDA tensors go through
  the NumPy API's device path (DLPack views on the current stream, outputs allocated by torch
  on the device) to the native dispatch, which raises ``ValueError`` while fastloss has no CUDA
  kernels; tensors on other devices (or on a device other than ``input``'s) raise
  ``RuntimeError``.
* Gradients: with respect to ``input``; for the losses of ``input - target`` (mse, l1, huber,
  smooth_l1, quantile, log_cosh) also with respect to ``target`` (its negative). Any other
  tensor argument that requires grad is a ``RuntimeError`` rather than a silently missing
  gradient.
* Double backward (``create_graph=True`` through a fastloss loss) raises a ``RuntimeError``:
  the second derivative is not implemented, and treating the saved gradient as a constant would
  silently give a wrong one.
* The gradient is written into fresh memory, never into the caller's input, unless the user
  opts in: the row losses (``cross_entropy``, ``multi_margin_loss``, ``softmax_focal_loss``,
  ``multiclass_hinge_loss``, and ``CrossEntropyLoss``) take ``inplace_backward=True``, which
  overwrites ``input`` (an intermediate float32/float64 result such as the logits of the last
  layer, not a leaf) with its gradient and saves a logits-sized buffer. The row kernels read
  each row before writing its gradient, so this is exact (tested bit for bit against the
  out-of-place path). Under ``torch.compile`` the op computes the gradient out of place
  instead (same values, no graph break).
* Not supported: ``torch.func`` transforms (``torch.func.grad`` raises PyTorch's error about
  ``setup_context``; ``torch.func.vmap`` runs PyTorch's per-sample fallback with a performance
  warning). Each call costs a fixed ~30-60 us of argument handling beyond the kernel, so for
  tiny batches PyTorch's own loss is faster.
"""

# No ``from __future__ import annotations`` here: torch.library.custom_op reads the operator
# schema from the annotations of the op functions.
import contextvars
import functools
from typing import Optional

import numpy as np
import torch
from torch import Tensor

from . import _classification as _cls
from . import _regression as _reg
from ._autodiff import value_and_grad

# The adapter of each registered loss (tests/test_registry.py checks that every registry entry
# has one): registry name -> function name here.
FOR_REGISTRY = {
    "mse": "mse_loss", "mae": "l1_loss", "huber": "huber_loss", "smooth_l1": "smooth_l1_loss",
    "quantile": "quantile_loss", "log_cosh": "log_cosh_loss",
    "binary_cross_entropy": "binary_cross_entropy",
    "binary_cross_entropy_with_logits": "binary_cross_entropy_with_logits",
    "hinge": "hinge_loss", "squared_hinge": "squared_hinge_loss",
    "sigmoid_focal": "sigmoid_focal_loss", "cross_entropy": "cross_entropy",
    "multiclass_hinge": "multiclass_hinge_loss", "softmax_focal": "softmax_focal_loss",
}

__all__ = [
    # torch.nn.functional names
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "huber_loss",
    "l1_loss",
    "mse_loss",
    "multi_margin_loss",
    "smooth_l1_loss",
    # fastloss names
    "hinge_loss",
    "log_cosh_loss",
    "multiclass_hinge_loss",
    "quantile_loss",
    "sigmoid_focal_loss",
    "softmax_focal_loss",
    "squared_hinge_loss",
    # modules
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "HingeLoss",
    "HuberLoss",
    "L1Loss",
    "LogCoshLoss",
    "MSELoss",
    "MultiMarginLoss",
    "MulticlassHingeLoss",
    "QuantileLoss",
    "SigmoidFocalLoss",
    "SmoothL1Loss",
    "SoftmaxFocalLoss",
    "SquaredHingeLoss",
]

_HALF = (torch.float16, torch.bfloat16)
_FLOATS = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
_REDUCTIONS = ("mean", "sum", "none")


def _fail(fn: str, message: str, exc: type = ValueError):
    raise exc(f"[fastloss.torch.{fn}] {message}")


# ---- tensors -> NumPy views ------------------------------------------------------------------

def _as_numpy(t: Tensor) -> np.ndarray:
    """A NumPy array over the tensor's own memory (no copy) for every dtype NumPy has; float16
    and bfloat16 become a float32 copy (the compute dtype). ``t`` must be on the CPU."""
    t = t.detach()
    if t.dtype in _HALF:
        return t.float().numpy()
    if t.dtype == torch.bool:
        return t.to(torch.int8).numpy()
    return t.numpy()


def _as_target(t: Tensor, dtype: np.dtype) -> np.ndarray:
    """Float targets in the compute dtype ``dtype`` (zero-copy when they already are); integer
    targets (class indices, binary labels) as they are."""
    if t.dtype.is_floating_point:
        a = _as_numpy(t)
        return a if a.dtype == dtype else a.astype(dtype)
    return _as_numpy(t)


def _device_operands(input: Tensor, target: Tensor, kwargs: dict):
    """The operands of a call on a CUDA device: the tensors themselves, which the NumPy API
    routes through DLPack to the native dispatch (float targets in the compute dtype)."""
    compute = torch.float32 if input.dtype in _HALF else input.dtype
    y = target.detach()
    if y.dtype.is_floating_point and y.dtype != compute:
        y = y.to(compute)
    detached = {k: v.detach() if isinstance(v, Tensor) else v for k, v in kwargs.items()}
    return input.detach(), y, detached


def _through_device_path(input: Tensor) -> bool:
    return input.device.type != "cpu"


def _check_device(fn: str, name: str, t, input: Tensor) -> None:
    if not isinstance(t, Tensor):
        return
    if t.device.type not in ("cpu", "cuda"):
        _fail(fn, f"{name} is on device '{t.device}': fastloss reads CPU and CUDA tensors only",
              RuntimeError)
    if t.device != input.device:
        _fail(fn, f"{name} is on {t.device} but input is on {input.device}", RuntimeError)


def _class_dim(x: Tensor) -> int:
    return 1 if x.dim() >= 2 else 0


@functools.lru_cache(maxsize=None)
def _value_and_grad(loss):
    return value_and_grad(loss)


# ---- the op bodies: one fused kernel call ------------------------------------------------------

# The tensor the next op body writes its gradient into (inplace_backward), else None. A context
# variable rather than an argument: the bodies are also custom ops, whose schemas have no such
# argument (an op may not write into its input and still have an autograd formula).
_grad_into: contextvars.ContextVar[Optional[Tensor]] = contextvars.ContextVar(
    "fastloss_torch_grad_into", default=None)


def _evaluate(fn: str, loss, input: Tensor, target: Tensor, reduction: str, need_grad: bool,
              *, divisor: int = 1, mean_by_count: bool = False, **kwargs):
    """Runs the fastloss NumPy loss ``loss`` on views of the tensors and returns (loss, grad)
    tensors. ``divisor`` divides loss and gradient (multi_margin_loss's 1/C);
    ``mean_by_count`` makes ``mean`` sum/number-of-losses (PyTorch's weighted mean for huber
    and the binary cross-entropies) instead of fastloss's sum(w*l)/sum(w). The gradient goes
    into ``_grad_into`` when it is set (``input`` itself, for inplace_backward)."""
    grad_into = _grad_into.get()
    on_device = _through_device_path(input)  # (no CUDA kernels yet: the native dispatch says so)
    if on_device:
        x, y, kwargs = _device_operands(input, target, kwargs)
    else:
        x = _as_numpy(input)
        y = _as_target(target, x.dtype)
        kwargs = {k: _as_numpy(v) if isinstance(v, Tensor) else v for k, v in kwargs.items()}
    into = None if grad_into is None else grad_into.detach() if on_device else _as_numpy(grad_into)
    red = reduction
    if mean_by_count and reduction == "mean":
        axis = kwargs.get("axis")
        n = x.size if axis is None or x.shape[axis] == 0 else x.size // x.shape[axis]
        red, divisor = "sum", divisor * n
    scale = 1.0 / divisor if divisor else float("nan")
    if need_grad:
        value, grad = _value_and_grad(loss)(
            x, y, reduction=red, grad_output=None if scale == 1.0 else scale,
            grad_into=into, **kwargs)
        grad_t = grad_into if grad_into is not None else \
            torch.from_numpy(grad) if isinstance(grad, np.ndarray) else grad
        if grad_t.dtype != input.dtype:
            grad_t = grad_t.to(input.dtype)
    else:
        value = loss(x, y, reduction=red, **kwargs)
        grad_t = input.new_empty((0,))
    value_t = value if isinstance(value, Tensor) else torch.from_numpy(np.asarray(value))
    if divisor != 1:
        value_t = value_t / divisor if divisor else torch.full_like(value_t, float("nan"))
    return value_t, grad_t


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


@_op("mse_loss", target_grad=True)
def _mse_loss_op(input: Tensor, target: Tensor, reduction: str, need_grad: bool,
                 weight: Optional[Tensor]) -> tuple[Tensor, Tensor]:
    return _evaluate("mse_loss", _reg.mse, input, target, reduction, need_grad,
                     sample_weight=weight)


@_op("l1_loss", target_grad=True)
def _l1_loss_op(input: Tensor, target: Tensor, reduction: str, need_grad: bool,
                weight: Optional[Tensor]) -> tuple[Tensor, Tensor]:
    return _evaluate("l1_loss", _reg.mae, input, target, reduction, need_grad,
                     sample_weight=weight)


@_op("huber_loss", target_grad=True)
def _huber_loss_op(input: Tensor, target: Tensor, reduction: str, need_grad: bool, delta: float,
                   weight: Optional[Tensor]) -> tuple[Tensor, Tensor]:
    return _evaluate("huber_loss", _reg.huber, input, target, reduction, need_grad, delta=delta,
                     sample_weight=weight, mean_by_count=weight is not None)


@_op("smooth_l1_loss", target_grad=True)
def _smooth_l1_loss_op(input: Tensor, target: Tensor, reduction: str, need_grad: bool,
                       beta: float) -> tuple[Tensor, Tensor]:
    return _evaluate("smooth_l1_loss", _reg.smooth_l1, input, target, reduction, need_grad,
                     beta=beta)


@_op("quantile_loss", target_grad=True)
def _quantile_loss_op(input: Tensor, target: Tensor, reduction: str, need_grad: bool, tau: float,
                      tau_per_last_dim: Optional[Tensor],
                      sample_weight: Optional[Tensor]) -> tuple[Tensor, Tensor]:
    return _evaluate("quantile_loss", _reg.quantile, input, target, reduction, need_grad,
                     tau=tau if tau_per_last_dim is None else tau_per_last_dim,
                     sample_weight=sample_weight)


@_op("log_cosh_loss", target_grad=True)
def _log_cosh_loss_op(input: Tensor, target: Tensor, reduction: str, need_grad: bool,
                      sample_weight: Optional[Tensor]) -> tuple[Tensor, Tensor]:
    return _evaluate("log_cosh_loss", _reg.log_cosh, input, target, reduction, need_grad,
                     sample_weight=sample_weight)


@_op("binary_cross_entropy")
def _binary_cross_entropy_op(input: Tensor, target: Tensor, reduction: str, need_grad: bool,
                             weight: Optional[Tensor]) -> tuple[Tensor, Tensor]:
    return _evaluate("binary_cross_entropy", _cls.binary_cross_entropy, input, target, reduction,
                     need_grad, sample_weight=weight, mean_by_count=weight is not None)


@_op("binary_cross_entropy_with_logits")
def _binary_cross_entropy_with_logits_op(input: Tensor, target: Tensor, reduction: str,
                                         need_grad: bool, weight: Optional[Tensor],
                                         pos_weight: Optional[Tensor]) -> tuple[Tensor, Tensor]:
    return _evaluate("binary_cross_entropy_with_logits", _cls.binary_cross_entropy_with_logits,
                     input, target, reduction, need_grad, sample_weight=weight,
                     pos_weight=pos_weight, mean_by_count=weight is not None)


@_op("hinge_loss")
def _hinge_loss_op(input: Tensor, target: Tensor, reduction: str, need_grad: bool,
                   sample_weight: Optional[Tensor]) -> tuple[Tensor, Tensor]:
    return _evaluate("hinge_loss", _cls.hinge, input, target, reduction, need_grad,
                     sample_weight=sample_weight)


@_op("squared_hinge_loss")
def _squared_hinge_loss_op(input: Tensor, target: Tensor, reduction: str, need_grad: bool,
                           sample_weight: Optional[Tensor]) -> tuple[Tensor, Tensor]:
    return _evaluate("squared_hinge_loss", _cls.squared_hinge, input, target, reduction, need_grad,
                     sample_weight=sample_weight)


@_op("sigmoid_focal_loss")
def _sigmoid_focal_loss_op(input: Tensor, target: Tensor, reduction: str, need_grad: bool,
                           alpha: float, gamma: float,
                           sample_weight: Optional[Tensor]) -> tuple[Tensor, Tensor]:
    return _evaluate("sigmoid_focal_loss", _cls.sigmoid_focal, input, target, reduction, need_grad,
                     alpha=None if alpha < 0 else alpha, gamma=gamma, sample_weight=sample_weight)


@_op("cross_entropy", row=True)
def _cross_entropy_op(input: Tensor, target: Tensor, reduction: str, need_grad: bool,
                      weight: Optional[Tensor], ignore_index: int,
                      label_smoothing: float) -> tuple[Tensor, Tensor]:
    return _evaluate("cross_entropy", _cls.cross_entropy, input, target, reduction, need_grad,
                     axis=_class_dim(input), class_weight=weight, ignore_index=ignore_index,
                     label_smoothing=label_smoothing)


@_op("multi_margin_loss", row=True)
def _multi_margin_loss_op(input: Tensor, target: Tensor, reduction: str, need_grad: bool, p: int,
                          margin: float, weight: Optional[Tensor]) -> tuple[Tensor, Tensor]:
    axis = _class_dim(input)
    return _evaluate("multi_margin_loss", _cls.multiclass_hinge, input, target, reduction,
                     need_grad, axis=axis, margin=margin, squared=p == 2, class_weight=weight,
                     divisor=input.shape[axis])


@_op("softmax_focal_loss", row=True)
def _softmax_focal_loss_op(input: Tensor, target: Tensor, reduction: str, need_grad: bool,
                           alpha: Optional[float], alpha_per_class: Optional[Tensor],
                           gamma: float, ignore_index: int,
                           sample_weight: Optional[Tensor]) -> tuple[Tensor, Tensor]:
    return _evaluate("softmax_focal_loss", _cls.softmax_focal, input, target, reduction, need_grad,
                     axis=_class_dim(input),
                     alpha=alpha if alpha_per_class is None else alpha_per_class, gamma=gamma,
                     ignore_index=ignore_index, sample_weight=sample_weight)


@_op("multiclass_hinge_loss", row=True)
def _multiclass_hinge_loss_op(input: Tensor, target: Tensor, reduction: str, need_grad: bool,
                              margin: float, kind: str, squared: bool, weight: Optional[Tensor],
                              sample_weight: Optional[Tensor]) -> tuple[Tensor, Tensor]:
    return _evaluate("multiclass_hinge_loss", _cls.multiclass_hinge, input, target, reduction,
                     need_grad, axis=_class_dim(input), margin=margin, kind=kind, squared=squared,
                     class_weight=weight, sample_weight=sample_weight)


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


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    r"""Mean squared error, as ``torch.nn.functional.mse_loss``: :math:`(x - y)^2`.

    ``weight`` (broadcastable to ``input``) multiplies each element; a weighted ``mean`` is
    ``sum(w*l)/sum(w)`` as in PyTorch. Differentiable with respect to ``input`` and ``target``.
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _call("mse_loss", _mse_loss_op, input, target, reduction, target_grad=True,
                 weight=_tensor_or_none("mse_loss", "weight", weight, input))


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    r"""Mean absolute error, as ``torch.nn.functional.l1_loss``: :math:`|x - y|` (subgradient 0
    at 0). A weighted ``mean`` is ``sum(w*l)/sum(w)`` as in PyTorch."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _call("l1_loss", _l1_loss_op, input, target, reduction, target_grad=True,
                 weight=_tensor_or_none("l1_loss", "weight", weight, input))


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    r"""Huber loss, as ``torch.nn.functional.huber_loss`` (``delta`` > 0). A weighted ``mean``
    divides by the number of elements, as in PyTorch."""
    return _call("huber_loss", _huber_loss_op, input, target, reduction, float(delta),
                 target_grad=True,
                 weight=_tensor_or_none("huber_loss", "weight", weight, input))


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    r"""Smooth L1 loss, as ``torch.nn.functional.smooth_l1_loss`` (``beta`` >= 0)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _call("smooth_l1_loss", _smooth_l1_loss_op, input, target, reduction, float(beta),
                 target_grad=True)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    r"""Binary cross-entropy on probabilities, as ``torch.nn.functional.binary_cross_entropy``
    (log terms clamped at -100). ``weight`` broadcasts to ``input``; a weighted ``mean`` divides
    by the number of elements, as in PyTorch. Differentiable with respect to ``input`` only."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _call("binary_cross_entropy", _binary_cross_entropy_op, input, target, reduction,
                 weight=_tensor_or_none("binary_cross_entropy", "weight", weight, input))


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    r"""Binary cross-entropy on logits, as
    ``torch.nn.functional.binary_cross_entropy_with_logits``, stable for any logit (infinite
    logits give the finite limits). ``weight`` and ``pos_weight`` (>= 0) broadcast to ``input``;
    a weighted ``mean`` divides by the number of elements, as in PyTorch."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    fn = "binary_cross_entropy_with_logits"
    return _call(fn, _binary_cross_entropy_with_logits_op, input, target, reduction,
                 weight=_tensor_or_none(fn, "weight", weight, input),
                 pos_weight=_tensor_or_none(fn, "pos_weight", pos_weight, input))


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0, *, inplace_backward=False):
    r"""Softmax cross-entropy, as ``torch.nn.functional.cross_entropy``, in one online-softmax
    pass.

    ``input`` is ``(C,)``, ``(N, C)`` or ``(N, C, d1, ...)`` (classes at dimension 1);
    ``target`` holds class indices of the input's shape without the class dimension (any
    integer dtype), or probabilities of the input's shape. ``weight`` (``(C,)``, >= 0),
    ``ignore_index`` and ``label_smoothing`` follow PyTorch, including its ``mean`` (divided by
    the summed weights of the non-ignored targets for class indices, by the number of samples
    for probabilities). Differentiable with respect to ``input`` only.

    ``inplace_backward=True`` (keyword-only, a fastloss extension; also on the other row losses)
    writes the gradient into ``input`` instead of a new tensor, saving one logits-sized buffer
    (for a language model's logits, gigabytes): ``input`` must be an intermediate float32/float64
    result that nothing else reads afterwards, such as the output of the last linear layer. Its
    values are gone after the call (an op that saved it for its own backward raises PyTorch's
    in-place modification error). Under ``torch.compile`` the gradient is computed out of place.
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, int):
        _fail("cross_entropy", f"ignore_index must be an int, got {ignore_index!r}", TypeError)
    return _call("cross_entropy", _cross_entropy_op, input, target, reduction, row=True,
                 inplace_backward=inplace_backward,
                 weight=_tensor_or_none("cross_entropy", "weight", weight, input),
                 ignore_index=ignore_index, label_smoothing=float(label_smoothing))


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None, reduce=None,
                      reduction="mean", *, inplace_backward=False):
    r"""Multi-class margin loss, as ``torch.nn.functional.multi_margin_loss``:
    :math:`\frac{1}{C}\sum_{j\ne y} w_y \max(0, \text{margin} - x_y + x_j)^p` for ``p`` in
    {1, 2}, on ``(C,)`` or ``(N, C)`` input. (:func:`multiclass_hinge_loss` is the same without
    the division by C.)"""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if p not in (1, 2) or isinstance(p, bool):
        _fail("multi_margin_loss", f"only p == 1 and p == 2 are supported, got {p!r}")
    if isinstance(input, Tensor) and input.dim() not in (1, 2):
        _fail("multi_margin_loss", f"input must be 1-D or 2-D, got {input.dim()}-D")
    return _call("multi_margin_loss", _multi_margin_loss_op, input, target, reduction, int(p),
                 float(margin), row=True, inplace_backward=inplace_backward,
                 weight=_tensor_or_none("multi_margin_loss", "weight", weight, input))


def quantile_loss(input, target, tau=0.5, reduction="mean", sample_weight=None):
    r"""Quantile (pinball) loss :math:`\max(\tau u, (\tau - 1)u)`, :math:`u = y - x`, as
    :func:`fastloss.quantile`. ``tau`` is a number in (0, 1) or a 1-D tensor with one quantile
    per position of the last dimension. ``sample_weight``: fastloss semantics
    (``mean = sum(w*l)/sum(w)``). Differentiable with respect to ``input`` and ``target``."""
    per_position = None
    if isinstance(tau, (Tensor, np.ndarray, list, tuple)):
        per_position = _tensor_or_none("quantile_loss", "tau", tau, input)
        tau = 0.5
    return _call("quantile_loss", _quantile_loss_op, input, target, reduction, float(tau),
                 target_grad=True, tau=per_position,
                 sample_weight=_tensor_or_none("quantile_loss", "sample_weight", sample_weight,
                                               input))


def log_cosh_loss(input, target, reduction="mean", sample_weight=None):
    r"""Log-cosh loss :math:`\log\cosh(x - y)`, as :func:`fastloss.log_cosh` (fastloss
    ``sample_weight`` semantics). Differentiable with respect to ``input`` and ``target``."""
    return _call("log_cosh_loss", _log_cosh_loss_op, input, target, reduction, target_grad=True,
                 sample_weight=_tensor_or_none("log_cosh_loss", "sample_weight", sample_weight,
                                               input))


def hinge_loss(input, target, reduction="mean", sample_weight=None):
    r"""Hinge loss :math:`\max(0, 1 - y x)` for labels in {-1, 1} (or {0, 1}), as
    :func:`fastloss.hinge` (fastloss ``sample_weight`` semantics)."""
    return _call("hinge_loss", _hinge_loss_op, input, target, reduction,
                 sample_weight=_tensor_or_none("hinge_loss", "sample_weight", sample_weight,
                                               input))


def squared_hinge_loss(input, target, reduction="mean", sample_weight=None):
    r"""Squared hinge loss :math:`\max(0, 1 - y x)^2`, labels as :func:`hinge_loss`."""
    return _call("squared_hinge_loss", _squared_hinge_loss_op, input, target, reduction,
                 sample_weight=_tensor_or_none("squared_hinge_loss", "sample_weight",
                                               sample_weight, input))


def sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2, reduction="none", *,
                       sample_weight=None):
    r"""Binary focal loss on logits with ``torchvision.ops.sigmoid_focal_loss``'s signature and
    semantics: ``alpha`` in [0, 1] weights the positives (``alpha < 0`` disables the weighting),
    ``gamma >= 0``, default reduction ``"none"``. ``sample_weight`` (keyword-only, fastloss
    semantics) is an extension."""
    return _call("sigmoid_focal_loss", _sigmoid_focal_loss_op, inputs, targets, reduction,
                 float(alpha), float(gamma),
                 sample_weight=_tensor_or_none("sigmoid_focal_loss", "sample_weight",
                                               sample_weight, inputs))


def softmax_focal_loss(input, target, alpha=None, gamma=2.0, ignore_index=-100, reduction="mean",
                       sample_weight=None, *, inplace_backward=False):
    r"""Multi-class focal loss :math:`-\alpha_t (1 - p_t)^\gamma \log p_t`, as
    :func:`fastloss.softmax_focal` with the classes at dimension 1 (``(C,)``, ``(N, C)`` or
    ``(N, C, d1, ...)`` input). ``alpha``: None, a number >= 0, or one weight per class.
    ``mean`` divides by the number of non-ignored samples (or their sample weights)."""
    alpha_scalar, alpha_per_class = alpha, None
    if isinstance(alpha, (Tensor, np.ndarray, list, tuple)):
        alpha_scalar = None
        alpha_per_class = _tensor_or_none("softmax_focal_loss", "alpha", alpha, input)
    elif alpha is not None:
        alpha_scalar = float(alpha)
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, int):
        _fail("softmax_focal_loss", f"ignore_index must be an int, got {ignore_index!r}", TypeError)
    return _call("softmax_focal_loss", _softmax_focal_loss_op, input, target, reduction,
                 alpha_scalar, row=True, inplace_backward=inplace_backward,
                 alpha=alpha_per_class, gamma=float(gamma),
                 ignore_index=ignore_index,
                 sample_weight=_tensor_or_none("softmax_focal_loss", "sample_weight",
                                               sample_weight, input))


def multiclass_hinge_loss(input, target, margin=1.0, kind="weston_watkins", squared=False,
                          weight=None, reduction="mean", sample_weight=None, *,
                          inplace_backward=False):
    r"""Multi-class hinge loss, as :func:`fastloss.multiclass_hinge` with the classes at
    dimension 1: Weston-Watkins :math:`w_y\sum_{j\ne y}\max(0, m + x_j - x_y)^p` (not divided
    by C, unlike :func:`multi_margin_loss`) or Crammer-Singer (the max instead of the sum).
    ``weight``: one factor per class (of the target class), as PyTorch's ``weight``."""
    if kind not in ("weston_watkins", "crammer_singer"):
        _fail("multiclass_hinge_loss",
              f"kind must be 'weston_watkins' or 'crammer_singer', got {kind!r}")
    if not isinstance(squared, bool):
        _fail("multiclass_hinge_loss", f"squared must be a bool, got {squared!r}", TypeError)
    return _call("multiclass_hinge_loss", _multiclass_hinge_loss_op, input, target, reduction,
                 float(margin), kind, squared, row=True, inplace_backward=inplace_backward,
                 weight=_tensor_or_none("multiclass_hinge_loss", "weight", weight, input),
                 sample_weight=_tensor_or_none("multiclass_hinge_loss", "sample_weight",
                                               sample_weight, input))


# ---- nn.Module classes ------------------------------------------------------------------------

class _Loss(torch.nn.Module):
    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__()
        self.reduction = _legacy_reduction(size_average, reduce, reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class _WeightedLoss(_Loss):
    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", None if weight is None else torch.as_tensor(weight))


class MSELoss(_Loss):
    """Module form of :func:`mse_loss` (``torch.nn.MSELoss``)."""

    def forward(self, input, target):
        return mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Module form of :func:`l1_loss` (``torch.nn.L1Loss``)."""

    def forward(self, input, target):
        return l1_loss(input, target, reduction=self.reduction)


class HuberLoss(_Loss):
    """Module form of :func:`huber_loss` (``torch.nn.HuberLoss``)."""

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input, target):
        return huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class SmoothL1Loss(_Loss):
    """Module form of :func:`smooth_l1_loss` (``torch.nn.SmoothL1Loss``)."""

    def __init__(self, size_average=None, reduce=None, reduction="mean", beta=1.0):
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input, target):
        return smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class BCELoss(_WeightedLoss):
    """Module form of :func:`binary_cross_entropy` (``torch.nn.BCELoss``)."""

    def forward(self, input, target):
        return binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Module form of :func:`binary_cross_entropy_with_logits` (``torch.nn.BCEWithLogitsLoss``)."""

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean",
                 pos_weight=None):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", None if weight is None else torch.as_tensor(weight))
        self.register_buffer("pos_weight",
                             None if pos_weight is None else torch.as_tensor(pos_weight))

    def forward(self, input, target):
        return binary_cross_entropy_with_logits(input, target, self.weight,
                                                pos_weight=self.pos_weight,
                                                reduction=self.reduction)


class CrossEntropyLoss(_WeightedLoss):
    """Module form of :func:`cross_entropy` (``torch.nn.CrossEntropyLoss``)."""

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction="mean", label_smoothing=0.0, *, inplace_backward=False):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing
        self.inplace_backward = inplace_backward

    def forward(self, input, target):
        return cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                             reduction=self.reduction, label_smoothing=self.label_smoothing,
                             inplace_backward=self.inplace_backward)


class MultiMarginLoss(_WeightedLoss):
    """Module form of :func:`multi_margin_loss` (``torch.nn.MultiMarginLoss``)."""

    def __init__(self, p=1, margin=1.0, weight=None, size_average=None, reduce=None,
                 reduction="mean"):
        super().__init__(weight, size_average, reduce, reduction)
        if p not in (1, 2):
            _fail("MultiMarginLoss", f"only p == 1 and p == 2 are supported, got {p!r}")
        self.p = p
        self.margin = margin

    def forward(self, input, target):
        return multi_margin_loss(input, target, p=self.p, margin=self.margin, weight=self.weight,
                                 reduction=self.reduction)


class QuantileLoss(_Loss):
    """Module form of :func:`quantile_loss`."""

    def __init__(self, tau=0.5, reduction="mean"):
        super().__init__(reduction=reduction)
        if isinstance(tau, (Tensor, np.ndarray, list, tuple)):
            self.register_buffer("tau", torch.as_tensor(tau))
        else:
            self.tau = tau

    def forward(self, input, target, sample_weight=None):
        return quantile_loss(input, target, tau=self.tau, reduction=self.reduction,
                             sample_weight=sample_weight)


class LogCoshLoss(_Loss):
    """Module form of :func:`log_cosh_loss`."""

    def __init__(self, reduction="mean"):
        super().__init__(reduction=reduction)

    def forward(self, input, target, sample_weight=None):
        return log_cosh_loss(input, target, reduction=self.reduction, sample_weight=sample_weight)


class HingeLoss(_Loss):
    """Module form of :func:`hinge_loss`."""

    def __init__(self, reduction="mean"):
        super().__init__(reduction=reduction)

    def forward(self, input, target, sample_weight=None):
        return hinge_loss(input, target, reduction=self.reduction, sample_weight=sample_weight)


class SquaredHingeLoss(_Loss):
    """Module form of :func:`squared_hinge_loss`."""

    def __init__(self, reduction="mean"):
        super().__init__(reduction=reduction)

    def forward(self, input, target, sample_weight=None):
        return squared_hinge_loss(input, target, reduction=self.reduction,
                                  sample_weight=sample_weight)


class SigmoidFocalLoss(_Loss):
    """Module form of :func:`sigmoid_focal_loss` (default reduction ``"none"``, as
    torchvision's function)."""

    def __init__(self, alpha=0.25, gamma=2.0, reduction="none"):
        super().__init__(reduction=reduction)
        self.alpha = alpha
        self.gamma = gamma

    def forward(self, input, target, sample_weight=None):
        return sigmoid_focal_loss(input, target, alpha=self.alpha, gamma=self.gamma,
                                  reduction=self.reduction, sample_weight=sample_weight)


class SoftmaxFocalLoss(_Loss):
    """Module form of :func:`softmax_focal_loss`."""

    def __init__(self, alpha=None, gamma=2.0, ignore_index=-100, reduction="mean"):
        super().__init__(reduction=reduction)
        if isinstance(alpha, (Tensor, np.ndarray, list, tuple)):
            self.register_buffer("alpha", torch.as_tensor(alpha))
        else:
            self.alpha = alpha
        self.gamma = gamma
        self.ignore_index = ignore_index

    def forward(self, input, target, sample_weight=None):
        return softmax_focal_loss(input, target, alpha=self.alpha, gamma=self.gamma,
                                  ignore_index=self.ignore_index, reduction=self.reduction,
                                  sample_weight=sample_weight)


class MulticlassHingeLoss(_WeightedLoss):
    """Module form of :func:`multiclass_hinge_loss`."""

    def __init__(self, margin=1.0, kind="weston_watkins", squared=False, weight=None,
                 reduction="mean"):
        super().__init__(weight, reduction=reduction)
        self.margin = margin
        self.kind = kind
        self.squared = squared

    def forward(self, input, target, sample_weight=None):
        return multiclass_hinge_loss(input, target, margin=self.margin, kind=self.kind,
                                     squared=self.squared, weight=self.weight,
                                     reduction=self.reduction, sample_weight=sample_weight)
