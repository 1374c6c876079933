"""The benchmark's command line (``python -m fastloss.bench --help``)."""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from pathlib import Path

import fastloss

from . import report, steps, sweep
from .cases import all_cases
from .machine import machine
from .peers import versions
from .runner import Config, peak_memory, run_case, small_calls
from .timing import Progress

# "losses": one row per registered loss (+ small calls and peak memory); "steps": the training
# step; "sweep": cross_entropy over class counts at a fixed number of logits.
SECTIONS = ("losses", "steps", "sweep")


def parse(argv):
    p = argparse.ArgumentParser(
        prog="python -m fastloss.bench",
        description="Time every fastloss loss (forward, fused forward+backward) against the "
                    "roofline and against NumPy, PyTorch (eager and torch.compile) and JAX, a "
                    "training step (linear layer + cross-entropy + SGD) and a row-count sweep; "
                    "write results.json, results.md and plots.")
    p.add_argument("--quick", action="store_true",
                   help="tiny sizes and 2 repeats (the CI smoke test; numbers mean nothing)")
    p.add_argument("--out", type=Path, default=Path("bench-results"),
                   help="output folder (default ./bench-results)")
    p.add_argument("--only", nargs="+", metavar="NAME",
                   help="only these rows (a registry name selects all its rows)")
    p.add_argument("--repeats", type=int, help="timed runs per measurement (default 7; quick 2)")
    p.add_argument("--threads", type=int,
                   help="kernel threads (default: fastloss.get_num_threads()); scaling is 1 vs this")
    p.add_argument("--no-peers", action="store_true", help="skip NumPy, PyTorch and JAX")
    p.add_argument("--no-compile", action="store_true",
                   help="skip torch.compile (each compiled shape costs seconds of compilation)")
    p.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS),
                   help="what to run (default: all); --only selects rows of 'losses'")
    a = p.parse_args(argv)
    if a.repeats is not None and a.repeats < 1:
        p.error("--repeats must be >= 1")
    if a.threads is not None and a.threads < 1:
        p.error("--threads must be >= 1")
    return p, a


def main(argv=None) -> int:
    parser, a = parse(sys.argv[1:] if argv is None else argv)
    cases = all_cases(a.quick)
    if a.only:
        known = {c.row for c in cases} | {c.loss for c in cases}
        unknown = sorted(set(a.only) - known)
        if unknown:
            parser.error(f"unknown row(s) {unknown}; rows are: {sorted(known)}")
        cases = [c for c in cases if c.row in a.only or c.loss in a.only]

    default_threads = fastloss.get_num_threads()
    cfg = Config(quick=a.quick, repeats=a.repeats or (2 if a.quick else 7),
                 threads=a.threads or default_threads,
                 peers=() if a.no_peers else ("numpy", "torch", "jax"), compile=not a.no_compile)
    if cfg.threads != default_threads:
        fastloss.set_num_threads(cfg.threads)
    torch_threads = None
    if "torch" in cfg.peers:
        try:
            import torch

            torch.set_num_threads(cfg.threads)  # the same cores as fastloss
            torch_threads = torch.get_num_threads()
        except ImportError:
            pass

    result = {
        "schema": 1,
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "argv": sys.argv[1:] if argv is None else list(argv),
        "quick": a.quick, "repeats": cfg.repeats, "threads": cfg.threads,
        "torch_threads": torch_threads,
        "machine": machine(), "build_info": fastloss.build_info(), "versions": versions(),
        "compile": cfg.compile, "sections": list(a.sections), "section_s": {},
        "rows": [], "small_calls": None, "peak_memory": None, "steps": None, "sweep": None,
    }
    if "losses" not in a.sections:
        cases = []
    plan = [(case.row, lambda i, case=case: result["rows"].append(run_case(case, cfg, progress, i)))
            for case in cases]
    if "losses" in a.sections:
        plan += [("small calls", lambda i: result.update(small_calls=small_calls(cfg, progress, i))),
                 ("peak memory", lambda i: result.update(peak_memory=peak_memory(cfg, progress, i)))]
    if "steps" in a.sections:
        plan.append(("steps", lambda i: result.update(steps=steps.run(cfg, progress, i))))
    if "sweep" in a.sections:
        plan.append(("sweep", lambda i: result.update(sweep=sweep.run(cfg, progress, i))))
    progress = Progress(len(plan))
    try:
        for i, (what, run) in enumerate(plan, 1):
            section = what if what in SECTIONS else "losses"
            t0 = time.perf_counter()
            run(i)
            spent = result["section_s"].get(section, 0.0) + time.perf_counter() - t0
            result["section_s"][section] = round(spent, 1)
    finally:
        if fastloss.get_num_threads() != default_threads:
            fastloss.set_num_threads(default_threads)
    progress.done()

    paths = report.write(result, a.out)
    sys.stdout.write(report.markdown(result))
    sys.stderr.write("wrote " + ", ".join(str(p) for p in paths.values()) + "\n")
    return 0
