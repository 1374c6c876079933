"""The ``jax.pure_callback`` path shared by the fastloss.jax losses that have no XLA FFI custom
call yet (the embedding, in-batch, listwise and structured losses).

:func:`host_loss` builds one ``jax.custom_vjp``: its forward runs the NumPy API on the host
(under differentiation ``fastloss.value_and_grad`` over the differentiable arguments, so the
loss and every gradient come from one kernel pass), and its backward multiplies the saved
gradients by the cotangent. It works under ``jax.jit``, ``jax.grad`` and ``jax.vmap``
(``vmap_method="sequential"``: one call per batch element), on the CPU; reverse mode only. The
callback leaves the compiled program for the host, which the FFI path will save.
"""

from __future__ import annotations

import jax
import numpy as np

from .._autodiff import value_and_grad


def host_loss(np_fn, arguments, n_args: int, argnums: tuple, loss_struct, expand_cotangent, *,
              cotangent_to_kernel: bool = False):
    """The custom_vjp f(*args) of the NumPy API function `np_fn`.

    `arguments(args)` turns the callback's host arrays into np_fn's ``(positional, keywords)``;
    `argnums` are the positions among the `n_args` arguments that get a cotangent (the others,
    labels, masks, costs and weights, get None); `loss_struct(args)` is the loss's
    ``jax.ShapeDtypeStruct``; `expand_cotangent(ct)` broadcasts the loss's cotangent against a
    gradient (a per-sample loss's cotangent gains the reduced axis).

    `cotangent_to_kernel`: a per-sample cotangent does not scale rows of the gradients (the
    in-batch losses of reduction="none", where a row's gradient sums over other rows' losses),
    so the backward runs the kernel again with the cotangent as its ``grad_output``, on the
    arguments saved by the forward.
    """
    def host_value(*args):
        positional, keywords = arguments(tuple(map(np.asarray, args)))
        return np.asarray(np_fn(*positional, **keywords))

    def host_value_and_grads(*args):
        positional, keywords = arguments(tuple(map(np.asarray, args)))
        value, grads = value_and_grad(np_fn, argnums=argnums)(*positional, **keywords)
        return np.asarray(value), tuple(np.asarray(g) for g in grads)

    def host_grads_at(ct, *args):
        positional, keywords = arguments(tuple(map(np.asarray, args)))
        _, grads = value_and_grad(np_fn, argnums=argnums)(*positional, grad_output=np.asarray(ct),
                                                          **keywords)
        return tuple(np.asarray(g) for g in grads)

    def grad_structs_of(args):
        return tuple(jax.ShapeDtypeStruct(args[i].shape, args[i].dtype) for i in argnums)

    @jax.custom_vjp
    def f(*args):
        return jax.pure_callback(host_value, loss_struct(args), *args, vmap_method="sequential")

    def placed(grads):
        cotangents = [None] * n_args
        for position, g in zip(argnums, grads):
            cotangents[position] = g
        return tuple(cotangents)

    if cotangent_to_kernel:
        def fwd_saving(*args):
            return f(*args), args

        def bwd_rerun(args, ct):
            return placed(jax.pure_callback(host_grads_at, grad_structs_of(args), ct, *args,
                                            vmap_method="sequential"))

        f.defvjp(fwd_saving, bwd_rerun)
        return f

    def fwd(*args):
        return jax.pure_callback(host_value_and_grads, (loss_struct(args), grad_structs_of(args)),
                                 *args, vmap_method="sequential")

    def bwd(grads, ct):
        ct = expand_cotangent(ct)
        return placed(tuple((g * ct).astype(g.dtype) for g in grads))

    f.defvjp(fwd, bwd)
    return f


def list_loss_struct(scores, axis: int, none: bool):
    """The loss of a loss over lists along `axis`: one per list for reduction="none", else a
    scalar."""
    shape = scores.shape[:axis] + scores.shape[axis + 1:] if none else ()
    return jax.ShapeDtypeStruct(shape, scores.dtype)
