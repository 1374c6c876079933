"""Settings and hyper-parameters out of range get errors naming the function and the value,
never pybind11's "incompatible function arguments" or a silent wrap-around."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import fastloss


@pytest.mark.parametrize("call, match", [
    (lambda: fastloss.set_num_threads(2**40), r"\[fastloss.set_num_threads\] n must be >= 1 and <= 4096"),
    (lambda: fastloss.set_output_cache_limit(2**70), r"\[fastloss.set_output_cache_limit\] nbytes must be"),
    (lambda: fastloss.cross_entropy(np.zeros((2, 3)), np.array([0, 1]), ignore_index=2**63),
     r"\[fastloss.cross_entropy\] ignore_index must be a 64-bit integer"),
    (lambda: fastloss.softmax_focal(np.zeros((2, 3)), np.array([0, 1]), ignore_index=-2**63 - 1),
     r"\[fastloss.softmax_focal\] ignore_index must be a 64-bit integer"),
], ids=["threads", "cache-limit", "ignore-index-high", "ignore-index-low"])
def test_out_of_range_settings(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def _in_subprocess(env: dict, code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **env})


@pytest.mark.parametrize("value", ["-1", "1.5", "2GB", "99999999999999999999"])
def test_a_bad_output_cache_variable_is_an_error(value):
    result = _in_subprocess({"FASTLOSS_OUTPUT_CACHE_MB": value},
                            "import numpy as np, fastloss\n"
                            "x = np.ones(1 << 20)\n"
                            "try:\n"
                            "    fastloss.value_and_grad(fastloss.mse)(x, x)\n"
                            "except ValueError as e:\n"
                            "    print(e)\n")
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"FASTLOSS_OUTPUT_CACHE_MB must be a whole number of MiB" in result.stdout
    assert f"got '{value}'" in result.stdout


def test_the_isa_variable_is_case_insensitive():
    result = _in_subprocess({"FASTLOSS_ISA": "BASELINE"},
                            "import fastloss; print(fastloss.build_info()['isa'])")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "baseline"


def test_an_unknown_isa_warns_and_runs_the_best_variant():
    best = fastloss._core.compiled_isas()
    best = [isa for isa in best if fastloss._core.isa_supported(isa)][-1]
    result = _in_subprocess({"FASTLOSS_ISA": "sse9"},
                            "import fastloss; print(fastloss.build_info()['isa'])")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == best
    assert "RuntimeWarning: fastloss: FASTLOSS_ISA=sse9: not a variant of this build" in result.stderr
