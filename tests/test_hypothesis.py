"""Property tests with Hypothesis: inputs nobody thought of, including extreme magnitudes.

For every registered loss (and its registry variants), in float32 and float64:
* any finite input: no exception, no NaN in the loss or the gradient, the loss is >= 0, and
  ``value_and_grad``'s value equals the plain call bit for bit;
* bounded input (|x| small enough that the true loss fits the dtype): the loss is finite;
* moderate input: the fused gradient matches the float64 reference gradient within the
  registry's tolerance;
* ``mean`` lies between the min and the max of ``none``.
"""

from __future__ import annotations

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

import fastloss as fl  # noqa: E402
from fastloss._registry import REGISTRY, make_inputs  # noqa: E402
from helpers import BATCH, assert_close  # noqa: E402

DTYPES = (np.float32, np.float64)
DT_IDS = ("float32", "float64")
# The (input, target) losses; the GAN losses (one array, or two of their own shapes) have their
# Hypothesis properties in tests/test_gan.py::test_any_finite_outputs.
NAMES = sorted(n for n, s in REGISTRY.items() if s.family != "adversarial")
REDUCTIONS = ("mean", "sum", "none")

# Everything from the Hypothesis profile (tests/conftest.py): deterministic "ci" by default,
# random and longer with --hypothesis-profile=explore.
SETTINGS = settings()

# Loss facts from the registry: targets in [0, 1], first arguments with a domain, and the
# classification losses with kinks in the score (drawn on a grid that float32 and float64 round
# alike, so both agree on which side of a margin each score falls).
UNIT_TARGET = {n for n, s in REGISTRY.items() if s.domain.get("target") == (0.0, 1.0)}
GRID_SCORES = {n for n, s in REGISTRY.items()
               if s.family == "classification" and s.kinks is not None}


def _floats(dtype, lo=None, hi=None):
    width = 32 if dtype == np.float32 else 64
    return st.floats(min_value=lo, max_value=hi, allow_nan=False, allow_infinity=False,
                     allow_subnormal=True, width=width)


def _bound(name, dtype):
    """A magnitude below which every registered variant's loss (and its sum over up to 216
    elements of 7 classes, with weights up to 3) fits in the dtype."""
    big = float(np.finfo(dtype).max)
    if REGISTRY[name].growth == "quadratic":
        return float(np.sqrt(big)) / 1e4
    return big / 1e5


@st.composite
def _case(draw, name, dtype, magnitude):
    """(args, kwargs) for REGISTRY[name]: shape, variant and labels drawn by Hypothesis, the
    float operands drawn element by element. magnitude: 'any' finite, 'bounded' or 'moderate'."""
    spec = REGISTRY[name]
    if name in BATCH and magnitude == "any":
        # info_nce's logits q.k / t overflow for embeddings beyond about 1e18 (float32) and its
        # loss is then NaN, as its docstring says: within the quadratic growth bound they do not
        magnitude = "bounded"
    if spec.kind == "pointwise":
        shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=6))
    else:
        rank = 2 if name in BATCH else None  # the in-batch losses take (N, D) only
        shape = draw(hnp.array_shapes(min_dims=rank or 1, max_dims=rank or 3, min_side=1,
                                      max_side=6))
    variant = draw(st.sampled_from(spec.variants))
    seed = draw(st.integers(0, 2**32 - 1))
    args, kwargs = make_inputs(spec, variant, np.random.default_rng(seed), shape, dtype)
    if magnitude == "any":
        elem = _floats(dtype)
    elif magnitude == "bounded":
        b = float(np.dtype(dtype).type(_bound(name, dtype)))  # exactly representable
        elem = _floats(dtype, -b, b)
    else:
        elem = _floats(dtype, -30.0, 30.0)
    if spec.arrays[0] in spec.domain:
        lo, hi = spec.domain[spec.arrays[0]]
        first = draw(hnp.arrays(dtype, shape, elements=_floats(dtype, lo, hi)))
    elif name in GRID_SCORES and magnitude == "moderate":
        first = draw(hnp.arrays(np.int64, shape, elements=st.integers(-40, 40))).astype(dtype) / 8
        first = first.astype(dtype)
    else:
        first = draw(hnp.arrays(dtype, shape, elements=elem))
    target = args[1]
    if spec.family == "regression":
        target = draw(hnp.arrays(dtype, shape, elements=elem))
    elif name in UNIT_TARGET or target.dtype.kind == "f":
        # soft binary targets, or (cross_entropy's dense variant) probability-like rows
        target = draw(hnp.arrays(dtype, shape, elements=_floats(dtype, 0.0, 1.0)))
    if draw(st.booleans()):
        loss_shape = shape if spec.kind == "pointwise" else shape[:-1]
        kwargs["sample_weight"] = np.random.default_rng(seed).uniform(0.0, 3.0, loss_shape)
    return (first, target, *args[2:]), kwargs  # (a third array: gaussian_nll's var, sampled)


def _opposite_infinities(fn, args, kwargs, reduction):
    """A reduced loss whose elements overflowed to both +inf and -inf is inf - inf = NaN: only a
    loss that can be negative (hinge_embedding's x where y = 1) gets there from finite input."""
    if reduction == "none":
        return False
    with np.errstate(all="ignore"):
        each = fn(*args, reduction="none", **kwargs)
    return bool(np.any(each == np.inf) and np.any(each == -np.inf))


def _vg(name, args, kwargs, **extra):
    return fl.value_and_grad(getattr(fl, name))(*args, **kwargs, **extra)


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("name", NAMES)
def test_any_finite_input(name, dtype):
    """No exception, no NaN, loss >= 0, value_and_grad's value == the plain call (bitwise)."""
    fn = getattr(fl, name)

    @SETTINGS
    @given(case=_case(name, dtype, "any"), reduction=st.sampled_from(REDUCTIONS))
    def check(case, reduction):
        args, kwargs = case
        before = [a.copy() for a in args]
        with np.errstate(all="ignore"):
            plain = fn(*args, reduction=reduction, **kwargs)
            loss, g = _vg(name, args, kwargs, reduction=reduction)
        assert plain.dtype == dtype and g.dtype == dtype and g.shape == args[0].shape
        np.testing.assert_array_equal(loss, plain)  # NaN == NaN here; excluded just below
        counted = _counted(name, args, kwargs)
        if reduction == "mean" and not counted:
            assert _mean_of_nothing(name, loss), loss
        elif not _opposite_infinities(fn, args, kwargs, reduction):
            assert not np.any(np.isnan(loss)), f"NaN loss for finite inputs: {args}, {kwargs}"
            assert np.all(loss >= 0) or not REGISTRY[name].nonnegative, loss
        assert not np.any(np.isnan(g)), (
            f"NaN gradient for finite inputs at {np.argwhere(np.isnan(g))[:3].tolist()}: "
            f"args={args}, kwargs={kwargs}, reduction={reduction}, grad={g}")
        for a, b in zip(args, before):
            np.testing.assert_array_equal(a, b)

    check()


def _sparse_ignorable(name, args):
    return REGISTRY[name].mean_count != "elements" and np.asarray(args[1]).dtype.kind in "iu"


def _mean_of_nothing(name, value) -> bool:
    """Whether `value` is the documented mean over no counted element: nan (as PyTorch's), or
    0 for the listwise ranking losses (a batch of padding only)."""
    return value == 0.0 if REGISTRY[name].mean_count == "valid_lists" else bool(np.isnan(value))


def _counted(name, args, kwargs):
    """Whether the mean's denominator (the registry's mean count times the sample weight) is
    > 0."""
    spec = REGISTRY[name]
    loss_shape = spec.loss_shape(args, kwargs)
    w = np.broadcast_to(np.asarray(kwargs.get("sample_weight", 1.0), dtype=np.float64),
                        loss_shape)
    return float(np.sum(w * spec.mean_normaliser(args, kwargs))) > 0


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("name", NAMES)
def test_bounded_input_gives_finite_loss(name, dtype):
    fn = getattr(fl, name)

    @SETTINGS
    @given(case=_case(name, dtype, "bounded"), reduction=st.sampled_from(REDUCTIONS))
    def check(case, reduction):
        args, kwargs = case
        loss, g = _vg(name, args, kwargs, reduction=reduction)
        if reduction == "mean" and not _counted(name, args, kwargs):
            return
        assert np.all(np.isfinite(loss)), f"{name}{kwargs} of {args} ({reduction}) = {loss}"
        assert np.all(np.isfinite(g)), f"{name}{kwargs} gradient of {args}: {g}"
        assert np.array_equal(fn(*args, reduction=reduction, **kwargs), loss)

    check()


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("name", NAMES)
def test_gradient_matches_reference(name, dtype):
    spec = REGISTRY[name]
    tol = spec.tol(dtype)

    @SETTINGS
    @given(case=_case(name, dtype, "moderate"), reduction=st.sampled_from(REDUCTIONS),
           upstream=st.sampled_from([1.0, -1.0]) | st.floats(0.25, 3.0) | st.floats(-3.0, -0.25))
    def check(case, reduction, upstream):
        args, kwargs = case
        if reduction == "mean" and not _counted(name, args, kwargs):
            return
        ref_args = tuple(a.astype(np.float64) if a.dtype.kind == "f" else a for a in args)
        loss_shape = args[0].shape if spec.kind == "pointwise" else args[0].shape[:-1]
        go = (np.random.default_rng(abs(int(upstream * 1000))).uniform(-2, 2, loss_shape)
              if reduction == "none" else upstream)
        loss, g = _vg(name, args, kwargs, reduction=reduction, grad_output=go)
        with np.errstate(all="ignore"):
            ref = spec.reference(*ref_args, reduction=reduction, **kwargs)
            ref_g = spec.reference_grad(*ref_args, reduction=reduction, grad_output=go, **kwargs)
        assert_close(loss, np.asarray(ref).astype(dtype), **tol, what=f"{name}{kwargs} value")
        assert_close(g, np.asarray(ref_g).astype(dtype), **tol, what=f"{name}{kwargs} gradient")

    check()


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("name", NAMES)
def test_mean_between_min_and_max_of_none(name, dtype):
    fn = getattr(fl, name)

    @SETTINGS
    @given(case=_case(name, dtype, "bounded"))
    def check(case):
        args, kwargs = case
        kwargs.pop("sample_weight", None)   # mean(w l) / mean(w) is not bounded by w * l
        if REGISTRY[name].mean_count == "kept_rows_class_weighted":
            kwargs.pop("class_weight", None)  # nor is cross-entropy's class-weighted mean
        none = fn(*args, reduction="none", **kwargs)
        mean = fn(*args, reduction="mean", **kwargs)
        if not _counted(name, args, kwargs):
            assert _mean_of_nothing(name, mean), mean
            return
        if _sparse_ignorable(name, args):
            none = none[np.asarray(args[1]) != -100]
        lo, hi = float(np.min(none)), float(np.max(none))
        eps = 4 * float(np.finfo(dtype).eps)
        assert lo - eps * abs(lo) <= float(mean) <= hi + eps * abs(hi), (lo, float(mean), hi)

    check()
