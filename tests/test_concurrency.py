"""Concurrency and fault cases, each in a subprocess with a timeout so that a crash or a hang is
this test's failure rather than the end of the suite:

* eight Python threads calling different losses while another thread keeps resizing the pool:
  every result is bitwise the serial one (results do not depend on the thread count);
* another thread writing the labels or the sample weights during the calls: no crash, and the
  loss and the gradient are each the old data's answer or the new data's (one element changes,
  with one store), or the call raises the clear error of the invalid data;
* a fork while the pool is busy: the child's own calls run (no deadlock on a pool whose
  threads the fork did not copy) and give the same bits.

(A pool that cannot grow under a resource limit is tests/test_races.py's.)
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

TIMEOUT_S = 240


def _run(code: str) -> str:
    try:
        result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                                capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"hung for {TIMEOUT_S} s; stderr: {(e.stderr or b'')[-2000:]!r}")
    assert result.returncode == 0, (f"exit status {result.returncode} (negative: a signal); "
                                    f"stderr: {result.stderr[-3000:]}")
    return result.stdout


def test_eight_threads_on_different_losses_while_the_pool_is_resized():
    out = _run("""
        import threading, numpy as np, fastloss
        from fastloss._registry import REGISTRY, make_inputs
        names = sorted(REGISTRY)[:8]
        jobs = []
        for i, name in enumerate(names):
            spec = REGISTRY[name]
            shape = (100_003,) if spec.kind == "pointwise" else (400, 257)
            args, kw = make_inputs(spec, spec.variants[-1], np.random.default_rng(i), shape,
                                   np.float32)
            jobs.append((name, args, kw))
        def call(name, args, kw):
            loss, g = fastloss.value_and_grad(REGISTRY[name].fn)(*args, **kw)
            return loss.tobytes() + g.tobytes()
        fastloss.set_num_threads(2)
        serial = [call(*job) for job in jobs]
        stop = threading.Event()
        failures, calls = [], [0] * len(jobs)
        def worker(i):
            while not stop.is_set():
                if call(*jobs[i]) != serial[i]:
                    failures.append(jobs[i][0])
                calls[i] += 1
        def resizer():
            n = 0
            while not stop.is_set():
                fastloss.set_num_threads(1 + n % 4)
                n += 1
            print("resizes", n)
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(jobs))]
        threads.append(threading.Thread(target=resizer))
        for t in threads:
            t.start()
        stop.wait(6.0)
        stop.set()
        for t in threads:
            t.join()
        assert not failures, f"results differ from the serial ones: {sorted(set(failures))}"
        assert min(calls) >= 1, calls
        print("ok", calls)
    """)
    assert "ok" in out


_WRITER = """
    import re, threading, numpy as np, fastloss
    def outcome(call):
        # (loss bytes, gradient bytes), or the error without the numbers it quotes: the message
        # reads the value back after the call, when the writer may have changed it again.
        try:
            loss, g = call()
            return loss.tobytes(), g.tobytes()
        except ValueError as e:
            return re.sub(r"-?[0-9]+", "#", str(e)), None
    def race(call, states, write, rounds=150):
        expected = {}
        for state in states:
            write(state)
            expected[state] = outcome(call)
        stop = threading.Event()
        def writer():
            k = 0
            while not stop.is_set():
                write(states[k % len(states)])
                k += 1
        t = threading.Thread(target=writer)
        t.start()
        seen = set()
        try:
            for _ in range(rounds):
                got = outcome(call)
                # The loss and the gradient together are the old or the new data's answer
                # (each element is read once and used for both), or the new data's clear error.
                match = [s for s, want in expected.items() if want == got]
                assert match, f"neither the old nor the new data's answer: {got!r:.300}"
                seen.update(match)
        finally:
            stop.set()
            t.join()
        print(sorted(map(str, seen)))
"""


@pytest.mark.parametrize("loss, states", [
    ("cross_entropy", (1, 2)),          # both valid
    ("cross_entropy", (1, 99)),         # the new one out of range: its error
    ("multiclass_hinge", (0, 3)),
    ("softmax_focal", (2, -100)),       # ignored
    ("hinge", (1, -1)),
    ("hinge", (1, 5)),                  # not a label: its error
])
def test_a_label_written_during_the_call(loss, states):
    # One label changes (one aligned 8-byte store) while the kernel reads the labels (twice for
    # the row losses: the range check, then the rows).
    _run(_WRITER + f"""
    rng = np.random.default_rng(0)
    n, c = 50_000, 4
    if "{loss}" == "hinge":
        x = rng.standard_normal(n).astype(np.float32)
        lab = rng.choice(np.array([-1, 1]), n)
    else:
        x = rng.standard_normal((n, c)).astype(np.float32)
        lab = rng.integers(0, c, n)
    def write(v):
        lab[n // 2] = v
    call = lambda: fastloss.value_and_grad(fastloss.{loss})(x, lab, reduction="sum")
    race(call, {states!r}, write)
    """)


@pytest.mark.parametrize("reduction", ["sum", "none"])
@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_a_sample_weight_written_during_the_call(loss, reduction):
    _run(_WRITER + f"""
    rng = np.random.default_rng(1)
    n = 80_000
    if "{loss}" == "mse":
        args = (rng.standard_normal(n), rng.standard_normal(n))
    else:
        args = (rng.standard_normal((n // 4, 8)), rng.integers(0, 8, n // 4))
    w = np.ones(args[1].shape[0])
    def write(v):
        w[len(w) // 3] = v
    call = lambda: fastloss.value_and_grad(fastloss.{loss})(*args, sample_weight=w,
                                                          reduction="{reduction}")
    race(call, (1.0, 3.0), write)
    """)


def test_fork_while_the_pool_is_busy():
    out = _run("""
        import os, threading, time, numpy as np, fastloss
        fastloss.set_num_threads(2)
        x = np.linspace(-3.0, 3.0, 2_000_003)
        y = np.zeros_like(x)
        want = fastloss.value_and_grad(fastloss.log_cosh)(x, y)[0].tobytes()
        stop = threading.Event()
        def busy():
            while not stop.is_set():
                fastloss.value_and_grad(fastloss.log_cosh)(x, y)
        t = threading.Thread(target=busy)
        t.start()
        time.sleep(0.2)
        statuses = []
        for _ in range(3):
            pid = os.fork()
            if pid == 0:  # the child: its own calls, on whatever pool it inherited
                ok = all(fastloss.value_and_grad(fastloss.log_cosh)(x, y)[0].tobytes() == want
                         for _ in range(3))
                fastloss.set_num_threads(3)
                ok = ok and fastloss.log_cosh(x, y).tobytes() == want
                os._exit(0 if ok else 3)
            deadline = time.monotonic() + 60
            while True:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    statuses.append(os.waitstatus_to_exitcode(status))
                    break
                if time.monotonic() > deadline:
                    os.kill(pid, 9)
                    os.waitpid(pid, 0)
                    statuses.append("hung")
                    break
                time.sleep(0.01)
            time.sleep(0.05)
        stop.set()
        t.join()
        assert fastloss.value_and_grad(fastloss.log_cosh)(x, y)[0].tobytes() == want
        print("children", statuses)
        assert statuses == [0, 0, 0], statuses
    """)
    assert "children [0, 0, 0]" in out
