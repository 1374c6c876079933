"""JAX-style gradients of fastloss losses, computed in the same kernel pass as the loss."""

from __future__ import annotations

import functools

from . import _small_call
from ._dispatch import GradRequest, _request
from ._validate import fail, real_scalar


def _check(fn, argnums, who: str):
    """The loss's name and argnums as a tuple of distinct argument positions."""
    from ._registry import REGISTRY  # complete once the family modules are imported

    name = getattr(fn, "__name__", repr(fn))
    if not any(spec.fn is fn for spec in REGISTRY.values()) and not _is_combination(fn):
        fail(who, f"expects a fastloss loss function, got {name}", TypeError)
    positions = argnums if isinstance(argnums, tuple) else (argnums,)
    if not positions or not all(isinstance(a, int) and not isinstance(a, bool) for a in positions):
        fail(who, f"argnums must be an int or a non-empty tuple of ints, got {argnums!r}", TypeError)
    if len(set(positions)) != len(positions):
        fail(who, f"argnums must not repeat a position, got {argnums!r}")
    # Whether each position is a differentiable array argument of this loss is known where the
    # kernel is chosen (_dispatch), which raises naming the loss and the argument.
    return name, positions


def value_and_grad(fn, argnums=0):
    """Return a function computing ``(loss, gradient)`` of a fastloss loss in one kernel pass.

    ``argnums`` (an int or a tuple of ints, as in JAX) selects the array arguments to
    differentiate: ``0`` the predictions/logits (default), ``1`` the target where the loss is a
    function of ``pred - target`` (the regression losses), ``(0, 1)`` both, from the same kernel
    pass. With a tuple the gradient is a tuple in the order of ``argnums``.

    The returned function takes the loss's own arguments plus a keyword ``grad_output``: the
    upstream gradient of the loss (a scalar for ``reduction="mean"|"sum"``, an array
    broadcastable to the unreduced loss for ``"none"``; default 1), and optionally
    ``grad_into``: an array of the input's shape and dtype to write the gradient into instead
    of a new one (no allocation, no page faults; with a tuple ``argnums``, a tuple of arrays or
    Nones). For the row losses (``cross_entropy``,
    ``softmax_focal``, ``multiclass_hinge``) it may be the logits array itself, which is then
    overwritten by its gradient; otherwise it must not overlap any argument. The gradient is
    ``d(sum(grad_output * loss)) / d(argument)``, so with ``reduction="none"`` and no
    ``grad_output`` it is the gradient of the sum of the per-sample losses. This is the
    vector-Jacobian product a framework's backward pass needs.

    >>> import numpy as np, fastloss
    >>> loss, g = fastloss.value_and_grad(fastloss.mse)(np.array([1.0, 2.0]), np.array([0.0, 0.0]))
    >>> float(loss), g.tolist()
    (2.5, [1.0, 2.0])
    >>> _, (g_pred, g_target) = fastloss.value_and_grad(fastloss.mse, argnums=(0, 1))(
    ...     np.array([1.0, 2.0]), np.array([0.0, 0.0]))
    >>> g_target.tolist()
    [-1.0, -2.0]
    """
    return _fused(fn, argnums, "value_and_grad")


def _is_combination(fn) -> bool:
    """A loss combination of fastloss._combine, whose gradients are closed forms it computes."""
    return hasattr(fn, "_combination_value_and_grad")


def _combined(fn, name: str, positions: tuple, as_tuple: bool):
    """value_and_grad of a combination: no kernel, so neither small calls nor grad_into; the
    upstream gradient is a number (a combination's value is a scalar)."""
    arrays = fn._combination_arrays
    for a in positions:
        if not 0 <= a < len(arrays):
            fail(name, f"argnums position {a} is not a differentiable argument (0 to "
                       f"{len(arrays) - 1}: {', '.join(arrays)})")

    @functools.wraps(fn)
    def wrapper(*args, grad_output=None, grad_into=None, **kwargs):
        if grad_into is not None:
            fail(name, "grad_into is not supported by the loss combinations", TypeError)
        scale = 1.0 if grad_output is None else real_scalar(name, "grad_output", grad_output)
        value, grads = fn._combination_value_and_grad(*args, **kwargs)
        picked = tuple(grads[a] * scale for a in positions)
        return value, (picked if as_tuple else picked[0])

    wrapper.__name__ = f"value_and_grad_{name}"
    wrapper.__qualname__ = wrapper.__name__
    return wrapper


def _fused(fn, argnums, who: str):
    name, positions = _check(fn, argnums, who)
    if _is_combination(fn):
        return _combined(fn, name, positions, isinstance(argnums, tuple))
    as_tuple = isinstance(argnums, tuple)
    # The small-call path computes the first argument's gradient only.
    small = getattr(fn, "_small", None) if positions == (0,) else None

    @functools.wraps(fn)
    def wrapper(*args, grad_output=None, grad_into=None, **kwargs):
        if small is not None and grad_output is None and grad_into is None:
            out = _small_call.attempt(small, args, kwargs, True)
            if out is not None:
                return (out[0], (out[1],)) if as_tuple else out
        if as_tuple:
            into = (None,) * len(positions) if grad_into is None else grad_into
            if not isinstance(into, tuple) or len(into) != len(positions):
                fail(name, f"grad_into must be a tuple of {len(positions)} arrays or Nones "
                           f"with argnums={argnums!r}", TypeError)
        else:
            into = (grad_into,)
        request = GradRequest(grad_output=grad_output, argnums=positions, grad_into=into)
        token = _request.set(request)
        try:
            loss = fn(*args, **kwargs)
        finally:
            _request.reset(token)
        if request.grads is None:
            fail(name, "the loss did not produce a gradient", RuntimeError)
        return loss, (request.grads if as_tuple else request.grads[0])

    wrapper.__name__ = f"value_and_grad_{name}"
    wrapper.__qualname__ = wrapper.__name__
    return wrapper


def grad(fn, argnums=0):
    """Like :func:`value_and_grad` but returns the gradient alone.

    >>> import numpy as np, fastloss
    >>> fastloss.grad(fastloss.mae)(np.array([1.0, -2.0]), np.array([0.0, 0.0])).tolist()
    [0.5, -0.5]
    """
    both = _fused(fn, argnums, "grad")

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return both(*args, **kwargs)[1]

    wrapper.__name__ = f"grad_{getattr(fn, '__name__', 'loss')}"
    wrapper.__qualname__ = wrapper.__name__
    return wrapper
