"""Smoke test of the benchmark: ``python -m fastloss.bench --quick`` runs, and writes a result for
every registered loss. Benchmarks are not tests: no time is asserted, only that every time is a
finite positive number and that no peer crashed."""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys

import pytest

from fastloss._registry import REGISTRY

TIMEOUT_S = 240  # --quick takes ~30 s on a 2-core machine; the limit only catches a hang


def _require_installed_bench():
    if importlib.util.find_spec("fastloss.bench") is None:
        pytest.fail("the installed fastloss has no fastloss.bench subpackage: reinstall the "
                    "package (`pip install .`) so that python/fastloss/bench is installed")


def _positive(v) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v) and v > 0


def test_quick_bench_writes_every_row(tmp_path):
    _require_installed_bench()
    out = tmp_path / "results"
    proc = subprocess.run([sys.executable, "-m", "fastloss.bench", "--quick", "--out", str(out)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert (out / "results.md").is_file()
    result = json.loads((out / "results.json").read_text())
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
    md = (out / "results.md").read_text()
    for name in rows:
        assert f"| {name} |" in md, name


def test_unknown_row_is_a_usage_error(tmp_path):
    _require_installed_bench()
    proc = subprocess.run([sys.executable, "-m", "fastloss.bench", "--only", "no_such_loss",
                           "--out", str(tmp_path)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "no_such_loss" in proc.stderr
