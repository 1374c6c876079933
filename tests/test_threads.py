"""Determinism across thread counts, and thread safety.

Work is split into blocks fixed by the problem size and partial sums are combined in a fixed
order (``cpu/parallel.h``), so every value and gradient must be bitwise identical for any
``set_num_threads(n)``. The inputs are above ``kParallelMinElements`` (65536) so that the pool is
really used: 300_001 elements for pointwise losses (ten blocks of kElementwiseBlock, the last one
short), 2000 x 257 logits for row losses.
"""

import concurrent.futures
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import fastloss
from helpers import POINTWISE, REGISTRY, ROWS, assert_bitwise, make_inputs, rng_for, variant_id

THREAD_COUNTS = (1, 2, 3, 8)
POINT_SHAPE = (300_001,)
POINT_SHAPE_2D = (3, 100_003)
ROW_SHAPE = (2000, 257)
DTYPES = (np.float32, np.float64)


def _cases():
    out = []
    for name in POINTWISE + ROWS:
        for v in REGISTRY[name].variants:
            out.append(pytest.param(name, v, id=f"{name}[{variant_id(v)}]"))
    return out


def _inputs(name, variant, dtype, weighted, shape=None):
    spec = REGISTRY[name]
    if shape is None:
        shape = POINT_SHAPE if spec.kind == "pointwise" else ROW_SHAPE
    rng = rng_for("threads", name, variant_id(variant), np.dtype(dtype).name, weighted, shape)
    args, kwargs = make_inputs(spec, variant, rng, shape, dtype)
    loss_shape = shape if spec.kind == "pointwise" else shape[:-1]
    sw = rng.uniform(0.0, 2.0, loss_shape).astype(dtype) if weighted else None
    g = rng.uniform(-1.0, 1.0, loss_shape).astype(dtype)
    return args, kwargs, sw, g


def _everything(name, args, kwargs, sw, g):
    """Values of the plain call and of value_and_grad, and gradients, for every reduction."""
    fn = REGISTRY[name].fn
    vg = fastloss.value_and_grad(fn)
    out = {}
    for reduction in ("mean", "sum", "none"):
        out[f"plain {reduction}"] = fn(*args, reduction=reduction, sample_weight=sw, **kwargs)
        up = g if reduction == "none" else 0.37
        value, grad = vg(*args, reduction=reduction, sample_weight=sw, grad_output=up, **kwargs)
        out[f"value {reduction}"] = value
        out[f"grad {reduction}"] = grad
    return out


_RESIZE_SCRIPT = textwrap.dedent("""
    import time
    import numpy as np
    import fastloss
    x = np.linspace(-1.0, 1.0, 300_001)
    y = np.zeros_like(x)
    expected = fastloss.mse(x, y)
    for n in (2, 3, 8, 1, 4, 2):
        fastloss.set_num_threads(n)
        time.sleep(0.05)
        got = fastloss.mse(x, y)
        assert got == expected, (n, got, expected)
        time.sleep(0.05)
    print("ok")
""")


def _resize_in_child():
    """(ok, message): resize the pool between threaded calls in a child process."""
    env = dict(os.environ, OMP_NUM_THREADS="2")
    try:
        proc = subprocess.run([sys.executable, "-c", _RESIZE_SCRIPT], capture_output=True,
                              text=True, timeout=120, env=env)
    except subprocess.TimeoutExpired:
        return False, "the child hung (timeout after 120 s)"
    if proc.returncode == 0 and proc.stdout.strip() == "ok":
        return True, ""
    return False, (f"the child exited with {proc.returncode} (-11: segfault); "
                   f"stderr tail: {proc.stderr[-600:]}")


@pytest.fixture(scope="module")
def resize_check():
    return _resize_in_child()


@pytest.fixture
def threads(restore_threads, resize_check):
    """fastloss, with the thread count restored afterwards; fails (rather than crashing the whole
    test session) when resizing the pool is known to crash in this build."""
    ok, message = resize_check
    if not ok:
        pytest.fail("set_num_threads crashes or hangs in this build (see "
                    "test_resizing_the_pool_after_a_threaded_call_is_safe), so this in-process "
                    f"thread sweep is not run: {message}")
    return restore_threads


def test_resizing_the_pool_after_a_threaded_call_is_safe(resize_check):
    """set_num_threads after the pool has run a call must not crash or hang (run in a child
    process so that a crash is reported as this test's failure). The pauses let the new workers
    wake before the next call: a worker that took the last call's generation for a new one
    would run that finished call's (null) work function."""
    ok, message = resize_check
    assert ok, message


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name,variant", _cases())
def test_bitwise_identical_for_any_thread_count(threads, name, variant, dtype, weighted):
    args, kwargs, sw, g = _inputs(name, variant, dtype, weighted)
    results = {}
    for n in THREAD_COUNTS:
        fastloss.set_num_threads(n)
        assert fastloss.get_num_threads() == n
        results[n] = _everything(name, args, kwargs, sw, g)
    for n in THREAD_COUNTS[1:]:
        for key, expected in results[THREAD_COUNTS[0]].items():
            assert_bitwise(results[n][key], expected, what=f"{key} with {n} threads vs 1")


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name", POINTWISE)
def test_bitwise_identical_for_any_thread_count_nd_broadcast(threads, name, dtype):
    # An n-d input with a broadcast (last-axis) weight: blocks cross row boundaries.
    spec = REGISTRY[name]
    rng = rng_for("threads-nd", name, np.dtype(dtype).name)
    args, kwargs = make_inputs(spec, spec.variants[0], rng, POINT_SHAPE_2D, dtype)
    sw = rng.uniform(0.5, 2.0, POINT_SHAPE_2D[-1:]).astype(dtype)
    g = rng.uniform(-1.0, 1.0, POINT_SHAPE_2D).astype(dtype)
    results = {}
    for n in THREAD_COUNTS:
        fastloss.set_num_threads(n)
        results[n] = _everything(name, args, kwargs, sw, g)
    for n in THREAD_COUNTS[1:]:
        for key, expected in results[1].items():
            assert_bitwise(results[n][key], expected, what=f"{key} with {n} threads vs 1")


def test_thread_count_is_set_and_restored(threads):
    before = fastloss.get_num_threads()
    assert before >= 1
    fastloss.set_num_threads(3)
    assert fastloss.get_num_threads() == 3
    assert fastloss.build_info()["num_threads"] == 3
    with pytest.raises(ValueError, match=r"\[fastloss.set_num_threads\]"):
        fastloss.set_num_threads(0)
    assert fastloss.get_num_threads() == 3


@pytest.mark.parametrize("pool_threads", [1, 2])
def test_concurrent_python_threads_match_serial_results(threads, pool_threads):
    """Several Python threads call the kernels at once (the GIL is released in the binding and
    the pool serves one call at a time): each result equals the serial one, bit for bit."""
    fastloss.set_num_threads(pool_threads)
    jobs = []
    for name in POINTWISE + ROWS:
        spec = REGISTRY[name]
        variant = spec.variants[-1]
        shape = (70_001,) if spec.kind == "pointwise" else (300, 257)
        for dtype in DTYPES:
            args, kwargs, sw, g = _inputs(name, variant, dtype, True, shape=shape)
            jobs.append((name, args, kwargs, sw, g))
    serial = [_everything(*job) for job in jobs]

    barrier = threading.Barrier(4)

    def work(worker):
        barrier.wait()
        out = []
        for repeat in range(2):
            order = range(len(jobs)) if (worker + repeat) % 2 == 0 else reversed(range(len(jobs)))
            for i in order:
                out.append((i, _everything(*jobs[i])))
        return out

    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(work, w) for w in range(4)]
        results = [f.result(timeout=300) for f in futures]
    for worker_results in results:
        assert len(worker_results) == 2 * len(jobs)
        for i, got in worker_results:
            for key, expected in serial[i].items():
                assert_bitwise(got[key], expected, what=f"{jobs[i][0]} {key} (concurrent)")
