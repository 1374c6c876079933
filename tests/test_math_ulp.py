"""Table-driven accuracy checks of the vectorised elementary functions of ``math.h``.

``fastloss._core.math_probe(fn, x)`` runs fl_exp / fl_expm1 / fl_log / fl_log1p over an array
with the active SIMD variant. Every compiled and supported variant is selected in turn and
checked against an exact oracle, on points spanning each function's whole range: subnormal
inputs and results, the overflow and underflow thresholds, 0, -0, +-inf, NaN, the neighbourhood
of 0 (expm1, log1p) and of 1 (log), plus random bit patterns (every binade).

Bounds asserted are exactly the ones documented at the top of math.h:
exp <= 1.5 ulp, expm1 <= 2.5 ulp, log <= 1 ulp, log1p <= 2 ulp, in float32 and float64.

Oracle: float32 results are compared with float64 (numpy/libm, < 1 float64 ulp, i.e. ~2^-29
float32 ulp); float64 results with mpmath at 160 bits when installed, else np.longdouble when it
has a 64-bit mantissa (x86), else those cases are skipped. The oracle is carried as a
double-double (hi + lo) so the error of the float64 result is computed without rounding it away.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from fastloss import _core

BOUNDS = {"exp": 1.5, "expm1": 2.5, "log": 1.0, "log1p": 2.0}  # as documented in math.h
FUNCTIONS = tuple(BOUNDS)
DTYPES = (np.float32, np.float64)

try:
    import mpmath
except ImportError:  # pragma: no cover - depends on the environment
    mpmath = None

_LONGDOUBLE_OK = np.finfo(np.longdouble).nmant >= 63


def _isas():
    return [name for name in _core.compiled_isas() if _core.isa_supported(name)]


@pytest.fixture(params=_isas())
def isa(request):
    previous = _core.active_isa()
    _core.select_isa(request.param)
    assert _core.active_isa() == request.param
    try:
        yield request.param
    finally:
        _core.select_isa(previous)


# ---------------------------------------------------------------------------------------------
# Points
# ---------------------------------------------------------------------------------------------

def _neighbours(values, dtype, steps=4):
    """Each value and its `steps` float neighbours on either side, in dtype."""
    out = []
    for v in np.asarray(values, dtype=dtype):
        lo = hi = v
        out.append(v)
        for _ in range(steps):
            with np.errstate(all="ignore"):  # the neighbour of the largest float is inf
                lo = np.nextafter(lo, dtype(-np.inf))
                hi = np.nextafter(hi, dtype(np.inf))
            out.extend([lo, hi])
    return np.asarray(out, dtype=dtype)


def _random_bits(rng, dtype, n):
    """Floats with uniformly random bit patterns: every binade, both signs, subnormals."""
    itype = np.uint32 if dtype == np.float32 else np.uint64
    bits = rng.integers(0, np.iinfo(itype).max, size=n, dtype=itype, endpoint=True)
    x = bits.view(dtype)
    return x[np.isfinite(x)]


def _tiny_magnitudes(dtype):
    """+- powers of ten from the smallest subnormal up to 1, and the subnormal extremes."""
    fi = np.finfo(dtype)
    tiny_exp = math.floor(math.log10(float(fi.smallest_subnormal)))
    mags = np.logspace(tiny_exp, 0, 6 * (1 - tiny_exp)).astype(dtype)
    extremes = np.array([fi.smallest_subnormal, fi.smallest_subnormal * 3, fi.tiny / 2,
                         np.nextafter(fi.tiny, dtype(0)), fi.tiny, fi.eps, fi.eps / 2], dtype=dtype)
    mags = np.concatenate([mags, extremes])
    mags = mags[mags > 0]
    return np.concatenate([mags, -mags])


# Worst cases found by scanning every 61st float32 bit pattern and 10^8 random float64 inputs
# (all variants); kept in the table so the test sees them deterministically.
HARD_POINTS = {
    "exp": {np.float32: [48.176445, 49.59796], np.float64: [3.813218528741758, 3.8213900457381276]},
    "expm1": {np.float32: [0.347382, 0.35116696],
              np.float64: [0.36681269609990874, 0.3916544314719588]},
    "log": {np.float32: [1.0627834, 1.0007778],
            np.float64: [0.700338852073542, 0.7024784306318811, 0.7071067811865467]},
    "log1p": {np.float32: [0.0018588833, 0.2498738],
              np.float64: [5.836522675976381e-08, 3.3251102859522295e-09]},
}


def _points(fn, dtype):
    dtype = np.dtype(dtype).type
    fi = np.finfo(dtype)
    rng = np.random.default_rng([ord(c) for c in fn] + [np.dtype(dtype).itemsize])
    ln_max = math.log(float(fi.max))
    ln_sub = math.log(float(fi.smallest_subnormal))
    ln_tiny = math.log(float(fi.tiny))
    specials = [0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, float(fi.max), -float(fi.max)]
    if fn in ("exp", "expm1"):
        lo = -50.0 if fn == "expm1" else ln_sub - 3
        grid = np.linspace(lo, ln_max + 3, 4001)
        thresholds = [ln_max, ln_tiny, ln_sub, ln_sub + math.log(0.5), 88.72283935546875,
                      -103.97208, -17.4, 709.782712893384, -745.1332191019412, -38.0,
                      math.log(2) / 2, -math.log(2) / 2, math.log(2), -math.log(2)]
        parts = [grid, _neighbours(thresholds, dtype, 8), _tiny_magnitudes(dtype),
                 rng.uniform(lo, ln_max, 2000), [1e30, -1e30, 1e6, -1e6, 1e3, -1e3]]
    else:
        pos = np.abs(_random_bits(rng, dtype, 3000))
        near_one = 1.0 + np.concatenate([_tiny_magnitudes(dtype), rng.uniform(-0.5, 1.0, 500)])
        nines = [1 - 2.0 ** -k for k in range(1, fi.nmant + 2)]
        parts = [pos, near_one, nines, _neighbours([1.0, 2.0, 0.5, math.sqrt(0.5), math.sqrt(2.0),
                                                   float(fi.tiny), float(fi.max),
                                                   float(fi.smallest_subnormal)], dtype, 8),
                 -np.abs(_random_bits(rng, dtype, 100)), [-1e-30, -1e30]]
        if fn == "log1p":
            near_minus_one = [-1 + 2.0 ** -k for k in range(1, fi.nmant + 2)]
            parts += [_tiny_magnitudes(dtype), near_minus_one, pos - 1,
                      _neighbours([-1.0, -0.5, math.sqrt(0.5) - 1, math.sqrt(2.0) - 1], dtype, 8),
                      rng.uniform(-1.0, 1.0, 1000), [-1.5, -2.0, -1e30]]
    parts.append(HARD_POINTS[fn][dtype])
    x = np.concatenate([np.asarray(p, dtype=np.float64).astype(dtype) for p in parts] +
                       [np.asarray(specials, dtype=dtype)])
    return np.ascontiguousarray(x)


# ---------------------------------------------------------------------------------------------
# Oracle
# ---------------------------------------------------------------------------------------------

def _np_fn(fn, x):
    with np.errstate(all="ignore"):
        return getattr(np, fn)(x)


def _ulp_of_exponent(e, dtype):
    """ulp of a number in [2^e, 2^(e+1)) in dtype (subnormal spacing below the normal range)."""
    fi = np.finfo(dtype)
    return np.ldexp(1.0, np.maximum(e, fi.minexp) - fi.nmant)


def _oracle(fn, x):
    """The exact result as three float64 arrays: `rounded` (the correctly rounded result in x's
    dtype, +-inf when it overflows, NaN where undefined), `ulp` (ulp of the exact value in x's
    dtype, Goldberg's definition: the spacing of its binade) and `frac` = (exact - rounded) / ulp.
    Carrying the residual in ulps keeps it exact for subnormal results too."""
    if x.dtype == np.float32:
        hi = _np_fn(fn, x.astype(np.float64))  # within 2^-29 float32 ulp of the exact value
        with np.errstate(all="ignore"):
            rounded = hi.astype(np.float32).astype(np.float64)
            _, e2 = np.frexp(np.where(np.isfinite(hi), hi, 1.0))
            ulp = _ulp_of_exponent(e2 - 1, np.float32)
            frac = np.where(np.isfinite(rounded), (hi - rounded) / ulp, 0.0)
        return rounded, ulp, frac
    if mpmath is not None:
        f = {"exp": mpmath.exp, "expm1": mpmath.expm1, "log": mpmath.log, "log1p": mpmath.log1p}[fn]
        rounded = _np_fn(fn, x.astype(np.float64))  # specials; overwritten where defined
        ulp = np.ones(x.shape)
        frac = np.zeros(x.shape)
        fi = np.finfo(np.float64)
        old = mpmath.mp.prec
        mpmath.mp.prec = 160
        try:
            for i, v in enumerate(x.tolist()):
                if not math.isfinite(v) or (fn == "log" and v <= 0) or (fn == "log1p" and v <= -1):
                    continue
                r = f(mpmath.mpf(v))
                h = float(r)  # round to nearest; inf beyond the overflow threshold
                rounded[i] = h
                if r == 0 or not math.isfinite(h):
                    continue
                _, e = mpmath.frexp(r)
                u = mpmath.ldexp(1, max(int(e) - 1, fi.minexp) - fi.nmant)
                ulp[i] = float(u)
                frac[i] = float((r - h) / u)
        finally:
            mpmath.mp.prec = old
        return rounded, ulp, frac
    if not _LONGDOUBLE_OK:
        pytest.skip("no float64 oracle: mpmath is missing and np.longdouble has no 64-bit mantissa")
    r = _np_fn(fn, x.astype(np.longdouble))
    with np.errstate(all="ignore"):
        rounded = r.astype(np.float64)
        finite = np.isfinite(rounded) & (r != 0)
        _, e2 = np.frexp(np.where(finite, r, np.longdouble(1)))
        ulp = _ulp_of_exponent(e2.astype(np.int64) - 1, np.float64)
        frac = np.where(finite, ((r - rounded.astype(np.longdouble))
                                 / ulp.astype(np.longdouble)).astype(np.float64), 0.0)
    return rounded, ulp, frac


def _ulp_errors(got, x, fn):
    """(error in ulps of the dtype where the correctly rounded result is finite, else 0;
    mask of the points whose result must match `expected` exactly; expected)."""
    expected, ulp, frac = _oracle(fn, x)
    # Exact comparison where the mathematical result is not a finite real number of the dtype
    # (inputs +-inf or NaN, log of 0 or of a negative number, log1p(-1), overflow).
    special = ~np.isfinite(expected)
    got64 = got.astype(np.float64)
    with np.errstate(all="ignore"):
        # got - expected is exact (same dtype, float64 has room for float32's; Sterbenz for
        # float64 when they are close, and far-off results are far off either way).
        err = np.where(special, 0.0, np.abs((got64 - expected) / ulp - frac))
    err = np.where(np.isnan(err), np.inf, err)  # a NaN result for a finite exact value
    return err, special, expected


def _same(a, b):
    """Exactly equal, NaN == NaN, and the sign of zero matters."""
    both_nan = np.isnan(a) & np.isnan(b)
    eq = (a == b) & (np.signbit(a) == np.signbit(b))
    return both_nan | eq


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("fn", FUNCTIONS)
def test_ulp_bound(isa, fn, dtype):
    x = _points(fn, dtype)
    got = _core.math_probe(fn, x)
    assert got.dtype == x.dtype and got.shape == x.shape
    err, special, expected = _ulp_errors(got, x, fn)
    # A zero from an underflowing exp is a finite result covered by the ulp bound (in subnormal
    # ulps); inf, -inf and NaN results must match exactly.
    bad_special = special & ~_same(got, expected.astype(x.dtype))
    assert not bad_special.any(), (
        f"{fn}[{isa}, {np.dtype(dtype).name}] special results differ at "
        f"x = {x[bad_special][:8]!r}: "
        f"got {got[bad_special][:8]!r}, expected {expected[bad_special][:8]!r}")
    worst = int(np.argmax(err))
    assert err[worst] <= BOUNDS[fn], (
        f"{fn}[{isa}, {np.dtype(dtype).name}] max error {err[worst]:.3f} ulp > {BOUNDS[fn]} at "
        f"x = {x[worst]!r} (got {got[worst]!r}); {int((err > BOUNDS[fn]).sum())} points over")


SPECIALS = {
    # fn: [(x, expected)] - exact, including the sign of zero
    "exp": [(0.0, 1.0), (-0.0, 1.0), (np.inf, np.inf), (-np.inf, 0.0), (np.nan, np.nan),
            (1e30, np.inf), (-1e30, 0.0), ("max", np.inf), ("-max", 0.0), ("sub", 1.0),
            ("-sub", 1.0)],
    "expm1": [(0.0, 0.0), (-0.0, -0.0), (np.inf, np.inf), (-np.inf, -1.0), (np.nan, np.nan),
              (1e30, np.inf), (-1e30, -1.0), ("max", np.inf), ("-max", -1.0), ("sub", "sub"),
              ("-sub", "-sub")],
    "log": [(0.0, -np.inf), (-0.0, -np.inf), (1.0, 0.0), (np.inf, np.inf), (-np.inf, np.nan),
            (np.nan, np.nan), (-1.0, np.nan), ("-sub", np.nan), (-1e-30, np.nan)],
    "log1p": [(0.0, 0.0), (-0.0, -0.0), (-1.0, -np.inf), (np.inf, np.inf), (-np.inf, np.nan),
              (np.nan, np.nan), (-2.0, np.nan), (-1.5, np.nan), ("sub", "sub"), ("-sub", "-sub")],
}


def _resolve(v, dtype):
    fi = np.finfo(dtype)
    table = {"max": fi.max, "-max": -fi.max, "sub": fi.smallest_subnormal,
             "-sub": -fi.smallest_subnormal}
    return dtype(table[v]) if isinstance(v, str) else dtype(v)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("fn", FUNCTIONS)
def test_special_values_exact(isa, fn, dtype):
    cases = SPECIALS[fn]
    x = np.array([_resolve(a, dtype) for a, _ in cases], dtype=dtype)
    expected = np.array([_resolve(b, dtype) for _, b in cases], dtype=dtype)
    got = _core.math_probe(fn, x)
    ok = _same(got, expected)
    assert ok.all(), (f"{fn}[{isa}] at x = {x[~ok]!r}: got {got[~ok]!r}, "
                      f"expected {expected[~ok]!r}")


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("fn", FUNCTIONS)
def test_tail_lengths_match_the_full_array(fn, dtype):
    """Every variant handles every tail length (vector remainder) the same way: the results for
    the first n elements are the first n results of the whole array."""
    rng = np.random.default_rng(7)
    base = (rng.uniform(0.01, 3.0, 67) if fn.startswith("log") else rng.uniform(-5, 5, 67))
    base = base.astype(dtype)
    previous = _core.active_isa()
    try:
        for name in _isas():
            _core.select_isa(name)
            full = _core.math_probe(fn, base)
            for n in (0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 33):
                part = _core.math_probe(fn, np.ascontiguousarray(base[:n]))
                assert part.shape == (n,)
                np.testing.assert_array_equal(part, full[:n], err_msg=f"{fn}[{name}] n={n}")
    finally:
        _core.select_isa(previous)


def test_select_isa_rejects_unknown_and_restores():
    previous = _core.active_isa()
    with pytest.raises((ValueError, RuntimeError), match="select_isa"):
        _core.select_isa("no_such_isa")
    assert _core.active_isa() == previous
    assert not _core.isa_supported("no_such_isa")
    assert "baseline" in _core.compiled_isas()
