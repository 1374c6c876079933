"""Writes results.json, results.md and (when matplotlib is importable) PNG plots."""

from __future__ import annotations

import json
import math
from pathlib import Path

PEERS = ("numpy", "torch", "jax")


def _f(v, digits=2, suffix=""):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    if abs(v) >= 100:
        return f"{v:.0f}{suffix}"
    return f"{v:.{digits}f}{suffix}"


def _ratio(peer: dict | None, key: str) -> str:
    if not peer:
        return "–"
    if "unavailable" in peer:
        return "n/a"
    if "error" in peer:
        return "error"
    return _f(peer[key], 1, "×")


def _mb(nbytes: int) -> str:
    return f"{nbytes / 1e6:.0f}" if nbytes >= 1e7 else f"{nbytes / 1e6:.2f}"


def markdown(result: dict) -> str:
    m, b = result["machine"], result["build_info"]
    v = result["versions"]
    thr = result["threads"]
    lines = [
        "# fastloss benchmark",
        "",
        f"{result['date']} · {m['cpu']} · {m['usable_cores']} usable cores · "
        f"fastloss {b['version']} ({b['isa']}) · {thr} thread(s) · numpy {v['numpy']} · "
        f"torch {v.get('torch') or 'absent'} ({result.get('torch_threads', '–')} threads) · "
        f"jax {v.get('jax') or 'absent'} · "
        f"{'--quick · ' if result['quick'] else ''}median of {result['repeats']} runs",
        "",
        "Times are medians in ms; GB/s = counted bytes / time (bench/METHOD.md); fraction = "
        "roofline time / fastloss time for the same traffic, measured in the same run; "
        "peer × = peer time / fastloss time (above 1: fastloss is faster).",
        "",
        "## Fused forward + backward (`value_and_grad`)",
        "",
        "| row | shape | MB | ms | GB/s | roofline GB/s | fraction | stream, fresh output GB/s "
        "| NumPy × | torch × | jax × |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    rows = result["rows"]
    for r in rows:
        fl, rf, p = r["fastloss"], r["roofline"], r["peers"]
        lines.append(
            f"| {r['row']} | {'x'.join(map(str, r['shape']))} | {_mb(r['bytes']['fused'])} | "
            f"{_f(fl['fused_ms'])} | {_f(fl['fused_gbps'], 1)} | {_f(rf['fused_gbps'], 1)} | "
            f"{_f(r['fraction']['fused'])} | {_f(rf['fused_fresh_gbps'], 1)} | "
            f"{_ratio(p.get('numpy'), 'fused_ratio')} | {_ratio(p.get('torch'), 'fused_ratio')} | "
            f"{_ratio(p.get('jax'), 'fused_ratio')} |")
    lines += [
        "",
        "## Forward only (`reduction=\"mean\"`)",
        "",
        "| row | MB | ms | GB/s | roofline GB/s | fraction | NumPy × | torch × | jax × |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        fl, rf, p = r["fastloss"], r["roofline"], r["peers"]
        lines.append(
            f"| {r['row']} | {_mb(r['bytes']['forward'])} | {_f(fl['forward_ms'])} | "
            f"{_f(fl['forward_gbps'], 1)} | {_f(rf['forward_gbps'], 1)} | "
            f"{_f(r['fraction']['forward'])} | {_ratio(p.get('numpy'), 'forward_ratio')} | "
            f"{_ratio(p.get('torch'), 'forward_ratio')} | {_ratio(p.get('jax'), 'forward_ratio')} |")
    if any("speedup" in r["threads"] for r in rows):
        lines += [
            "",
            f"## Thread scaling of the fused pass (1 vs {thr} threads)",
            "",
            f"| row | 1 thread ms | {thr} threads ms | speed-up | roofline speed-up |",
            "|---|--:|--:|--:|--:|",
        ]
        for r in rows:
            t = r["threads"]
            if "speedup" in t:
                lines.append(f"| {r['row']} | {_f(t['fused_ms_1'])} | {_f(t['fused_ms_n'])} | "
                             f"{_f(t['speedup'])} | {_f(t['roofline_speedup'])} |")
    f64 = [r for r in rows if r.get("float64")]
    if f64:
        lines += [
            "",
            "## float64 vs float32 (fused, same element count)",
            "",
            "A time ratio equal to the byte ratio (2.0; 1.5 with int64 labels) is bandwidth-bound.",
            "",
            "| row | float32 ms | float64 ms | time ratio | byte ratio |",
            "|---|--:|--:|--:|--:|",
        ]
        for r in f64:
            d = r["float64"]
            lines.append(f"| {r['row']} | {_f(d['float32_fused_ms'])} | "
                         f"{_f(d['float64_fused_ms'])} | {_f(d['ratio'])} | "
                         f"{_f(d.get('bytes_ratio'))} |")
    if result.get("small_calls"):
        lines += ["", "## Small calls (32 float32 elements)", "", "| call | µs per call |",
                  "|---|--:|"]
        for name, d in result["small_calls"].items():
            lines.append(f"| {name} | {_f(d['us_per_call'], 1)} |")
    if result.get("peak_memory"):
        lines += ["", "## Peak memory of one fused call", "",
                  "| loss | elements | peak MB | outputs MB | peak / outputs |", "|---|--:|--:|--:|--:|"]
        for name, d in result["peak_memory"].items():
            lines.append(f"| {name} | {d['elements']} | {_mb(d['peak_bytes'])} | "
                         f"{_mb(d['output_bytes'])} | {_f(d['peak_over_outputs'])} |")
    lines += ["", "## How each peer was called", "",
              "(a call that is the same for several rows is listed at its first row)", "",
              "| row | peer | call |", "|---|---|---|"]
    seen = set()
    for r in rows:
        for name in PEERS:
            p = r["peers"].get(name)
            if p is None:
                continue
            how = p.get("how") or p.get("unavailable") or p.get("error")
            generic = name in ("numpy", "jax") and "how" in p
            key = (name, how.replace(r["loss"], "NAME") if generic else (r["row"], how))
            if key in seen:
                continue
            seen.add(key)
            lines.append(f"| {r['row']} | {name} | {how} |")
    return "\n".join(lines) + "\n"


def write(result: dict, out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "results.json", "md": out / "results.md"}
    paths["json"].write_text(json.dumps(result, indent=1, allow_nan=True) + "\n")
    paths["md"].write_text(markdown(result))
    paths.update(plots(result, out))
    return paths


def plots(result: dict, out: Path) -> dict:
    """fused_gbps.png and speedup.png; nothing (quietly) without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception:
        return {}
    rows = result["rows"]
    names = [r["row"] for r in rows]
    x = list(range(len(rows)))
    series = [("fastloss", [r["fastloss"]["fused_gbps"] for r in rows]),
              ("roofline", [r["roofline"]["fused_gbps"] for r in rows])]
    for p in PEERS:
        vals = [r["peers"].get(p, {}).get("fused_gbps", math.nan) for r in rows]
        if any(math.isfinite(v) for v in vals):
            series.append((p, vals))
    width = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(max(8, 0.7 * len(rows) + 3), 5))
    for k, (label, vals) in enumerate(series):
        ax.bar([i + (k - (len(series) - 1) / 2) * width for i in x], vals, width, label=label)
    ax.set_xticks(x)
    ax.set_xticklabels(names, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("effective GB/s (counted bytes / time)")
    ax.set_title(f"Fused forward+backward, {result['threads']} threads — {result['machine']['cpu']}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    files = {"plot_gbps": out / "fused_gbps.png"}
    fig.savefig(files["plot_gbps"], dpi=110)
    plt.close(fig)

    peers = [p for p in PEERS if any("fused_ratio" in r["peers"].get(p, {}) for r in rows)]
    if peers:
        width = 0.8 / len(peers)
        fig, ax = plt.subplots(figsize=(max(8, 0.7 * len(rows) + 3), 5))
        for k, p in enumerate(peers):
            vals = [r["peers"].get(p, {}).get("fused_ratio", math.nan) for r in rows]
            ax.bar([i + (k - (len(peers) - 1) / 2) * width for i in x], vals, width, label=p)
        ax.axhline(1.0, color="black", lw=0.8)
        ax.set_yscale("log")
        ax.set_xticks(x)
        ax.set_xticklabels(names, rotation=45, ha="right", fontsize=8)
        ax.set_ylabel("peer time / fastloss time (fused)")
        ax.set_title("Speed-up of fastloss's fused pass over each peer")
        ax.legend(fontsize=8)
        fig.tight_layout()
        files["plot_speedup"] = out / "speedup.png"
        fig.savefig(files["plot_speedup"], dpi=110)
        plt.close(fig)
    return files
