"""fastloss.jax's center loss and centre update: the ``jax.pure_callback`` path
(:func:`._host.host_loss`) of the other in-batch losses, not yet the XLA FFI custom call.

``center`` is differentiable in the features and the centres; the labels and the sample weights
get no cotangent. Its ``reduction="none"`` backward runs the kernel again with the cotangent (a
centre's gradient sums over the rows of its class, which a per-row scale of saved gradients
cannot give). ``center_update`` is a plain callback, not differentiable (the update is not a
loss). Shapes and dtypes are checked at trace time, with errors naming ``fastloss.jax.<fn>``;
the labels' range on the host, inside the call.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from .. import _center
from .._validate import fail, reduction_code
from ._host import host_loss


def _checked(fn: str, features, labels, centers):
    """The arrays as JAX arrays, after the NumPy API's checks on stand-ins of their shapes and
    dtypes (broadcast zeros: no memory), with errors naming fastloss.jax.<fn>."""
    arrays = tuple(jnp.asarray(a) for a in (features, labels, centers))
    _center.checked_arrays(f"jax.{fn}", *(np.broadcast_to(np.zeros((), a.dtype), a.shape)
                                         for a in arrays))
    return arrays


@functools.lru_cache(maxsize=None)
def _loss(has_weight: bool, reduction: str):
    """The custom_vjp of one call signature: (features, labels, centers[, weight])."""
    none = reduction == "none"

    def arguments(args):
        weight = args[3] if has_weight else None
        return args[:3], {"reduction": reduction, "sample_weight": weight}

    return host_loss(_center.center, arguments, 3 + has_weight, (0, 2),
                     lambda args: jax.ShapeDtypeStruct(args[0].shape[:1] if none else (),
                                                       args[0].dtype),
                     lambda ct: ct, cotangent_to_kernel=none)


def center(features, labels, centers, *, reduction="mean", sample_weight=None):
    """:func:`fastloss.center` for JAX arrays (a ``jax.pure_callback`` path for now: see this
    module's doc); differentiable with respect to ``features`` and ``centers``."""
    x, y, c = _checked("center", features, labels, centers)
    reduction_code("jax.center", reduction)
    extra = ()
    if sample_weight is not None:
        try:
            extra = (jnp.broadcast_to(jnp.asarray(sample_weight, x.dtype), x.shape[:1]),)
        except ValueError:
            fail("jax.center", f"sample_weight of shape {jnp.shape(sample_weight)} does not "
                               f"broadcast to the row shape {x.shape[:1]}")
    return _loss(sample_weight is not None, reduction)(x, y, c, *extra)


def center_update(features, labels, centers, *, alpha=0.5):
    """:func:`fastloss.center_update` for JAX arrays: the new centres (a ``jax.pure_callback``;
    not differentiable)."""
    a = _center.checked_alpha("jax.center_update", alpha)
    x, y, c = _checked("center_update", features, labels, centers)

    def host(x, y, c):
        return np.asarray(_center.center_update(np.asarray(x), np.asarray(y), np.asarray(c),
                                                alpha=a))

    return jax.pure_callback(host, jax.ShapeDtypeStruct(c.shape, c.dtype), x, y, c,
                             vmap_method="sequential")
