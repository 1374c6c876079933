"""Build and runtime facts, and the thread count."""

from __future__ import annotations

from . import _core, cuda

if _core.isa_override_problem():  # say so once, at import, rather than run another ISA silently
    import warnings

    warnings.warn(f"fastloss: {_core.isa_override_problem()}; using {_core.active_isa()}",
                  RuntimeWarning, stacklevel=2)

# More kernel threads than this is a mistake, not a machine (the pool starts them all at once).
_MAX_THREADS = 4096


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
        "cuda": cuda.is_built(),
    }


def get_num_threads() -> int:
    """Threads the kernels use for large inputs (default: OMP_NUM_THREADS or the usable cores)."""
    return _core.get_num_threads()


def set_num_threads(n: int) -> None:
    """Set the number of kernel threads (n >= 1). Results are bitwise identical for any n."""
    from ._validate import fail, integer

    n = integer("set_num_threads", "n", n)
    if not 1 <= n <= _MAX_THREADS:
        fail("set_num_threads", f"n must be >= 1 and <= {_MAX_THREADS}, got {n}")
    _core.set_num_threads(n)


def set_output_cache_limit(nbytes: int) -> None:
    """Keep at most `nbytes` of memory from dropped large outputs (gradients, unreduced losses
    of 1 MiB or more) for reuse by later calls; 0 turns the cache off. The default is 2 GiB
    (environment variable FASTLOSS_OUTPUT_CACHE_MB). A reused block costs no page faults: a
    memory-bound fused call into fresh memory spends about a third of its time on them."""
    from ._validate import fail, integer

    nbytes = integer("set_output_cache_limit", "nbytes", nbytes)
    if not 0 <= nbytes < 2**64:
        fail("set_output_cache_limit", f"nbytes must be >= 0 and < 2**64, got {nbytes}")
    _core.set_output_cache_limit(nbytes)


def empty_output_cache() -> None:
    """Return the memory of the cached idle output blocks to the system now."""
    _core.release_output_cache()
