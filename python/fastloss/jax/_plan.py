"""Trace-time validation of a fastloss.jax call, with the NumPy API's own checks.

Everything that is known while JAX traces - shapes, dtypes, hyper-parameters, the reduction, the
class axis - is checked here, by calling the helpers of ``fastloss._validate`` and
``fastloss._dispatch`` (on zero-stride NumPy stand-ins of the abstract arrays where a helper wants
an array), so a bad call is a ``ValueError``/``TypeError`` naming ``fastloss.jax.<loss>`` and the
argument when the function is called or traced, never an error of the compiled program. The result
is a hashable :class:`Plan`: the kernel and its static attributes, which the XLA custom call
(``_ffi``) carries as attributes. What only the data can tell (a label out of range, a negative
weight under ``jit``) is checked by the handler at run time.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from .. import _dispatch
from .._validate import fail, integer, reduction_code, weights

_HALF = (jnp.dtype(jnp.float16), jnp.dtype(jnp.bfloat16))


AUX0_WEIGHT, AUX0_OPEN_UNIT, AUX0_ANY = 0, 1, 2  # the handler's aux0_check codes


@dataclass(frozen=True)
class Plan:
    """One validated call: what the kernel needs besides the arrays (all static)."""

    name: str                   # the loss's stem (messages say fastloss.jax.<name>)
    kernel: str                 # the kernel table's name (cross_entropy_sparse, ...)
    reduction: int              # fastloss._validate.REDUCTIONS code
    params: tuple = ()          # the kernel's hyper-parameters, in its header's order
    axis: int | None = None     # row losses: the class axis, negative (vmap adds leading axes)
    ignore_index: int | None = None
    aux_names: tuple = ("", "")  # names of the aux operands given (for run-time messages)
    # How the handler checks an aux 0 operand's values: AUX0_WEIGHT (finite, >= 0),
    # AUX0_OPEN_UNIT (tau: in (0, 1)) or AUX0_ANY (margin_ranking's preference: any real).
    aux0_check: int = 0
    aux0_value: float = 0.0     # pointwise per-element operand given as one number
    domain: str = ""            # message for a pointwise input outside the loss's domain

    @property
    def kernel_id(self) -> int:
        return _dispatch.KERNELS[self.kernel]["id"]

    @property
    def row(self) -> bool:
        return self.axis is not None

    @property
    def pair(self) -> bool:
        """The target is a second logits array with a gradient of its own (the divergences)."""
        return _dispatch.KERNELS[self.kernel]["target"] == "logits"

    @property
    def target_differentiable(self) -> bool:
        """d/d target = -d/dx from the same pass (the losses of x - target)."""
        return _dispatch.KERNELS[self.kernel]["target"] == "difference"

    @property
    def functor_target_gradient(self) -> bool:
        """The kernel writes d/dtarget itself (the likelihoods)."""
        return _dispatch.KERNELS[self.kernel]["target"] == "differentiable"

    @property
    def functor_operand_gradient(self) -> bool:
        """The kernel writes d/d aux0 (gaussian_nll's var), at x's shape."""
        return _dispatch.KERNELS[self.kernel]["aux"] == "differentiable"

    def loss_shape(self, shape: tuple) -> tuple:
        if self.reduction != 0:
            return ()
        if self.row:
            return tuple(s for d, s in enumerate(shape) if d != self.axis % len(shape))
        return tuple(shape)


def qualified(name: str) -> str:
    return f"jax.{name}"


def standin(a) -> np.ndarray:
    """A zero-stride NumPy array of `a`'s shape and dtype (no memory): what the NumPy API's
    shape and dtype checks need from an abstract (traced) array."""
    return np.broadcast_to(np.zeros((), a.dtype), a.shape)


def is_traced(a) -> bool:
    return isinstance(a, jax.core.Tracer)


def hyper_parameter(fn: str, name: str, value):
    """A static hyper-parameter as the NumPy checks take it: Python numbers as they are, concrete
    0-d arrays as their value; a traced value cannot be a static attribute."""
    if is_traced(value):
        fail(fn, f"{name} must be a static Python number (it is an attribute of the compiled "
                 f"kernel), got a traced value; pass it as a constant or mark it static",
             TypeError)
    if isinstance(value, jax.Array):
        return np.asarray(value)
    return value


def float_input(fn: str, name: str, x):
    """x as a float32/float64 JAX array (float16/bfloat16 computed in float32)."""
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        fail(fn, f"{name} must be a float array (float16, bfloat16, float32 or float64), got "
                 f"dtype {x.dtype}", TypeError)
    if x.dtype in _HALF:
        x = x.astype(jnp.float32)
    _dispatch.float_input(fn, name, standin(x))  # what the kernel gets passes the NumPy check
    return x


def float_target(fn: str, x_name: str, x, target, name: str = "target"):
    """A float target of x's shape, cast to x's dtype."""
    y = jnp.asarray(target)
    if not jnp.issubdtype(y.dtype, jnp.floating):
        fail(fn, f"{name} must be a float array, got dtype {y.dtype}", TypeError)
    _dispatch._same_shape(fn, x_name, standin(x), name, standin(y))
    return y.astype(x.dtype)


def label_target(fn: str, x_name: str, x, target):
    """Labels of x's shape, of any real dtype (hinge): integers as they are, floats in x's dtype."""
    y = jnp.asarray(target)
    if y.dtype == jnp.bool_ or not (jnp.issubdtype(y.dtype, jnp.integer)
                                    or jnp.issubdtype(y.dtype, jnp.floating)):
        fail(fn, f"target must be a real array, got dtype {y.dtype}", TypeError)
    _dispatch._same_shape(fn, x_name, standin(x), "target", standin(y))
    return y.astype(x.dtype) if jnp.issubdtype(y.dtype, jnp.floating) else y


def weight_array(fn: str, name: str, value, *, shape: tuple | None = None,
                 length: int | None = None):
    """A weight operand: real dtype (half precision in float32), broadcastable to `shape` or of
    `length`, checked with the NumPy API's rules; its values too when they are concrete (under
    jit the handler checks them at run time)."""
    try:
        w = jnp.asarray(value)
    except TypeError:
        fail(fn, f"{name} must be a real array, got {value!r}", TypeError)
    if w.dtype in _HALF:
        w = w.astype(jnp.float32)
    weights(fn, name, standin(w) if is_traced(value) else np.asarray(value), length=length)
    if shape is not None:
        _dispatch._broadcast(fn, name, standin(w), shape)
    return w


def real_operand(fn: str, name: str, value, *, shape: tuple):
    """A per-element operand of any real values (margin_ranking's preference): real dtype,
    broadcastable to `shape`; its values are not checked."""
    try:
        a = jnp.asarray(value)
    except TypeError:
        fail(fn, f"{name} must be a real array, got {value!r}", TypeError)
    if a.dtype == jnp.bool_ or not (jnp.issubdtype(a.dtype, jnp.floating)
                                    or jnp.issubdtype(a.dtype, jnp.integer)):
        fail(fn, f"{name} must be a real array, got dtype {a.dtype}", TypeError)
    _dispatch._broadcast(fn, name, standin(a), shape)
    return a


def class_axis(fn: str, x, axis) -> int:
    """The class axis, checked as the NumPy API does, as a negative index."""
    return _dispatch.class_axis(fn, standin(x), axis) - x.ndim


def sparse_or_dense_target(fn: str, x, target, axis: int, dense_ok: bool):
    """(target, dense): class indices of x's shape without the class axis, or (dense_ok) float
    probabilities of x's shape in x's dtype."""
    y = jnp.asarray(target)
    outer = tuple(s for d, s in enumerate(x.shape) if d != axis % x.ndim)
    if jnp.issubdtype(y.dtype, jnp.integer):
        if y.shape != outer:
            fail(fn, f"class-index target must have the logits' shape without axis "
                     f"{axis % x.ndim}, {outer}, got {y.shape}")
        return y, False
    if dense_ok and jnp.issubdtype(y.dtype, jnp.floating):
        return float_target(fn, "logits", x, y), True
    wanted = ("integer class indices or float probabilities" if dense_ok
              else "integer class indices")
    fail(fn, f"target must hold {wanted}, got dtype {y.dtype}", TypeError)


def per_class_target(fn: str, x, target, kind: str):
    """A target of x's shape: float targets in x's dtype (``dense``) or integer class-index
    lists (``index_list``), as the NumPy API takes them."""
    y = jnp.asarray(target)
    if kind == "index_list":
        if not jnp.issubdtype(y.dtype, jnp.integer):
            fail(fn, f"target must hold integer class indices (each row's listed classes, then "
                     f"-1), got dtype {y.dtype}", TypeError)
        _dispatch._same_shape(fn, "logits", standin(x), "target", standin(y))
        return y
    return float_target(fn, "logits", x, y)


def ignore_index_value(fn: str, value) -> int:
    ignore = integer(fn, "ignore_index", hyper_parameter(fn, "ignore_index", value))
    if not -2**63 <= ignore < 2**63:
        fail(fn, f"ignore_index must be a 64-bit integer, got {ignore}")
    return ignore


def reduction(fn: str, value) -> int:
    return reduction_code(fn, value)


def number(fn: str, name: str, value, check):
    """A static hyper-parameter through the NumPy API's check `check`."""
    return check(fn, name, hyper_parameter(fn, name, value))
