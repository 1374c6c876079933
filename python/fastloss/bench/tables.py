"""The markdown tables of the training-step and row-sweep sections (report.py writes the rest)."""

from __future__ import annotations

import math

# Columns of the step tables, in this order; a variant absent from a run is left out.
STEP_VARIANTS = ("torch", "torch.compile", "fastloss", "fastloss, inplace_backward",
                 "fastloss, torch.compile", "jax", "jax fastloss")
SWEEP_IMPLS = ("fastloss", "torch", "torch.compile", "jax")


def fmt(v, digits=2, suffix=""):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    if abs(v) >= 100:
        return f"{v:.0f}{suffix}"
    return f"{v:.{digits}f}{suffix}"


def _present(rows, key, names):
    return [n for n in names if any(n in r[key] for r in rows)]


def steps(section: dict | None, where: str) -> list[str]:
    if not section or not section["shapes"]:
        return []
    shapes = section["shapes"]
    variants = _present(shapes, "ms", STEP_VARIANTS)
    pairs = [f"{peer} / {ours}" for ours, peer in section["pairs"]
             if any(f"{peer} / {ours}" in s["ratios"] for s in shapes)]
    lines = [
        "", f"## Training step: linear layer → cross-entropy → backward → SGD — {where}", "",
        "Median ms per step (N rows × D features → C classes; the whole step, framework in and "
        "out; bench/METHOD.md). First calls (compilation) are not counted; their seconds are in "
        "the last table.", "",
        "| N×D → C | " + " | ".join(f"{v} ms" for v in variants) + " |",
        "|---|" + "--:|" * len(variants)]
    for s in shapes:
        lines.append(f"| {s['label']} | " + " | ".join(fmt(s["ms"].get(v)) for v in variants)
                     + " |")
    if pairs:
        lines += ["", f"Peer time / fastloss time per step (above 1: fastloss is faster) — {where}",
                  "", "| N×D → C | " + " | ".join(pairs) + " |", "|---|" + "--:|" * len(pairs)]
        for s in shapes:
            lines.append(f"| {s['label']} | "
                         + " | ".join(fmt(s["ratios"].get(p), 2, "×") for p in pairs) + " |")
    firsts = _present(shapes, "first_call_s", [v for v in variants if "compile" in v or "jax" in v])
    if firsts:
        lines += ["", f"First call (compilation) in seconds — {where}", "",
                  "| N×D → C | " + " | ".join(firsts) + " |", "|---|" + "--:|" * len(firsts)]
        for s in shapes:
            lines.append(f"| {s['label']} | "
                         + " | ".join(fmt(s["first_call_s"].get(v), 1) for v in firsts) + " |")
    problems = [(s["label"], k, v) for s in shapes
                for k, v in {**s.get("errors", {}), **s.get("skipped", {})}.items()]
    lines += [f"* {lab}: {k}: {v}" for lab, k, v in problems]
    lines += ["", "| variant | step |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in section["how"].items()]
    return lines


def sweep(section: dict | None, where: str) -> list[str]:
    if not section or not section["rows"]:
        return []
    rows = section["rows"]
    impls = _present(rows, "ns_per_logit", SWEEP_IMPLS)
    peers = [p for p in impls if p != "fastloss"]
    total = section["total_logits"]
    lines = [
        "", f"## Row sweep: cross_entropy forward+backward, {total} logits as N × C — {where}", "",
        "ns per logit (median); fraction = (counted bytes / time) / roofline GB/s, the roofline "
        "measured on the same logits in the same rounds; peer × = peer time / fastloss time.",
        "",
        "| C | N | " + " | ".join(f"{p} ns/logit" for p in impls) + " | roofline GB/s | "
        + " | ".join(f"{p} fraction" for p in impls) + " | "
        + " | ".join(f"{p} ×" for p in peers) + " |",
        "|--:|--:|" + "--:|" * (2 * len(impls) + 1 + len(peers))]
    for r in rows:
        lines.append(
            f"| {r['c']} | {r['n']} | "
            + " | ".join(fmt(r["ns_per_logit"].get(p), 3) for p in impls)
            + f" | {fmt(r['roofline_gbps'], 1)} | "
            + " | ".join(fmt(r["fraction"].get(p)) for p in impls) + " | "
            + " | ".join(fmt(r["ratios"].get(p), 1, "×") for p in peers) + " |")
    lines += [f"* C={r['c']}: {k}: {v}" for r in rows for k, v in r.get("errors", {}).items()]
    return lines
