"""Timing: warm-up, then several timed runs, reported as medians; and a progress line on stderr.

Noise on a shared machine comes in bursts. Quantities that are compared with each other (a
kernel and its roofline, 1 and N threads) are timed in *interleaved rounds*: round r times each
of them once, so a burst hits them alike instead of spoiling one of them.
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
from typing import Callable

# A call slower than this needs no warm-up: there is no cache or allocator state worth priming
# for a multi-second call, so its warm-up run is kept as a timed run (saves minutes for the
# NumPy reference on 10^8 logits).
SLOW_CALL_S = 1.0


def _time_once(fn: Callable, setup: Callable | None = None) -> float:
    if setup is not None:
        setup()
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


class _NoGC:
    """Timed runs without the cyclic garbage collector (as timeit does)."""

    def __enter__(self):
        self.was = gc.isenabled()
        gc.collect()
        gc.disable()

    def __exit__(self, *exc):
        if self.was:
            gc.enable()


def rounds(fns: dict[str, Callable], repeats: int, warmup: int = 1,
           budget_s: float | None = None, min_runs: int = 3,
           setup: dict[str, Callable] | None = None) -> dict[str, list[float]]:
    """Times each callable `repeats` times in interleaved rounds, after `warmup` calls of each.
    `setup[name]`, when given, runs untimed before every call of `name` (e.g. set the threads).

    Returns {name: [seconds per run]}. With `budget_s`, stops after the round in which the
    total timed time passes the budget, once every callable has at least min(min_runs, repeats)
    runs. A callable whose warm-up took longer than SLOW_CALL_S keeps that run as a timed run.
    """
    times: dict[str, list[float]] = {k: [] for k in fns}
    setup = setup or {}
    with _NoGC():
        for _ in range(max(warmup, 0)):
            for k, fn in fns.items():
                t = _time_once(fn, setup.get(k))
                if t > SLOW_CALL_S and not times[k]:
                    times[k].append(t)
        spent = sum(sum(v) for v in times.values())
        floor = min(min_runs, repeats)
        while min(len(v) for v in times.values()) < repeats:
            # (checked before each round too: slow warm-ups kept as runs may already suffice)
            if budget_s is not None and spent > budget_s and min(len(v) for v in times.values()) >= floor:
                break
            for k, fn in fns.items():
                if len(times[k]) < repeats:
                    t = _time_once(fn, setup.get(k))
                    times[k].append(t)
                    spent += t
    return times


def measure(fn: Callable, repeats: int, warmup: int = 1, budget_s: float | None = None,
            min_runs: int = 3) -> list[float]:
    return rounds({"fn": fn}, repeats, warmup, budget_s, min_runs)["fn"]


def per_call(fn: Callable, calls: int, samples: int) -> list[float]:
    """Seconds per call of a fast function: `samples` medians-to-be of `calls` back-to-back calls."""
    out = []
    with _NoGC():
        for _ in range(calls):  # warm-up
            fn()
        for _ in range(samples):
            t0 = time.perf_counter()
            for _ in range(calls):
                fn()
            out.append((time.perf_counter() - t0) / calls)
    return out


def median_ms(runs: list[float]) -> float:
    return statistics.median(runs) * 1e3


class Progress:
    """'[ 3/16]  huber  torch  (12.3 s)' on stderr: rewritten in place on a terminal, one line
    per step otherwise (CI logs). No dependency."""

    def __init__(self, total: int, stream=None):
        self.total = total
        self.stream = stream or sys.stderr
        self.start = time.perf_counter()
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._width = 0

    def step(self, index: int, row: str, what: str):
        elapsed = time.perf_counter() - self.start
        line = f"[{index:>2}/{self.total}] {row:<34} {what:<26} ({elapsed:6.1f} s)"
        if self.tty:
            pad = max(self._width - len(line), 0)
            self.stream.write("\r" + line + " " * pad)
            self._width = len(line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def note(self, text: str):
        if self.tty and self._width:
            self.stream.write("\n")
            self._width = 0
        self.stream.write(text + "\n")
        self.stream.flush()

    def done(self):
        elapsed = time.perf_counter() - self.start
        self.note(f"done in {elapsed:.1f} s")
