"""PNG plots (when matplotlib is importable; nothing, quietly, without it). Every title ends with
the machine label (machine.label: CPU, fastloss ISA, threads, and "quick" for a --quick run)."""

from __future__ import annotations

import math
from pathlib import Path

from .machine import label
from .tables import STEP_VARIANTS, SWEEP_IMPLS

PEERS = ("numpy", "torch", "torch.compile", "jax")


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception:
        return None
    return plt


def _bars(ax, names, series):
    """Grouped bars: series = [(label, [value per name])]."""
    width = 0.8 / len(series)
    for k, (name, vals) in enumerate(series):
        ax.bar([i + (k - (len(series) - 1) / 2) * width for i in range(len(names))], vals, width,
               label=name)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=45, ha="right", fontsize=8)


def _save(plt, fig, ax, title: str, result: dict, path: Path) -> Path:
    ax.set_title(f"{title}\n{label(result)}", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write(result: dict, out: Path) -> dict:
    plt = _pyplot()
    if plt is None:
        return {}
    files = {}
    rows = result["rows"]
    if rows:
        names = [r["row"] for r in rows]
        size = (max(8, 0.7 * len(rows) + 3), 5)
        series = [("fastloss", [r["fastloss"]["fused_gbps"] for r in rows]),
                  ("roofline", [r["roofline"]["fused_gbps"] for r in rows])]
        for p in PEERS:
            vals = [r["peers"].get(p, {}).get("fused_gbps", math.nan) for r in rows]
            if any(math.isfinite(v) for v in vals):
                series.append((p, vals))
        fig, ax = plt.subplots(figsize=size)
        _bars(ax, names, series)
        ax.set_ylabel("effective GB/s (counted bytes / time)")
        files["plot_gbps"] = _save(plt, fig, ax, "Fused forward+backward", result,
                                   out / "fused_gbps.png")
        peers = [p for p in PEERS if any("fused_ratio" in r["peers"].get(p, {}) for r in rows)]
        if peers:
            fig, ax = plt.subplots(figsize=size)
            _bars(ax, names, [(p, [r["peers"].get(p, {}).get("fused_ratio", math.nan)
                                   for r in rows]) for p in peers])
            ax.axhline(1.0, color="black", lw=0.8)
            ax.set_yscale("log")
            ax.set_ylabel("peer time / fastloss time (fused)")
            files["plot_speedup"] = _save(plt, fig, ax, "Speed-up of fastloss's fused pass over "
                                          "each peer", result, out / "speedup.png")
    steps = (result.get("steps") or {}).get("shapes")
    if steps:
        variants = [v for v in STEP_VARIANTS if any(v in s["ms"] for s in steps)]
        fig, ax = plt.subplots(figsize=(9, 5))
        _bars(ax, [s["label"] for s in steps],
              [(v, [s["ms"].get(v, math.nan) for s in steps]) for v in variants])
        ax.set_yscale("log")
        ax.set_ylabel("ms per training step (median)")
        files["plot_steps"] = _save(plt, fig, ax, "Training step: Linear → cross-entropy → "
                                    "backward → SGD", result, out / "steps.png")
        pairs = [f"{peer} / {ours}" for ours, peer in result["steps"]["pairs"]
                 if any(f"{peer} / {ours}" in s["ratios"] for s in steps)]
        if pairs:
            fig, ax = plt.subplots(figsize=(9, 5))
            _bars(ax, [s["label"] for s in steps],
                  [(p, [s["ratios"].get(p, math.nan) for s in steps]) for p in pairs])
            ax.axhline(1.0, color="black", lw=0.8)
            ax.set_yscale("log")
            ax.set_ylabel("peer step time / fastloss step time")
            files["plot_steps_speedup"] = _save(plt, fig, ax, "Training step: speed-up of "
                                                "fastloss over each peer", result,
                                                out / "steps_speedup.png")
    sweep = (result.get("sweep") or {}).get("rows")
    if sweep:
        cs = [r["c"] for r in sweep]
        fig, ax = plt.subplots(figsize=(8, 5))
        for p in SWEEP_IMPLS:
            vals = [r["ns_per_logit"].get(p, math.nan) for r in sweep]
            if any(math.isfinite(v) for v in vals):
                ax.plot(cs, vals, marker="o", label=p)
        # The roofline's time for the counted bytes, per logit.
        ax.plot(cs, [r["bytes"] / r["roofline_gbps"] / (r["n"] * r["c"]) for r in sweep],
                "k--", label="memory roofline")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("classes C (N = total logits / C)")
        ax.set_ylabel("ns per logit, forward+backward")
        total = result["sweep"]["total_logits"]
        files["plot_sweep"] = _save(plt, fig, ax, f"cross_entropy row sweep, {total} logits",
                                    result, out / "sweep.png")
    return files
