"""The fastloss benchmark: ``python -m fastloss.bench [--quick] [--out DIR] [--only NAME ...]``.

For every loss in the registry (bench row name == registry name), it times the forward pass and
the fused forward+backward pass, reports effective GB/s from an explicit byte count, the roofline
measured in the same run with the same traffic, and the ratio to NumPy, PyTorch (eager and
torch.compile) and JAX measured in the same run (cases, runner, peers, compiled). Then the
training step users run, in PyTorch and JAX (steps), and cross_entropy over class counts at a
fixed number of logits (sweep). Tables (report, tables) and plots (plots) name the machine
(machine). The method is in ``bench/METHOD.md`` of the source tree. Benchmarks are not
tests: nothing here asserts a time.
"""

from .cli import main

__all__ = ["main"]
