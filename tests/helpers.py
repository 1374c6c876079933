"""Shared helpers for the kernel test files (a plain module; ``tests/conftest.py`` puts this
directory on ``sys.path`` so that test files can ``from helpers import ...``).

The accuracy contract lives in the registry (``fastloss._registry.TOLERANCE`` and each
``LossSpec.tol``): ``|kernel - ref| <= rtol * |ref| + atol * max|ref|``, the max taken over the
compared array. :func:`assert_close` implements exactly that and says where it fails; the
checks that are not the kernel contract take a named entry of the same table through
:func:`tolerance`. Below the smallest normal number of the compared dtype no relative bound
holds (subnormals carry fewer bits), so :func:`assert_close` adds that number as an absolute
floor.
"""

from __future__ import annotations

import numpy as np

from fastloss._gradient_buffers import KERNELS
from fastloss._registry import REGISTRY, TOLERANCE, make_inputs

__all__ = [
    "REGISTRY",
    "POINTWISE",
    "ROWS",
    "PAIRS",
    "EMBEDDINGS",
    "assert_close",
    "subnormal_floor",
    "assert_bitwise",
    "assert_same_tensor",
    "tol",
    "tolerance",
    "make_inputs",
    "to_reference",
    "rng_for",
    "variant_id",
]

POINTWISE = sorted(name for name, spec in REGISTRY.items() if spec.kind == "pointwise")
ROWS = sorted(name for name, spec in REGISTRY.items() if spec.kind == "row")
# Losses of two arrays of their own shapes, one pointwise pass each (the GAN discriminator):
# checked against the reference, across threads and by finite differences in tests/test_gan.py.
PAIRS = sorted(name for name, spec in REGISTRY.items() if spec.kind == "pair")
EMBEDDINGS = sorted(name for name, spec in REGISTRY.items() if spec.kind == "embedding")
# The in-batch losses (kernel family "batch": info_nce) take (N, D) arrays only, so the tests
# that draw shapes of any rank draw 2-d ones for them.
BATCH = sorted(name for name in REGISTRY if KERNELS.get(name, {}).get("family") == "batch")


def row_target_kind(name: str) -> str:
    """The target kind of a row loss's kernels (losses.def): "sparse" (one class index per row,
    also for cross_entropy, which takes probabilities too, and for the structured hinge, whose
    costs are an optional keyword), "dense" (a float per class) or "index_list" (class indices
    of the logits' shape, each row ended by -1)."""
    from fastloss._dispatch import KERNELS
    kinds = {k["target"] for k in KERNELS.values() if k["stem"] == name}
    return "sparse" if kinds & {"sparse", "sparse_cost"} else kinds.pop()


def per_class_target_losses() -> set:
    """The row losses whose target has the logits' shape (one entry per class), none per row."""
    return {n for n, s in REGISTRY.items() if s.kind == "row" and row_target_kind(n) != "sparse"}


def tol(name: str, dtype) -> dict:
    """The registry's {"rtol", "atol"} for loss `name` at `dtype`."""
    return REGISTRY[name].tol(dtype)


def tolerance(entry: str, dtype=None) -> dict:
    """The {"rtol", "atol"} of the named TOLERANCE entry; one given in ulps needs the compared
    dtype and is rtol = ulps * eps of that dtype, atol 0."""
    t = dict(TOLERANCE[entry])
    if "ulps" in t:
        if dtype is None:
            raise TypeError(f"TOLERANCE[{entry!r}] is in ulps: pass the compared dtype")
        return {"rtol": t["ulps"] * float(np.finfo(dtype).eps), "atol": 0.0}
    return t


def assert_same_tensor(actual, expected) -> None:
    """Two torch tensors of the same dtype and shape with the same values (NaN equal to NaN)."""
    import torch

    assert actual.dtype == expected.dtype and actual.shape == expected.shape, (
        f"{actual.dtype}{tuple(actual.shape)} != {expected.dtype}{tuple(expected.shape)}")
    assert torch.equal(actual, expected) or bool(
        (torch.isnan(actual) == torch.isnan(expected)).all()
        and torch.equal(actual.nan_to_num(0.0), expected.nan_to_num(0.0))), (actual, expected)


def rng_for(*key) -> np.random.Generator:
    """A generator seeded from a readable key, stable across runs and processes."""
    text = "/".join(str(k) for k in key)
    return np.random.default_rng([ord(c) for c in text])


def variant_id(variant: dict) -> str:
    if not variant:
        return "default"
    return ",".join(f"{k}={v}" for k, v in variant.items())


def to_reference(args):
    """Float64 copies of the floating arrays (labels stay integers) for the reference."""
    out = []
    for a in args:
        a = np.asarray(a)
        out.append(a.astype(np.float64) if a.dtype.kind == "f" else a.copy())
    return tuple(out)


def _where(shape, flat_index):
    if not shape:
        return "()"
    return str(tuple(int(i) for i in np.unravel_index(flat_index, shape)))


def subnormal_floor(*dtypes) -> float:
    """The absolute error below which two values of the compared (floating) dtype are not told
    apart: its smallest normal number.

    Below it a dtype has fewer significant bits the smaller the value (subnormals), so a result
    whose computation passed through a subnormal intermediate, or that is itself subnormal, is
    only as exact as an absolute error of a few subnormal ulps (eps * smallest normal) times the
    factor applied afterwards (an upstream gradient, a weight); the smallest normal bounds that
    for any factor up to 1/eps. No relative or scaled tolerance can express this: at a
    subnormal reference, rtol * |ref| is below one ulp, and an array whose largest value is
    subnormal has a scaled atol below it too. The floor of the narrowest dtype compared counts.
    """
    tiny = [float(np.finfo(d).tiny) for d in dtypes if np.dtype(d).kind == "f"]
    return max(tiny) if tiny else 0.0


def assert_close(actual, expected, rtol: float, atol: float, *, what: str = "",
                 abs_floor: float = 0.0) -> None:
    """|actual - expected| <= rtol * |expected| + atol * max|expected| + floor elementwise, floor
    the smallest normal number of the compared dtype (:func:`subnormal_floor`) plus `abs_floor`
    (a loss's absolute accuracy, where its tolerance entry has one: the divergences).

    Shapes must be equal (no broadcasting), NaN must sit exactly where the expected NaN is, and
    infinities must match exactly. The failure message names the worst element, its index, both
    values, the error and the allowed bound.
    """
    a = np.asarray(actual)
    e = np.asarray(expected)
    label = f"{what}: " if what else ""
    assert a.shape == e.shape, f"{label}shape {a.shape} != expected {e.shape}"
    a64 = a.astype(np.float64)
    e64 = e.astype(np.float64)
    if a64.size == 0:
        return
    a_nan, e_nan = np.isnan(a64), np.isnan(e64)
    if not np.array_equal(a_nan, e_nan):
        i = int(np.flatnonzero(a_nan != e_nan)[0])
        raise AssertionError(f"{label}NaN mismatch at {_where(a.shape, i)}: got {a64.flat[i]!r}, "
                             f"expected {e64.flat[i]!r}")
    a_inf, e_inf = np.isinf(a64), np.isinf(e64)
    if np.any(a_inf | e_inf):
        mismatch = (a_inf | e_inf) & (a64 != e64)
        if np.any(mismatch):
            i = int(np.flatnonzero(mismatch)[0])
            raise AssertionError(f"{label}inf mismatch at {_where(a.shape, i)}: got "
                                 f"{a64.flat[i]!r}, expected {e64.flat[i]!r}")
    finite = ~(e_nan | e_inf)
    if not np.any(finite):
        return
    scale = float(np.max(np.abs(e64[finite])))
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf where both are inf
        err = np.where(finite, np.abs(a64 - e64), 0.0)
    bound = rtol * np.abs(e64) + atol * scale + subnormal_floor(a.dtype, e.dtype) + abs_floor
    excess = np.where(finite, err - bound, -np.inf)
    i = int(np.argmax(excess))
    if excess.flat[i] > 0:
        n_bad = int(np.count_nonzero(excess > 0))
        rel = err.flat[i] / abs(e64.flat[i]) if e64.flat[i] != 0 else float("inf")
        raise AssertionError(
            f"{label}{n_bad} of {a.size} elements outside rtol={rtol:g}, atol={atol:g} "
            f"(scale max|ref|={scale:.6g}); worst at {_where(a.shape, i)}: got "
            f"{a64.flat[i]!r}, expected {e64.flat[i]!r}, |err|={err.flat[i]:.3g} "
            f"(rel {rel:.3g}), allowed {bound.flat[i]:.3g}; max |err| over the array "
            f"{float(np.max(err)):.3g}")


def assert_bitwise(actual, expected, *, what: str = "") -> None:
    """Same shape, dtype and bits (NaN payloads aside: NaN must match NaN)."""
    a = np.asarray(actual)
    e = np.asarray(expected)
    label = f"{what}: " if what else ""
    assert a.shape == e.shape, f"{label}shape {a.shape} != {e.shape}"
    assert a.dtype == e.dtype, f"{label}dtype {a.dtype} != {e.dtype}"
    same = (a == e) | (np.isnan(a) & np.isnan(e))
    if not np.all(same):
        i = int(np.flatnonzero(~np.asarray(same).reshape(-1))[0])
        n_bad = int(np.count_nonzero(~same))
        af, ef = a.reshape(-1), e.reshape(-1)
        raise AssertionError(f"{label}{n_bad} of {a.size} elements differ; first at "
                             f"{_where(a.shape, i)}: {af[i]!r} != {ef[i]!r} "
                             f"(diff {float(af[i]) - float(ef[i]):.3g})")
