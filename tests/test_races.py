"""Crash and hang cases, each in a subprocess with a timeout so that the suite survives them:
labels changed by another thread during a call, and a thread pool that cannot grow."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

TIMEOUT_S = 120


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=TIMEOUT_S)


@pytest.mark.parametrize("loss", ["cross_entropy", "softmax_focal", "multiclass_hinge"])
def test_labels_changed_by_another_thread_never_crash(loss):
    # The labels alternate between valid and out of range while the kernel runs: every call
    # either computes (with the old or the new labels) or raises the label error.
    result = _run(f"""
        import threading, numpy as np, fastloss
        n, c = 200_000, 4
        x = np.random.default_rng(0).standard_normal((n, c)).astype(np.float32)
        lab = np.zeros(n, np.int64)
        stop = False
        def flip():
            while not stop:
                lab[:] = 0
                lab[:] = c + 1000
        t = threading.Thread(target=flip)
        t.start()
        outcomes = set()
        try:
            for _ in range(60):
                try:
                    fastloss.value_and_grad(fastloss.{loss})(x, lab)
                    outcomes.add("ok")
                except ValueError as e:
                    assert "out of range" in str(e), e
                    outcomes.add("error")
        finally:
            stop = True
            t.join()
        print(sorted(outcomes))
    """)
    assert result.returncode == 0, result.stderr[-2000:]


def test_a_pool_that_cannot_grow_keeps_working():
    result = _run("""
        import resource, numpy as np, fastloss
        fastloss.set_num_threads(2)
        x = np.ones(1 << 20, np.float32)
        fastloss.mse(x, x)  # the pool exists, with its 2 threads
        # Room for the process as it is, not for 4000 thread stacks.
        with open("/proc/self/statm") as f:
            used = int(f.read().split()[0]) * resource.getpagesize()
        resource.setrlimit(resource.RLIMIT_AS, (used + (256 << 20),) * 2)
        try:
            fastloss.set_num_threads(4000)
        except ValueError as e:
            assert "[fastloss.set_num_threads] cannot start 4000 threads" in str(e), e
        else:
            raise AssertionError("4000 threads started under a 256 MB limit")
        assert fastloss.get_num_threads() == 2, fastloss.get_num_threads()
        print(float(fastloss.mse(x, x * 0)))  # a multi-block call that must not wait forever
    """)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "1.0"
