"""Row-count sweep: ``cross_entropy`` forward+backward at a fixed number of logits, from many
short rows (C = 2) to few long ones (C = 32000).

Per class count C the logits are N x C with N = TOTAL // C (the registry's sampler, as the main
table), and each of these is timed in the same interleaved rounds: fastloss
(``value_and_grad(fastloss.cross_entropy)``, the NumPy API), the roofline stream on the same
logits into an already touched output (``_core.stream([logits], [out])``), PyTorch eager
(``F.cross_entropy`` + ``backward()``), ``torch.compile`` of it, and
``jax.jit(jax.value_and_grad(...))``: the peers of the main table, called the same way.

Reported per C: ns per logit, and the fraction of the memory roofline: (counted bytes / time) /
(stream bytes / stream time). The counted bytes are 8NC + 8N (logits read, gradient written,
int64 labels read); the stream moves the 8NC and its GB/s is applied to all of them, so the
labels (half the traffic at C = 2) are charged at the machine's measured bandwidth too.
"""

from __future__ import annotations

import time

import numpy as np

import fastloss
from fastloss import _core
from fastloss._registry import REGISTRY

from . import compiled, peers
from .cases import Case
from .timing import Progress, median_ms, rounds

SWEEP_CLASSES = (2, 10, 100, 1000, 32000)
TOTAL_LOGITS = 1 << 22
TOTAL_LOGITS_QUICK = 1 << 14
PEER_NAMES = ("torch", "torch.compile", "jax")


def _peer_fused(name: str, case: Case, args, kwargs):
    """(fused, how, first_call_s): the peer's fused call after its first (compiling) call."""
    if name == "torch.compile":
        _, fused, how, first = compiled.torch_compile_peer(case, args, kwargs)
        return fused, how, first
    make = {"torch": peers.torch_peer, "jax": peers.jax_peer}[name]
    _, fused, how = make(case, args, kwargs)
    t0 = time.perf_counter()
    fused()
    return fused, how, time.perf_counter() - t0


def run(cfg, progress: Progress, index: int) -> dict:
    total = TOTAL_LOGITS_QUICK if cfg.quick else TOTAL_LOGITS
    spec = REGISTRY["cross_entropy"]
    vg = fastloss.value_and_grad(fastloss.cross_entropy)
    out = {"total_logits": total, "rows": [], "how": {}}
    wanted = [p for p in PEER_NAMES
              if (p.split(".")[0] in cfg.peers) and (p != "torch.compile" or cfg.compile)]
    for c in SWEEP_CLASSES:
        n = max(1, total // c)
        case = Case(f"cross_entropy_sweep_C{c}", "cross_entropy", spec, (n, c))
        progress.step(index, f"row sweep C={c} ({n} rows)", "set-up and first calls")
        args, kwargs = case.inputs()
        logits = args[0]
        warm_out = np.empty_like(logits)
        warm_out.fill(0.0)  # touched once, like fastloss's recycled outputs
        fns = {"fastloss": lambda: vg(*args, **kwargs),
               "roofline": lambda: _core.stream([logits.reshape(-1)], [warm_out.reshape(-1)])}
        first, errors = {}, {}
        for name in wanted:
            try:
                fns[name], out["how"][name], first[name] = _peer_fused(name, case, args, kwargs)
            except peers.Unavailable as e:
                errors[name] = f"unavailable: {e}"
            except Exception as e:  # a peer failing must not lose the rest; it is reported
                errors[name] = f"{type(e).__name__}: {e}"
        progress.step(index, f"row sweep C={c} ({n} rows)", "timed rounds")
        r = rounds(fns, cfg.repeats)
        ms = {k: median_ms(v) for k, v in r.items()}
        counted = 2 * logits.nbytes + args[1].nbytes
        roof_gbps = 2 * logits.nbytes / (ms["roofline"] * 1e-3) / 1e9
        timed = [k for k in ms if k != "roofline"]
        out["rows"].append({
            "c": c, "n": n, "bytes": counted, "roofline_gbps": roof_gbps, "ms": ms,
            "ns_per_logit": {k: ms[k] * 1e6 / logits.size for k in timed},
            "fraction": {k: counted / (ms[k] * 1e-3) / 1e9 / roof_gbps for k in timed},
            "ratios": {k: ms[k] / ms["fastloss"] for k in timed if k != "fastloss"},
            "first_call_s": first, "errors": errors,
            "runs_ms": {k: [t * 1e3 for t in v] for k, v in r.items()}})
        del fns, r, args, kwargs, logits, warm_out
        compiled.reset()
    return out
