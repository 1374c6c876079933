"""Smoke test of the benchmark: ``python -m fastloss.bench --quick`` runs, and writes a result for
every registered loss, every training-step shape and every class count of the row sweep.
Benchmarks are not tests: no time is asserted, only that every time is a finite positive number,
that no peer crashed and that every table names its machine. torch.compile costs seconds per
compiled shape, so the full quick run leaves it out and a second run of one row and the training
step covers it."""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys

import pytest

from fastloss._registry import REGISTRY

TIMEOUT_S = 480  # --quick takes ~1 min on a 2-core machine; the limit only catches a hang


def _require_installed_bench():
    if importlib.util.find_spec("fastloss.bench") is None:
        pytest.fail("the installed fastloss has no fastloss.bench subpackage: reinstall the "
                    "package (`pip install .`) so that python/fastloss/bench is installed")


def _positive(v) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v) and v > 0


def _run_quick(tmp_path, *args) -> tuple[dict, str]:
    _require_installed_bench()
    out = tmp_path / "results"
    proc = subprocess.run([sys.executable, "-m", "fastloss.bench", "--quick", "--out", str(out),
                           *args],
                          cwd=tmp_path, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return json.loads((out / "results.json").read_text()), (out / "results.md").read_text()


def _assert_tables_name_the_machine(result: dict, md: str):
    """Every table heading carries the CPU, its family/model numbers, the ISA and 'quick'."""
    headings = [line for line in md.splitlines() if line.startswith("## ")]
    assert headings
    m = result["machine"]
    for h in headings:
        assert m["cpu"] in h and result["build_info"]["isa"] in h and "quick" in h, h
        if m.get("cpu_family"):
            assert f"family {m['cpu_family']}" in h, h


def _has_framework(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def test_quick_bench_writes_every_row(tmp_path):
    result, md = _run_quick(tmp_path, "--no-compile")
    assert result["quick"] is True
    assert result["machine"]["cores"] >= 1
    assert set(result["build_info"]) >= {"version", "isa", "num_threads"}

    rows = {r["row"]: r for r in result["rows"]}
    missing = sorted(set(REGISTRY) - set(rows))
    assert not missing, f"no bench row for {missing}"
    for name, r in rows.items():
        assert r["loss"] in REGISTRY, name
        for key in ("forward", "fused"):
            assert _positive(r["bytes"][key]), (name, key, r["bytes"])
        for section in ("fastloss", "roofline"):
            for key in ("forward_ms", "fused_ms"):
                assert _positive(r[section][key]), (name, section, key, r[section])
        for peer, d in r["peers"].items():
            assert "error" not in d, f"{name}: peer {peer} failed: {d['error']}"
            if "how" in d:
                assert _positive(d["forward_ms"]) and _positive(d["fused_ms"]), (name, peer, d)
        if "speedup" in r["threads"]:
            assert _positive(r["threads"]["fused_ms_1"]), (name, r["threads"])
    for name, d in (result["small_calls"] or {}).items():
        assert _positive(d["us_per_call"]), (name, d)
    assert "fastloss.mse" in result["small_calls"]
    # The markdown table has a line per row.
    for name in rows:
        assert f"| {name} |" in md, name
    _assert_tables_name_the_machine(result, md)
    _check_steps(result, compiled=False)
    _check_sweep(result)


def _check_steps(result: dict, compiled: bool):
    from fastloss.bench.steps import STEP_SHAPES_QUICK

    shapes = result["steps"]["shapes"]
    assert [(s["n"], s["d"], s["c"]) for s in shapes] == [tuple(s) for s in STEP_SHAPES_QUICK]
    expected = set()
    if _has_framework("torch"):
        expected |= {"torch", "fastloss", "fastloss, inplace_backward"}
        if compiled:
            expected |= {"torch.compile", "fastloss, torch.compile"}
    if _has_framework("jax"):
        expected |= {"jax", "jax fastloss"}
    for s in shapes:
        assert not s["errors"], s["errors"]
        assert set(s["ms"]) == expected, (s["label"], sorted(s["ms"]))
        assert all(_positive(v) for v in s["ms"].values()), s["ms"]
        assert all(_positive(v) for v in s["ratios"].values()), s["ratios"]
        assert ("torch.compile / fastloss, torch.compile" in s["ratios"]) == (
            compiled and _has_framework("torch"))


def _check_sweep(result: dict):
    from fastloss.bench.sweep import SWEEP_CLASSES, TOTAL_LOGITS_QUICK

    rows = result["sweep"]["rows"]
    assert [r["c"] for r in rows] == list(SWEEP_CLASSES)
    for r in rows:
        assert r["n"] == max(1, TOTAL_LOGITS_QUICK // r["c"]) and not r["errors"], r
        assert _positive(r["roofline_gbps"]), r
        assert "fastloss" in r["ns_per_logit"] and "fastloss" not in r["ratios"], r
        for key in ("ns_per_logit", "fraction", "ratios"):
            assert all(_positive(v) for v in r[key].values()), (key, r[key])
        if _has_framework("torch"):
            assert "torch" in r["ratios"] and "torch.compile" not in r["ratios"], r


def test_quick_bench_with_torch_compile(tmp_path):
    """torch.compile as a peer: one row of the loss table and the training step."""
    if not _has_framework("torch"):
        pytest.skip("torch is not installed")
    result, md = _run_quick(tmp_path, "--only", "mse", "--sections", "losses", "steps")
    assert result["compile"] is True and result["sweep"] is None
    peer = result["rows"][0]["peers"]["torch.compile"]
    assert "error" not in peer, peer
    assert _positive(peer["fused_ms"]) and _positive(peer["first_call_s"]), peer
    assert "forward_ms" not in peer  # only the fused pass is compiled
    _check_steps(result, compiled=True)
    _assert_tables_name_the_machine(result, md)


def test_machine_label_says_quick():
    """Plot titles and table headings end with this label; a --quick run's says so."""
    from fastloss.bench.machine import label

    run = {"machine": {"cpu": "AMD EPYC", "cpu_family": "25", "cpu_model": "17"},
           "build_info": {"isa": "avx2"}, "threads": 2, "quick": True}
    assert label(run).startswith("AMD EPYC (family 25, model 17) · fastloss avx2 · 2 threads")
    assert "quick" in label(run)
    assert "quick" not in label({**run, "quick": False})


def test_unknown_row_is_a_usage_error(tmp_path):
    _require_installed_bench()
    proc = subprocess.run([sys.executable, "-m", "fastloss.bench", "--only", "no_such_loss",
                           "--out", str(tmp_path)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "no_such_loss" in proc.stderr
