"""Build and runtime facts, and the thread count."""

from __future__ import annotations

from . import _core


def build_info() -> dict:
    """Version, compiled and selected CPU kernel variants, threads, CUDA.

    >>> import fastloss
    >>> sorted(fastloss.build_info())
    ['cuda', 'isa', 'isa_compiled', 'num_threads', 'version']
    """
    return {
        "version": _core.version,
        "isa_compiled": list(_core.compiled_isas()),
        "isa": _core.active_isa(),
        "num_threads": _core.get_num_threads(),
        "cuda": bool(_core.cuda_built),
    }


def get_num_threads() -> int:
    """Threads the kernels use for large inputs (default: OMP_NUM_THREADS or the usable cores)."""
    return _core.get_num_threads()


def set_num_threads(n: int) -> None:
    """Set the number of kernel threads (n >= 1). Results are bitwise identical for any n."""
    from ._validate import fail, integer

    n = integer("set_num_threads", "n", n)
    if n < 1:
        fail("set_num_threads", f"n must be >= 1, got {n}")
    _core.set_num_threads(n)
