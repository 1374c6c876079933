"""JAX adapter: fastloss's fused kernels as differentiable JAX functions.

``import fastloss.jax as flj`` gives the losses of the NumPy API under the same names and
signatures (class axis ``axis``, default last; ``reduction``; ``sample_weight``), taking and
returning ``jax.Array``::

    import jax, jax.numpy as jnp, fastloss.jax as flj

    def loss_fn(w, x, y):
        return flj.cross_entropy(x @ w, y, label_smoothing=0.1)

    grads = jax.jit(jax.grad(loss_fn))(w, x, y)

Each call is a ``jax.custom_vjp`` whose forward runs the native CPU kernel through
``jax.pure_callback``: under differentiation one kernel pass returns the loss and its gradient,
and the backward multiplies the saved gradient by the cotangent (broadcast over the class axis
for ``reduction="none"`` of the multi-class losses); without differentiation the kernel computes
the loss alone. The functions work under ``jax.jit``, ``jax.grad``/``jax.vjp`` and ``jax.vmap``.

* vmap: a reduced loss must not be reduced across the vmapped batch, so the callback's
  ``vmap_method`` is ``"sequential"`` (one kernel call per batch element), except for
  ``reduction="none"`` without array hyper-parameters or weights, where one call over the whole
  batch (``"broadcast_all"``) gives the same per-element losses.
* dtypes: float32 and float64 (with ``jax_enable_x64``) natively; float16 and bfloat16 are
  computed in float32 (the loss is float32, the gradient comes back in the input's dtype through
  the cast). Float targets are cast to the input's compute dtype; class indices may be any
  integer dtype.
* Differentiation is with respect to the first argument; for the losses of ``pred - target``
  (mse, mae, huber, smooth_l1, quantile, log_cosh) also with respect to ``target``. Asking for
  the gradient with respect to any other array argument (a target of another loss, weights) is a
  ``TypeError``, not a silent zero. Reverse mode only: second derivatives (``jax.grad`` of
  ``jax.grad``, ``jax.hessian``) raise JAX's "Pure callbacks do not support JVP" and forward
  mode (``jax.jvp``, ``jax.jacfwd``) raises "can't apply forward-mode autodiff (jvp) to a
  custom_vjp function" - errors, never a silently wrong derivative.
* Hyper-parameters (``delta``, ``margin``, a scalar ``tau`` or ``alpha``, ...) must be Python
  numbers (static under ``jax.jit``); per-position/per-class arrays (``tau``, ``alpha``,
  ``pos_weight``, ``class_weight``) and ``sample_weight`` may be traced arrays.
* CPU only: the callback runs on the host (arrays on another device are copied to it by JAX).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_derivatives import SymbolicZero

from ._autodiff import value_and_grad
from ._registry import REGISTRY

# One function per registered loss, under its fastloss name (tests/test_registry.py checks that
# every registry entry has one). name -> (NumPy loss, row loss (has a class axis), target is
# differentiable).
__all__ = list(REGISTRY)
_LOSSES = {name: (spec.fn, spec.kind == "row", spec.target_differentiable)
           for name, spec in REGISTRY.items()}

_HALF = (jnp.dtype(jnp.float16), jnp.dtype(jnp.bfloat16))


def _fail(fn: str, message: str, exc: type = ValueError):
    raise exc(f"[fastloss.jax.{fn}] {message}")


def _is_array(value) -> bool:
    """JAX arrays (traced or not) and array-likes of rank >= 1 are operands; numbers are static."""
    return isinstance(value, jax.Array) or (
        isinstance(value, (np.ndarray, list, tuple)) and np.ndim(value) > 0)


@functools.lru_cache(maxsize=256)  # bounded: float hyper-parameters may vary per step
def _build(name: str, reduction: str, axis, static: tuple, array_names: tuple):
    """The custom_vjp function of one static configuration: f(x, target, arrays) -> loss."""
    loss_fn, row, target_grad = _LOSSES[name]
    kwargs = dict(static)
    if row:
        kwargs["axis"] = axis
    # One call over a vmapped batch is only right when nothing is reduced and no operand has a
    # shape tied to the unbatched input (a per-class or per-position array, weights).
    vmap_method = "broadcast_all" if reduction == "none" and not array_names else "sequential"

    def host(with_grad, x, target, *arrays):
        x, target = np.asarray(x), np.asarray(target)
        kw = dict(kwargs, **{k: np.asarray(a) for k, a in zip(array_names, arrays)})
        if with_grad:
            loss, grad = value_and_grad(loss_fn)(x, target, reduction=reduction, **kw)
            return np.asarray(loss, dtype=x.dtype), np.asarray(grad, dtype=x.dtype)
        return np.asarray(loss_fn(x, target, reduction=reduction, **kw), dtype=x.dtype)

    def loss_shape(x):
        if reduction != "none":
            return ()
        if row:
            return tuple(s for d, s in enumerate(x.shape) if d != axis % x.ndim)
        return tuple(x.shape)

    # The callbacks are built once per configuration: JAX caches the compiled call on them.
    callbacks = {True: functools.partial(host, True), False: functools.partial(host, False)}

    def call(with_grad, x, target, arrays):
        loss = jax.ShapeDtypeStruct(loss_shape(x), x.dtype)
        out = (loss, jax.ShapeDtypeStruct(x.shape, x.dtype)) if with_grad else loss
        return jax.pure_callback(callbacks[with_grad], out, x, target, *arrays,
                                 vmap_method=vmap_method)

    @jax.custom_vjp
    def f(x, target, arrays):
        return call(False, x, target, arrays)

    def fwd(x, target, arrays):
        if target.perturbed and not target_grad:
            _fail(name, "cannot differentiate with respect to target (only the first argument "
                        "is differentiated); wrap it in jax.lax.stop_gradient", TypeError)
        for key, a in zip(array_names, arrays):
            if a.perturbed:
                _fail(name, f"cannot differentiate with respect to {key}; wrap it in "
                            "jax.lax.stop_gradient", TypeError)
        loss, grad = call(True, x.value, target.value, tuple(a.value for a in arrays))
        return loss, grad

    def bwd(grad, cotangent):
        if isinstance(cotangent, SymbolicZero):
            return None, None, tuple(None for _ in array_names)
        if row and reduction == "none":
            cotangent = jnp.expand_dims(cotangent, axis)
        grad_x = (grad * cotangent).astype(grad.dtype)
        return grad_x, (-grad_x if target_grad else None), tuple(None for _ in array_names)

    f.defvjp(fwd, bwd, symbolic_zeros=True)
    return f


def _apply(name: str, x, target, reduction: str, arrays: dict, **static):
    _, row, _ = _LOSSES[name]
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        _fail(name, f"the first argument must be a float array, got dtype {x.dtype}", TypeError)
    if x.dtype in _HALF:
        x = x.astype(jnp.float32)
    target = jnp.asarray(target)
    if jnp.issubdtype(target.dtype, jnp.floating) and target.dtype != x.dtype:
        target = target.astype(x.dtype)
    if reduction not in ("mean", "sum", "none"):
        _fail(name, f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    axis = None
    if row:
        axis = static.pop("axis")
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            _fail(name, f"axis must be an integer, got {axis!r}", TypeError)
        if x.ndim == 0 or not -x.ndim <= axis < x.ndim:
            _fail(name, f"axis {axis} is out of range for an array with {x.ndim} dimensions")
        axis = int(axis) - x.ndim if axis >= 0 else int(axis)  # negative: vmap-proof
    arrays = {k: jnp.asarray(v) for k, v in arrays.items() if v is not None}
    for k, v in arrays.items():
        if jnp.issubdtype(v.dtype, jnp.floating) and v.dtype in _HALF:
            arrays[k] = v.astype(jnp.float32)
    f = _build(name, reduction, axis, tuple(sorted(static.items())), tuple(arrays))
    return f(x, target, tuple(arrays.values()))


def _scalar_or_array(value):
    """(static Python number or None, array or None) for a hyper-parameter that may be either."""
    if value is None:
        return None, None
    if _is_array(value):
        return None, value
    return float(value), None


# ---- the losses (docs: the NumPy functions of the same name) ------------------------------------

def mse(pred, target, *, reduction="mean", sample_weight=None):
    """:func:`fastloss.mse` for JAX arrays (differentiable in ``pred`` and ``target``)."""
    return _apply("mse", pred, target, reduction, {"sample_weight": sample_weight})


def mae(pred, target, *, reduction="mean", sample_weight=None):
    """:func:`fastloss.mae` for JAX arrays (differentiable in ``pred`` and ``target``)."""
    return _apply("mae", pred, target, reduction, {"sample_weight": sample_weight})


def huber(pred, target, *, delta=1.0, reduction="mean", sample_weight=None):
    """:func:`fastloss.huber` for JAX arrays (differentiable in ``pred`` and ``target``)."""
    return _apply("huber", pred, target, reduction, {"sample_weight": sample_weight},
                  delta=float(delta))


def smooth_l1(pred, target, *, beta=1.0, reduction="mean", sample_weight=None):
    """:func:`fastloss.smooth_l1` for JAX arrays (differentiable in ``pred`` and ``target``)."""
    return _apply("smooth_l1", pred, target, reduction, {"sample_weight": sample_weight},
                  beta=float(beta))


def quantile(pred, target, *, tau=0.5, reduction="mean", sample_weight=None):
    """:func:`fastloss.quantile` for JAX arrays; ``tau`` a number or one per position of the
    last axis (differentiable in ``pred`` and ``target``)."""
    tau_scalar, tau_array = _scalar_or_array(tau)
    static = {} if tau_scalar is None else {"tau": tau_scalar}
    return _apply("quantile", pred, target, reduction,
                  {"sample_weight": sample_weight, "tau": tau_array}, **static)


def log_cosh(pred, target, *, reduction="mean", sample_weight=None):
    """:func:`fastloss.log_cosh` for JAX arrays (differentiable in ``pred`` and ``target``)."""
    return _apply("log_cosh", pred, target, reduction, {"sample_weight": sample_weight})


def binary_cross_entropy(prob, target, *, reduction="mean", sample_weight=None):
    """:func:`fastloss.binary_cross_entropy` for JAX arrays."""
    return _apply("binary_cross_entropy", prob, target, reduction,
                  {"sample_weight": sample_weight})


def binary_cross_entropy_with_logits(logits, target, *, pos_weight=None, reduction="mean",
                                     sample_weight=None):
    """:func:`fastloss.binary_cross_entropy_with_logits` for JAX arrays."""
    return _apply("binary_cross_entropy_with_logits", logits, target, reduction,
                  {"sample_weight": sample_weight, "pos_weight": pos_weight})


def hinge(pred, target, *, reduction="mean", sample_weight=None):
    """:func:`fastloss.hinge` for JAX arrays."""
    return _apply("hinge", pred, target, reduction, {"sample_weight": sample_weight})


def squared_hinge(pred, target, *, reduction="mean", sample_weight=None):
    """:func:`fastloss.squared_hinge` for JAX arrays."""
    return _apply("squared_hinge", pred, target, reduction, {"sample_weight": sample_weight})


def sigmoid_focal(logits, target, *, alpha=0.25, gamma=2.0, reduction="mean", sample_weight=None):
    """:func:`fastloss.sigmoid_focal` for JAX arrays (``alpha=None`` disables the weighting)."""
    return _apply("sigmoid_focal", logits, target, reduction, {"sample_weight": sample_weight},
                  alpha=None if alpha is None else float(alpha), gamma=float(gamma))


def cross_entropy(logits, target, *, axis=-1, class_weight=None, ignore_index=-100,
                  label_smoothing=0.0, reduction="mean", sample_weight=None):
    """:func:`fastloss.cross_entropy` for JAX arrays (class indices or probabilities)."""
    return _apply("cross_entropy", logits, target, reduction,
                  {"sample_weight": sample_weight, "class_weight": class_weight}, axis=axis,
                  ignore_index=ignore_index, label_smoothing=float(label_smoothing))


def multiclass_hinge(logits, target, *, margin=1.0, kind="weston_watkins", squared=False, axis=-1,
                     class_weight=None, reduction="mean", sample_weight=None):
    """:func:`fastloss.multiclass_hinge` for JAX arrays."""
    return _apply("multiclass_hinge", logits, target, reduction,
                  {"sample_weight": sample_weight, "class_weight": class_weight}, axis=axis,
                  margin=float(margin), kind=kind, squared=squared)


def softmax_focal(logits, target, *, alpha=None, gamma=2.0, axis=-1, ignore_index=-100,
                  reduction="mean", sample_weight=None):
    """:func:`fastloss.softmax_focal` for JAX arrays; ``alpha`` None, a number or one per
    class."""
    alpha_scalar, alpha_array = _scalar_or_array(alpha)
    static = {} if alpha_scalar is None else {"alpha": alpha_scalar}
    return _apply("softmax_focal", logits, target, reduction,
                  {"sample_weight": sample_weight, "alpha": alpha_array}, axis=axis,
                  gamma=float(gamma), ignore_index=ignore_index, **static)
