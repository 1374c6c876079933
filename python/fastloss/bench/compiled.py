"""``torch.compile`` as a peer: how the benchmark compiles, and the compiled loss of a case.

Every compiled function is compiled for its one shape (``dynamic=False``), as a training loop
with fixed shapes is, on its first call; that call is timed apart (``first_call_s``) and never
counted as a run. ``reset()`` drops Dynamo's caches between cases: compiled functions made from
the same source line share one code object, and past its recompile limit (8) Dynamo would fall
back to eager silently.
"""

from __future__ import annotations

import sys
import time

from .cases import Case


def compile(fn):  # noqa: A001 - the name says what it wraps
    import torch

    return torch.compile(fn, dynamic=False)


def reset():
    """Forget compiled graphs (only when torch is already imported: never imports it)."""
    torch = sys.modules.get("torch")
    if torch is not None:
        torch._dynamo.reset()


def torch_compile_peer(case: Case, args, kwargs):
    """(None, fused, how, first_call_s): the torch peer's loss under torch.compile, forward then
    ``backward()`` on a leaf (the compiled graph includes the backward; AOTAutograd). The
    forward alone is not compiled (a second graph under no_grad: compile time for a column the
    issue does not ask for)."""
    from . import peers

    try:
        import torch
    except ImportError as e:
        raise peers.Unavailable(f"torch not importable: {e}") from e
    loss, how = peers._torch_loss(case, peers.defaults(case, kwargs))
    if case.kind == "pair" or len(args) < 2:
        raise peers.Unavailable("torch.compile peer written for (input, target, ...) losses only")
    reset()
    compiled_loss = compile(lambda *tensors: loss(*tensors))
    # the differentiated arrays (the input; the center loss's centres too) as leaves; the
    # target and the rest (margin_ranking's preference) as they are
    positions = peers.grad_positions(case)
    tensors = [torch.from_numpy(a) for a in args]
    tensors = [t.detach().requires_grad_(True) if i in positions else t
               for i, t in enumerate(tensors)]

    def fused():
        for i in positions:
            tensors[i].grad = None
        value = compiled_loss(*tensors)
        value.backward()
        return value, tensors[0].grad

    t0 = time.perf_counter()
    fused()  # compiles
    return None, fused, f"torch.compile({how}) + backward", time.perf_counter() - t0
