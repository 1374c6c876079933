"""Writes results.json, results.md and (when matplotlib is importable) PNG plots (plots.py).

Every table's heading carries the machine label (CPU model, family/model numbers, fastloss ISA,
threads; "quick" for a --quick run): a table copied out of the file keeps its machine."""

from __future__ import annotations

import json
from pathlib import Path

from . import plots, tables
from .machine import cpu_label, label

PEERS = ("numpy", "torch", "torch.compile", "jax")


_f = tables.fmt


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
    where = label(result)
    lines = [
        "# fastloss benchmark",
        "",
        f"{result['date']} · {cpu_label(m)} · {m['usable_cores']} usable cores · "
        f"fastloss {b['version']} ({b['isa']}) · {thr} thread(s) · numpy {v['numpy']} · "
        f"torch {v.get('torch') or 'absent'} ({result.get('torch_threads', '–')} threads) · "
        f"jax {v.get('jax') or 'absent'} · "
        f"{'--quick · ' if result['quick'] else ''}median of {result['repeats']} runs",
        "",
        "Times are medians in ms; GB/s = counted bytes / time (bench/METHOD.md); fraction = "
        "roofline time / fastloss time for the same traffic, measured in the same run; "
        "peer × = peer time / fastloss time (above 1: fastloss is faster).",
    ]
    if result.get("section_s"):
        lines += ["", "Wall time per section: " + ", ".join(
            f"{k} {v:.0f} s" for k, v in result["section_s"].items()) + "."]
    rows = result["rows"]
    if rows:
        lines += _loss_tables(result, where)
    lines += tables.steps(result.get("steps"), where)
    lines += tables.sweep(result.get("sweep"), where)
    return "\n".join(lines) + "\n"


def _loss_tables(result: dict, where: str) -> list[str]:
    thr, rows = result["threads"], result["rows"]
    lines = [
        "",
        f"## Fused forward + backward (`value_and_grad`) — {where}",
        "",
        "| row | shape | MB | ms | GB/s | roofline GB/s | fraction | stream, fresh output GB/s "
        "| NumPy × | torch × | torch.compile × | jax × |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        fl, rf, p = r["fastloss"], r["roofline"], r["peers"]
        lines.append(
            f"| {r['row']} | {'x'.join(map(str, r['shape']))} | {_mb(r['bytes']['fused'])} | "
            f"{_f(fl['fused_ms'])} | {_f(fl['fused_gbps'], 1)} | {_f(rf['fused_gbps'], 1)} | "
            f"{_f(r['fraction']['fused'])} | {_f(rf['fused_fresh_gbps'], 1)} | "
            f"{_ratio(p.get('numpy'), 'fused_ratio')} | {_ratio(p.get('torch'), 'fused_ratio')} | "
            f"{_ratio(p.get('torch.compile'), 'fused_ratio')} | "
            f"{_ratio(p.get('jax'), 'fused_ratio')} |")
    lines += [
        "",
        f"## Forward only (`reduction=\"mean\"`) — {where}",
        "",
        "(torch.compile is timed on the fused pass only.)",
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
            f"## Thread scaling of the fused pass (1 vs {thr} threads) — {where}",
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
            f"## float64 vs float32 (fused, same element count) — {where}",
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
        lines += ["", f"## Small calls (32 float32 elements) — {where}", "",
                  "| call | µs per call |",
                  "|---|--:|"]
        for name, d in result["small_calls"].items():
            lines.append(f"| {name} | {_f(d['us_per_call'], 1)} |")
    if result.get("peak_memory"):
        lines += ["", f"## Peak memory of one fused call — {where}", "",
                  "| loss | elements | peak MB | outputs MB | peak / outputs |", "|---|--:|--:|--:|--:|"]
        for name, d in result["peak_memory"].items():
            lines.append(f"| {name} | {d['elements']} | {_mb(d['peak_bytes'])} | "
                         f"{_mb(d['output_bytes'])} | {_f(d['peak_over_outputs'])} |")
    lines += ["", f"## How each peer was called — {where}", "",
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
    return lines


def write(result: dict, out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "results.json", "md": out / "results.md"}
    paths["json"].write_text(json.dumps(result, indent=1, allow_nan=True) + "\n")
    paths["md"].write_text(markdown(result))
    paths.update(plots.write(result, out))
    return paths
