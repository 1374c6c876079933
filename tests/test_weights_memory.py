"""Weights are read in place: a call allocates nothing in proportion to sample_weight, pos_weight
or class weights (README "Memory"), and the mean's denominator does not depend on their memory
layout.

The check (finite, >= 0) and the sum of the weights run natively over the view
(cpp/src/weight_scan.h): broadcast dimensions are read once, and the sum runs in the logical C
order. Before, a broadcast sample_weight was copied whole (np.ascontiguousarray: 24 GiB for the
view below) and every check built boolean temporaries of the weights' size.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

import fastloss

N = 1 << 20


def _peak_traced_bytes(call) -> int:
    """The peak of the memory NumPy and Python allocate during `call()` (NumPy reports its
    array data to tracemalloc)."""
    call()  # warm: the output cache, lazily imported modules
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _weights():
    return np.random.default_rng(0).random(N) + 0.5


@pytest.mark.parametrize("case", ["sample_weight", "sample_weight_strided", "pos_weight",
                                  "sample_weight_rows", "class_weight"])
def test_weights_allocate_nothing_of_their_size(case):
    w = _weights()
    x = np.zeros(N)
    if case == "sample_weight":
        call = lambda: fastloss.mse(x, x, sample_weight=w)
    elif case == "sample_weight_strided":
        wide = np.repeat(w, 2)[::2]  # strided: was copied by np.ascontiguousarray
        call = lambda: fastloss.mse(x, x, sample_weight=wide)
    elif case == "pos_weight":
        call = lambda: fastloss.binary_cross_entropy_with_logits(x, x, pos_weight=w)
    elif case == "sample_weight_rows":
        logits = np.zeros((N, 2))
        labels = np.zeros(N, np.int64)
        call = lambda: fastloss.cross_entropy(logits, labels, sample_weight=w)
    else:
        logits = np.zeros((2, N))
        labels = np.zeros(2, np.int64)
        call = lambda: fastloss.cross_entropy(logits, labels, class_weight=w)
    # A boolean temporary of the weights' size would be N bytes; a copy 8 N.
    assert _peak_traced_bytes(call) < N // 16


@pytest.mark.slow
def test_a_huge_broadcast_weight_is_summed_over_its_distinct_elements():
    """(3, 2^31 + 1) float32 copies of one weight (24 GiB if materialised) with broadcast
    predictions: the call must work under an address-space limit of 2 GiB above what the
    process already maps."""
    code = """
import resource
import numpy as np
import fastloss

shape = (3, 2**31 + 1)
w = np.broadcast_to(np.float32(0.5), shape)
pred = np.broadcast_to(np.float32(0.25), shape)
target = np.broadcast_to(np.float32(0.0), shape)
fastloss.mse(pred[:, :8], target[:, :8], sample_weight=w[:, :8])  # start the thread pool
with open("/proc/self/statm") as f:
    mapped = int(f.read().split()[0]) * resource.getpagesize()
limit = mapped + (2 << 30)
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
print(repr(float(fastloss.mse(pred, target, sample_weight=w))))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=600, env={**os.environ, "OMP_NUM_THREADS": "2"})
    assert result.returncode == 0, result.stderr[-3000:]
    # 0.25^2: sum(w l) / sum(w), exact only if the denominator counts every broadcast copy
    assert float(result.stdout) == 0.0625


def _layouts(w: np.ndarray) -> dict:
    return {"C": np.ascontiguousarray(w), "F": np.asfortranarray(w),
            "reversed view": np.ascontiguousarray(w[::-1, ::-1])[::-1, ::-1],
            "strided view": np.repeat(w, 3, axis=1)[:, 1::3]}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_denominator_does_not_depend_on_the_weights_layout(dtype):
    rng = np.random.default_rng(1)
    w = (rng.random((257, 1031)) * rng.choice([1e-3, 1.0, 1e3], (257, 1031))).astype(dtype)
    x = rng.standard_normal(w.shape).astype(dtype)
    y = np.zeros_like(x)
    totals = {name: fastloss._core.scan_weights("test", v)[0] for name, v in _layouts(w).items()}
    assert len(set(totals.values())) == 1, totals
    means = {name: fastloss.mse(x, y, sample_weight=v) for name, v in _layouts(w).items()}
    assert len({m.tobytes() for m in means.values()}) == 1, means


def test_the_denominator_does_not_depend_on_the_thread_count():
    w = _weights().reshape(1024, -1)
    totals = set()
    before = fastloss.get_num_threads()
    try:
        for threads in (1, 2, 3):
            fastloss.set_num_threads(threads)
            totals.add(fastloss._core.scan_weights("test", np.asfortranarray(w))[0])
    finally:
        fastloss.set_num_threads(before)
    assert len(totals) == 1


@pytest.mark.parametrize("bad, shown", [(-1.0, "-1.0"), (np.nan, "nan"), (np.inf, "inf")])
def test_a_bad_weight_in_a_large_strided_view_is_found(bad, shown):
    w = np.ones(3 * N)
    w[3 * N - 3] = bad  # the last element of the strided view
    view = w[::3]
    with pytest.raises(ValueError, match=rf"^\[fastloss.mse\] sample_weight must be finite "
                                         rf"and >= 0, got {shown}$"):
        fastloss.mse(np.zeros(N), np.zeros(N), sample_weight=view)


def test_integer_weights_are_checked_and_summed():
    x = np.arange(6.0)
    w = np.array([1, 2, 0, 3, 1, 1], np.uint8)
    assert fastloss.mse(x, np.zeros(6), sample_weight=w) == \
        fastloss.mse(x, np.zeros(6), sample_weight=w.astype(np.float64))
    with pytest.raises(ValueError, match=r"sample_weight must be finite and >= 0, got -3$"):
        fastloss.mse(x, np.zeros(6), sample_weight=np.array([1, 1, -3, 1, 1, 1], np.int16))
