"""The small-call path of the pointwise losses.

At 32 elements a loss costs nanoseconds, while the general path (DLPack-aware wrapper, argument
checks, broadcasting, an 11-argument native call) costs microseconds. The common call —
``fn(pred, target)`` or ``fn(pred, target, reduction=...)`` on two NumPy arrays of one float dtype
and shape, and the same through ``value_and_grad`` without ``grad_output``/``grad_into`` — goes
to one native entry (``bindings/small_call.cc``) that checks the array headers and runs the same
kernel request with the default hyper-parameters. It declines everything else, and every call
with an element outside the loss's domain; the general path then runs, so results and errors
are the general path's, bit for bit (tests/test_small_call.py).
"""

from __future__ import annotations

import functools
import inspect

from . import _core
from ._dispatch import _request
from ._validate import REDUCTIONS

_MEAN = REDUCTIONS["mean"]


def attempt(small, args: tuple, kwargs: dict, with_grad: bool):
    """The small path's result for fn(*args, **kwargs), or None when it does not apply.
    `small` is the (native, p0, p1) a `small_call` function carries."""
    if len(args) != 2:
        return None
    if not kwargs:
        code = _MEAN
    elif len(kwargs) == 1 and type(kwargs.get("reduction")) is str:
        code = REDUCTIONS.get(kwargs["reduction"])
        if code is None:
            return None
    else:
        return None
    native, p0, p1 = small
    return native(args[0], args[1], code, p0, p1, with_grad)


def small_call(kernel: str, *hyperparameters: str):
    """Give a public pointwise loss the small-call path of `_core.<kernel>_small`, called with
    the signature defaults of `hyperparameters` (at most two), in the kernel's order. The
    wrapper carries it as `_small` for value_and_grad."""
    native = getattr(_core, kernel + "_small")

    def decorate(public):
        defaults = inspect.signature(public).parameters
        p0, p1 = ([float(defaults[h].default) for h in hyperparameters] + [0.0, 0.0])[:2]
        small = (native, p0, p1)

        @functools.wraps(public)
        def wrapper(*args, **kwargs):
            if _request.get() is None:
                out = attempt(small, args, kwargs, False)
                if out is not None:
                    return out
            return public(*args, **kwargs)

        wrapper._small = small
        return wrapper

    return decorate
