"""JAX-style gradients of fastloss losses, computed in the same kernel pass as the loss."""

from __future__ import annotations

import functools

from . import _small_call
from ._dispatch import GradRequest, _request
from ._validate import fail


def _check(fn, argnums, who: str):
    from ._registry import REGISTRY  # the registry imports the public functions

    name = getattr(fn, "__name__", repr(fn))
    if not any(spec.fn is fn for spec in REGISTRY.values()):
        fail(who, f"expects a fastloss loss function, got {name}", TypeError)
    if argnums not in (0, (0,)):
        fail(who, f"argnums must be 0 (the predictions/logits; targets are not differentiated), "
                  f"got {argnums!r}")
    return name


def value_and_grad(fn, argnums=0):
    """Return a function computing ``(loss, gradient)`` of a fastloss loss in one kernel pass.

    The returned function takes the loss's own arguments plus a keyword ``grad_output``: the
    upstream gradient of the loss (a scalar for ``reduction="mean"|"sum"``, an array
    broadcastable to the unreduced loss for ``"none"``; default 1), and optionally
    ``grad_into``: an array of the input's shape and dtype to write the gradient into instead
    of a new one (no allocation, no page faults). For the row losses (``cross_entropy``,
    ``softmax_focal``, ``multiclass_hinge``) it may be the logits array itself, which is then
    overwritten by its gradient; otherwise it must not overlap any argument. The gradient is
    ``d(sum(grad_output * loss)) / d(first argument)``, so with ``reduction="none"`` and no
    ``grad_output`` it is the gradient of the sum of the per-sample losses. This is the
    vector-Jacobian product a framework's backward pass needs.

    >>> import numpy as np, fastloss
    >>> loss, g = fastloss.value_and_grad(fastloss.mse)(np.array([1.0, 2.0]), np.array([0.0, 0.0]))
    >>> float(loss), g.tolist()
    (2.5, [1.0, 2.0])
    """
    return _fused(fn, argnums, "value_and_grad")


def _fused(fn, argnums, who: str):
    name = _check(fn, argnums, who)
    small = getattr(fn, "_small", None)

    @functools.wraps(fn)
    def wrapper(*args, grad_output=None, grad_into=None, **kwargs):
        if small is not None and grad_output is None and grad_into is None:
            out = _small_call.attempt(small, args, kwargs, True)
            if out is not None:
                return out
        request = GradRequest(grad_output=grad_output, grad_into=grad_into)
        token = _request.set(request)
        try:
            loss = fn(*args, **kwargs)
        finally:
            _request.reset(token)
        if request.grad is None:
            fail(name, "the loss did not produce a gradient", RuntimeError)
        return loss, request.grad

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
