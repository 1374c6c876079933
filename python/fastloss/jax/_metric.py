"""fastloss.jax's embedding losses (``contrastive``, ``cosine_embedding``, ``triplet``, and the
in-batch ``info_nce``): a first step through
``jax.pure_callback``, not yet the XLA FFI custom call of the other losses.

Each call is a ``jax.custom_vjp`` of :func:`._host.host_loss`, differentiable in every
embedding array (the cotangent taken per row for ``reduction="none"``). Static facts are checked
at trace time with the NumPy API's own checks (errors name ``fastloss.jax.<loss>``); a label
the loss refuses is found by the kernel when the program runs.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from .. import _in_batch, _metric
from ._host import host_loss


# The in-batch losses among them: a row's gradient takes terms from other rows' losses.
_IN_BATCH = ("info_nce",)
# The NumPy API functions this module wraps, by name.
_NUMPY = {"contrastive": _metric.contrastive, "cosine_embedding": _metric.cosine_embedding,
          "triplet": _metric.triplet, "info_nce": _in_batch.info_nce}


def _renamed(fn: str):
    """Re-raise the NumPy API's errors under the name fastloss.jax.<fn>."""
    def wrap(call):
        try:
            return call()
        except (ValueError, TypeError) as e:
            raise type(e)(str(e).replace(f"[fastloss.{fn}]", f"[fastloss.jax.{fn}]")) from None
    return wrap


def _check(fn: str, names: tuple, arrays: tuple, label, label_name: str, static: dict):
    """Trace-time checks: dtypes and shapes of the abstract arrays, and the hyper-parameters
    (the NumPy API on empty stand-ins of the arrays' feature count)."""
    first = arrays[0]
    stand_in = np.zeros((0,) + first.shape[-1:], first.dtype) if first.ndim else \
        np.zeros((), first.dtype)
    for name, a in zip(names[1:], arrays[1:]):
        if a.shape != first.shape:
            raise ValueError(f"[fastloss.jax.{fn}] {name} must have the shape of {names[0]} "
                             f"{first.shape}, got {a.shape}")
        if a.dtype != first.dtype:
            raise TypeError(f"[fastloss.jax.{fn}] {name} must have the dtype of {names[0]} "
                            f"({first.dtype}), got {a.dtype}")
    if label is not None and label.shape != first.shape[:-1]:
        raise ValueError(f"[fastloss.jax.{fn}] {label_name} must have the row shape "
                         f"{first.shape[:-1]}, got {label.shape}")
    labels = () if label is None else (np.zeros(stand_in.shape[:-1]),)
    _renamed(fn)(lambda: _NUMPY[fn](
        *(stand_in,) * len(arrays), *labels, **static))


@functools.lru_cache(maxsize=None)
def _loss(fn: str, n_arrays: int, has_label: bool, static: tuple):
    """The custom_vjp of one loss at static hyper-parameters."""
    kwargs = dict(static)
    none = kwargs["reduction"] == "none"
    return host_loss(
        _NUMPY[fn], lambda args: (args, kwargs), n_arrays + has_label, tuple(range(n_arrays)),
        lambda args: jax.ShapeDtypeStruct(args[0].shape[:-1] if none else (), args[0].dtype),
        lambda ct: ct[..., None] if none else ct,
        # info_nce: a key's gradient sums over every query's loss, not its own row's alone
        cotangent_to_kernel=none and fn in _IN_BATCH)


def _run(fn, names, arrays, label, static, label_name=""):
    arrays = tuple(jnp.asarray(a) for a in arrays)
    if arrays[0].dtype not in (jnp.float32, jnp.float64):
        raise TypeError(f"[fastloss.jax.{fn}] {names[0]} must be float32 or float64, got dtype "
                        f"{arrays[0].dtype}")
    label = None if label is None else jnp.asarray(label)
    _check(fn, names, arrays, label, label_name, static)
    f = _loss(fn, len(arrays), label is not None, tuple(sorted(static.items())))
    return f(*arrays, *(() if label is None else (label,)))


def contrastive(x1, x2, similar, *, margin=1.0, reduction="mean", sample_weight=None):
    """:func:`fastloss.contrastive` for JAX arrays (a ``jax.pure_callback`` path for now: see
    this module's doc); differentiable with respect to ``x1`` and ``x2``."""
    if sample_weight is not None:
        raise TypeError("[fastloss.jax.contrastive] sample_weight is not supported by the "
                        "pure_callback path yet")
    return _run("contrastive", ("x1", "x2"), (x1, x2), similar,
                {"margin": margin, "reduction": reduction}, "similar")


def cosine_embedding(x1, x2, target, *, margin=0.0, reduction="mean", sample_weight=None):
    """:func:`fastloss.cosine_embedding` for JAX arrays (a ``jax.pure_callback`` path for now:
    see this module's doc); differentiable with respect to ``x1`` and ``x2``."""
    if sample_weight is not None:
        raise TypeError("[fastloss.jax.cosine_embedding] sample_weight is not supported by the "
                        "pure_callback path yet")
    return _run("cosine_embedding", ("x1", "x2"), (x1, x2), target,
                {"margin": margin, "reduction": reduction}, "target")


def triplet(anchor, positive, negative, *, margin=1.0, p=2.0, eps=1e-6, swap=False,
            reduction="mean", sample_weight=None):
    """:func:`fastloss.triplet` for JAX arrays (a ``jax.pure_callback`` path for now: see this
    module's doc); differentiable with respect to all three arrays."""
    if sample_weight is not None:
        raise TypeError("[fastloss.jax.triplet] sample_weight is not supported by the "
                        "pure_callback path yet")
    return _run("triplet", ("anchor", "positive", "negative"), (anchor, positive, negative),
                None, {"margin": margin, "p": p, "eps": eps, "swap": swap,
                       "reduction": reduction})


def info_nce(query, key, *, temperature=0.07, symmetric=False, reduction="mean",
             sample_weight=None):
    """:func:`fastloss.info_nce` for JAX (N, D) arrays (a ``jax.pure_callback`` path for now:
    see this module's doc); differentiable with respect to ``query`` and ``key``."""
    if sample_weight is not None:
        raise TypeError("[fastloss.jax.info_nce] sample_weight is not supported by the "
                        "pure_callback path yet")
    if jnp.ndim(query) != 2:
        raise ValueError(f"[fastloss.jax.info_nce] query must be an (N, D) array, got shape "
                         f"{jnp.shape(query)}")
    return _run("info_nce", ("query", "key"), (query, key), None,
                {"temperature": temperature, "symmetric": symmetric, "reduction": reduction})
