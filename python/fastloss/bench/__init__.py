"""The fastloss benchmark: ``python -m fastloss.bench [--quick] [--out DIR] [--only NAME ...]``.

For every loss in the registry (bench row name == registry name), it times the forward pass and
the fused forward+backward pass, reports effective GB/s from an explicit byte count, the roofline
measured in the same run with the same traffic, and the ratio to NumPy, PyTorch and JAX measured
in the same run. The method is in ``bench/METHOD.md`` of the source tree. Benchmarks are not
tests: nothing here asserts a time.
"""

from .cli import main

__all__ = ["main"]
