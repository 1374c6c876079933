"""Runs the benchmark: per case, fastloss forward and fused pass against the roofline (interleaved
rounds), thread scaling, float64, then the peers; and the small-call timings."""

from __future__ import annotations

import gc
import math
import time
from dataclasses import dataclass

import numpy as np

import fastloss
from fastloss import _core

from . import compiled
from . import peers as peer_mod
from .cases import Case, stream_reads, traffic
from .timing import Progress, median_ms, per_call, rounds


@dataclass
class Config:
    quick: bool
    repeats: int
    threads: int
    peers: tuple = ("numpy", "torch", "jax")
    # torch.compile as a peer wherever PyTorch is (--no-compile: not at all).
    compile: bool = True
    # Wall-clock budget of one peer on one case (seconds of timed runs); at least 3 runs are kept,
    # but of the NumPy reference only 1, without a warm-up, once its runs pass the budget (its
    # float64 passes take seconds per row: the column is a baseline, not a close race). 1 s keeps
    # the default run under 10 minutes on 2 cores with torch.compile's column.
    peer_budget_s: float = 1.0
    float64: bool = True


def gbps(nbytes: int, ms: float) -> float:
    return nbytes / (ms * 1e-3) / 1e9 if ms > 0 else math.nan


def _ms(runs):
    return [round(t * 1e3, 6) for t in runs]


def _jsonable(v):
    if isinstance(v, np.ndarray):
        return {"array": list(v.shape), "dtype": str(v.dtype)}
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    return v


def run_case(case: Case, cfg: Config, progress: Progress, index: int) -> dict:
    step = lambda what: progress.step(index, case.row, what)  # noqa: E731
    step("inputs")
    args, kwargs = case.inputs()
    fn = case.spec.fn
    # the GAN discriminator: real and fake both; the center loss: the features and the centres
    positions = peer_mod.grad_positions(case)
    vg = fastloss.value_and_grad(fn, argnums=positions if len(positions) > 1 else 0)
    x = args[0]
    n = x.size
    t = traffic(args, positions)
    reads, left_out = stream_reads(args)
    warm_out = np.empty(n, np.float32)
    warm_out.fill(0.0)  # touched once: this stream pays no page faults

    row: dict = {
        "row": case.row, "loss": case.loss, "kind": case.kind, "shape": list(case.shape),
        "dtype": str(case.dtype),
        "hyperparameters": {k: _jsonable(v) for k, v in peer_mod.defaults(case, kwargs).items()},
        "bytes": {"forward": t["forward"], "fused": t["fused"], "reads": t["reads"],
                  "grad_write": t["grad_write"], "roofline_left_out": left_out},
    }

    # fastloss and the roofline, interleaved, at the configured thread count.
    step("fastloss + roofline")
    r = rounds({
        "forward": lambda: fn(*args, **kwargs),
        "fused": lambda: vg(*args, **kwargs),
        "roof_forward": lambda: _core.stream(reads, []),
        # The fused roofline writes into a reused, already touched output, as fastloss's large
        # outputs are (recycled blocks: bindings/output_buffers.cc); the stream into a freshly
        # allocated output per call shows what fresh pages cost (bench/METHOD.md).
        "roof_fused": lambda: _core.stream(reads, [warm_out]),
        "roof_fused_fresh": lambda: _core.stream(reads, [np.empty(n, np.float32)]),
    }, cfg.repeats)
    m = {k: median_ms(v) for k, v in r.items()}
    row["fastloss"] = {
        "forward_ms": m["forward"], "fused_ms": m["fused"],
        "forward_gbps": gbps(t["forward"], m["forward"]), "fused_gbps": gbps(t["fused"], m["fused"]),
        "forward_runs_ms": _ms(r["forward"]), "fused_runs_ms": _ms(r["fused"]),
    }
    row["roofline"] = {
        "forward_ms": m["roof_forward"], "fused_ms": m["roof_fused"],
        "fused_fresh_ms": m["roof_fused_fresh"],
        "forward_gbps": gbps(t["forward"], m["roof_forward"]),
        "fused_gbps": gbps(t["fused"], m["roof_fused"]),
        "fused_fresh_gbps": gbps(t["fused"], m["roof_fused_fresh"]),
        "forward_runs_ms": _ms(r["roof_forward"]), "fused_runs_ms": _ms(r["roof_fused"]),
        "fused_fresh_runs_ms": _ms(r["roof_fused_fresh"]),
    }
    row["fraction"] = {
        "forward": m["roof_forward"] / m["forward"],
        "fused": m["roof_fused"] / m["fused"],
        "fused_vs_fresh_output": m["roof_fused_fresh"] / m["fused"],
    }

    # Thread scaling of the fused pass and of its roofline: 1 vs N threads in interleaved rounds,
    # the thread count switched (untimed) before each call.
    row["threads"] = {"n": cfg.threads, "note": "no scaling measured (--threads 1)"}
    if cfg.threads > 1:
        step(f"threads 1 vs {cfg.threads}")
        one = lambda: fastloss.set_num_threads(1)  # noqa: E731
        many = lambda: fastloss.set_num_threads(cfg.threads)  # noqa: E731
        fused = lambda: vg(*args, **kwargs)  # noqa: E731
        roof = lambda: _core.stream(reads, [warm_out])  # noqa: E731
        try:
            s = rounds({"fused_1": fused, "fused_n": fused, "roof_1": roof, "roof_n": roof},
                       cfg.repeats,
                       setup={"fused_1": one, "fused_n": many, "roof_1": one, "roof_n": many})
        finally:
            fastloss.set_num_threads(cfg.threads)
        sm = {k: median_ms(v) for k, v in s.items()}
        row["threads"] = {
            "n": cfg.threads, "fused_ms_1": sm["fused_1"], "fused_ms_n": sm["fused_n"],
            "speedup": sm["fused_1"] / sm["fused_n"],
            "roofline_ms_1": sm["roof_1"], "roofline_ms_n": sm["roof_n"],
            "roofline_speedup": sm["roof_1"] / sm["roof_n"],
            "fused_runs_ms_1": _ms(s["fused_1"]), "fused_runs_ms_n": _ms(s["fused_n"]),
        }

    # float64 vs float32, fused, pointwise losses (same element count, twice the bytes).
    row["float64"] = None
    if cfg.float64 and case.kind == "pointwise":
        step("float64")
        args64, kwargs64 = case.inputs(dtype=np.float64)
        f = rounds({"f32": lambda: vg(*args, **kwargs), "f64": lambda: vg(*args64, **kwargs64)},
                   cfg.repeats)
        fm = {k: median_ms(v) for k, v in f.items()}
        row["float64"] = {"float32_fused_ms": fm["f32"], "float64_fused_ms": fm["f64"],
                          "ratio": fm["f64"] / fm["f32"],
                          "bytes_ratio": traffic(args64, positions)["fused"] / t["fused"]}
        del args64, kwargs64

    # Peers, each on the same arrays.
    row["peers"] = {}
    names = list(cfg.peers)
    if "torch" in names and cfg.compile:
        names.insert(names.index("torch") + 1, "torch.compile")
    for name in names:
        step(f"peer {name}")
        row["peers"][name] = _run_peer(name, case, args, kwargs, cfg, t, row["fastloss"])
        gc.collect()
    del args, kwargs, reads, warm_out
    gc.collect()
    return row


def _run_peer(name: str, case: Case, args, kwargs, cfg: Config, t: dict, fl: dict) -> dict:
    budget = None if cfg.quick else cfg.peer_budget_s
    try:
        if name == "numpy":
            value, grad, how, scale = peer_mod.numpy_peer(case, args, kwargs)
            # (no warm-up: a NumPy call has nothing to compile; its first run is a timed run)
            r = rounds({"value": value, "grad": grad}, cfg.repeats, warmup=0 if budget else 1,
                       budget_s=budget, min_runs=1)
            r = {key: [s * scale for s in runs] for key, runs in r.items()}
            k = min(len(r["value"]), len(r["grad"]))
            fwd_runs, fused_runs = r["value"], [a + b for a, b in zip(r["value"][:k], r["grad"][:k])]
        elif name == "torch.compile":
            _, fused, how, first_call_s = compiled.torch_compile_peer(case, args, kwargs)
            fwd_runs, fused_runs = None, rounds({"fused": fused}, cfg.repeats, warmup=0,
                                                budget_s=budget)["fused"]
        else:
            make = {"torch": peer_mod.torch_peer, "jax": peer_mod.jax_peer}[name]
            forward, fused, how = make(case, args, kwargs)
            # The first calls (jax.jit compiles there) are timed apart, never kept as runs.
            t0 = time.perf_counter()
            forward(), fused()
            first_call_s = time.perf_counter() - t0
            r = rounds({"forward": forward, "fused": fused}, cfg.repeats, warmup=0,
                       budget_s=budget)
            fwd_runs, fused_runs = r["forward"], r["fused"]
    except peer_mod.Unavailable as e:
        return {"unavailable": str(e)}
    except Exception as e:  # a peer failing must not lose the rest of the run; it is reported
        return {"error": f"{type(e).__name__}: {e}"}
    finally:
        if name == "torch.compile":
            compiled.reset()
    fused_ms = median_ms(fused_runs)
    out = {
        "how": how, "fused_ms": fused_ms, "fused_ratio": fused_ms / fl["fused_ms"],
        "fused_gbps": gbps(t["fused"], fused_ms), "runs": len(fused_runs),
        "fused_runs_ms": _ms(fused_runs),
    }
    if name != "numpy":
        out["first_call_s"] = first_call_s
    if fwd_runs is not None:
        fwd_ms = median_ms(fwd_runs)
        out.update(forward_ms=fwd_ms, forward_ratio=fwd_ms / fl["forward_ms"],
                   forward_runs_ms=_ms(fwd_runs))
    return out


def small_calls(cfg: Config, progress: Progress, index: int) -> dict:
    """Median time per call on 32 float32 elements: the fixed cost of one call."""
    progress.step(index, "small calls (32 elements)", "")
    rng = np.random.default_rng(32)
    x = rng.standard_normal(32).astype(np.float32)
    y = rng.standard_normal(32).astype(np.float32)
    calls = 200 if cfg.quick else 2000
    samples = max(cfg.repeats, 5)
    vg = fastloss.value_and_grad(fastloss.mse)
    fns = {
        "fastloss.mse": lambda: fastloss.mse(x, y),
        "fastloss.value_and_grad(fastloss.mse)": lambda: vg(x, y),
        "numpy np.mean((x - y) ** 2)": lambda: np.mean((x - y) ** 2),
    }
    if "torch" in cfg.peers:
        try:
            import torch
            import torch.nn.functional as F

            xt, yt = torch.from_numpy(x), torch.from_numpy(y)
            leaf = xt.detach().requires_grad_(True)

            def torch_fused():
                leaf.grad = None
                F.mse_loss(leaf, yt).backward()

            fns["torch F.mse_loss"] = lambda: F.mse_loss(xt, yt)
            fns["torch F.mse_loss + backward"] = torch_fused
        except ImportError:
            pass
    out = {}
    for name, fn in fns.items():
        runs = per_call(fn, calls, samples)
        out[name] = {"us_per_call": float(np.median(runs)) * 1e6, "calls_per_sample": calls,
                     "samples": samples}
    return out


def peak_memory(cfg: Config, progress: Progress, index: int) -> dict:
    """Peak memory fastloss allocates during one fused call on 2^26 float32 elements (a few
    thousand in quick mode), against the bytes of the outputs it must return: a ratio near 1
    means no temporary proportional to the input. Counted with tracemalloc, which sees NumPy's
    array allocations; the kernels' own scratch (one double per block, one row per thread) is
    outside it and bounded independently of n."""
    import tracemalloc

    progress.step(index, "peak memory", "")
    n = 1 << (12 if cfg.quick else 26)
    rng = np.random.default_rng(26)
    out = {}
    cases = {
        "mse": (fastloss.mse, (rng.standard_normal(n, dtype=np.float32),
                               rng.standard_normal(n, dtype=np.float32))),
        "cross_entropy": (fastloss.cross_entropy, (rng.standard_normal((n // 1024, 1024),
                                                                       dtype=np.float32),
                                                   rng.integers(0, 1024, n // 1024))),
    }
    for name, (fn, args) in cases.items():
        vg = fastloss.value_and_grad(fn)
        vg(*args)  # warm-up: first-call allocations of the runtime are not the call's
        gc.collect()
        tracemalloc.start()
        try:
            loss, grad = vg(*args)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        needed = grad.nbytes + loss.nbytes
        out[name] = {"elements": int(args[0].size), "peak_bytes": int(peak),
                     "output_bytes": int(needed), "peak_over_outputs": peak / needed}
        del loss, grad
    return out
