"""Inputs above 10^7 elements: values and gradients against the float64 reference, and
reductions whose accuracy does not degrade with the length.

The drivers accumulate each block in float64 lanes and combine the blocks pairwise, so the mean
of n equal float32 losses is that loss exactly (the float64 sum of up to 2^29 equal float32
values is exact), where a float32 running sum drifts by ~1% over 2^24 elements;
in float64 the mean of 2^24 + 3 equal losses stays within 1e-12 of the value, where a sequential
float64 sum is off by ~2.5e-11. These tests are slow-marked (pyproject) but never skipped.
"""

import numpy as np
import pytest

import fastloss
from fastloss import reference
from helpers import REGISTRY, assert_close, make_inputs, rng_for, tolerance

pytestmark = pytest.mark.slow

N = 2 ** 24
N_ODD = 2 ** 24 + 3  # not a multiple of any block, chunk or SIMD width


# One loss per driver at 2^24 elements: it is the drivers' blocking and accumulation that is
# under test, and every loss runs through the same drivers in test_kernels.py's shapes. Each
# kind of loss (each driver) must have one.
LARGE = {"mse": "pointwise", "binary_cross_entropy_with_logits": "pointwise, odd length",
         "cross_entropy": "rows", "contrastive": "embedding"}
# (kind "pair", the GAN discriminator, runs two passes of the pointwise driver)
_DRIVER = {"pointwise": "pointwise", "pair": "pointwise", "row": "row", "embedding": "embedding"}
assert {_DRIVER[REGISTRY[name].kind] for name in LARGE} == \
    {_DRIVER[spec.kind] for spec in REGISTRY.values()}


def _tol(name, dtype):
    return REGISTRY[name].tol(dtype)


def _check_value_and_grad(name, args, kwargs, dtype, reduction, grad_output):
    spec = REGISTRY[name]
    value, grad = fastloss.value_and_grad(spec.fn)(*args, reduction=reduction,
                                                   grad_output=grad_output, **kwargs)
    ref_args = [a.astype(np.float64) if a.dtype.kind == "f" else a for a in args]
    t = _tol(name, dtype)
    assert value.dtype == grad.dtype == np.dtype(dtype)
    ref_value = spec.reference(*ref_args, reduction=reduction, **kwargs)
    assert_close(value, ref_value, t["rtol"], t["atol"], what=f"{name} {reduction} loss")
    del ref_value
    ref_grad = spec.reference_grad(*ref_args, grad_output=grad_output, reduction=reduction,
                                   **kwargs)
    assert_close(grad, ref_grad, t["rtol"], t["atol"], what=f"{name} {reduction} gradient")


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_mse_float32_2pow24_matches_reference(reduction):
    rng = rng_for("large", "mse", reduction)
    args, kwargs = make_inputs(REGISTRY["mse"], {}, rng, (N,), np.float32)
    _check_value_and_grad("mse", args, kwargs, np.float32, reduction, 0.37)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_bce_with_logits_float32_2pow24_matches_reference(reduction):
    rng = rng_for("large", "bce", reduction)
    args, kwargs = make_inputs(REGISTRY["binary_cross_entropy_with_logits"], {}, rng, (N_ODD,),
                               np.float32)
    _check_value_and_grad("binary_cross_entropy_with_logits", args, kwargs, np.float32,
                          reduction, -1.7)


def test_cross_entropy_float32_1024x12000_matches_reference():
    rng = rng_for("large", "cross_entropy")
    args, kwargs = make_inputs(REGISTRY["cross_entropy"], {"label_smoothing": 0.1}, rng,
                               (1024, 12000), np.float32)
    _check_value_and_grad("cross_entropy", args, kwargs, np.float32, "mean", 0.37)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_contrastive_float32_2pow24_features_matches_reference(reduction):
    # 2^17 + 3 rows of 128 features: blocks of 256 rows, the last one short
    rng = rng_for("large", "contrastive", reduction)
    args, kwargs = make_inputs(REGISTRY["contrastive"], {}, rng, (2 ** 17 + 3, 128), np.float32)
    _check_value_and_grad("contrastive", args, kwargs, np.float32, reduction, 0.37)


def test_mean_of_equal_float32_losses_is_exact_at_any_length():
    x = np.full(N_ODD, 0.5, np.float32)
    y = np.zeros(N_ODD, np.float32)
    # loss 0.25 per element: exactly representable, so every correct reduction is exact
    assert fastloss.mse(x, y) == np.float32(0.25)
    assert fastloss.mse(x, y, reduction="sum") == np.float32(0.25 * N_ODD)
    # a non-representable loss: the mean is the per-element float32 loss, bit for bit
    x = np.full(N_ODD, 0.1, np.float32)
    loss = fastloss.mse(x, y)
    assert loss == x[0] * x[0]
    # what this rules out: a float32 running sum of the same values is off by ~1%
    naive = np.cumsum(np.full(N_ODD, x[0] * x[0]), dtype=np.float32)[-1] / np.float32(N_ODD)
    assert abs(float(naive) / float(x[0] * x[0]) - 1) > 1e-3
    value, grad = fastloss.value_and_grad(fastloss.mse)(x, y, grad_output=0.37)
    assert value == x[0] * x[0]
    assert np.all(grad == grad[0]), "the gradient of equal elements depends on the position"
    assert_close(grad[0], 0.37 * 2 * np.float64(x[0]) / N_ODD, 1e-6, 0.0, what="mse mean gradient")


def test_mean_of_equal_float64_losses_is_accurate_at_any_length():
    x = np.full(N_ODD, 0.1)
    y = np.zeros(N_ODD)
    c = 0.1 * 0.1
    mean = float(fastloss.mse(x, y))
    assert abs(mean - c) <= 1e-12 * c, f"mean {mean!r} vs {c!r}: rel {abs(mean - c) / c:.3g}"
    total = float(fastloss.mse(x, y, reduction="sum"))
    assert abs(total - c * N_ODD) <= 1e-12 * c * N_ODD


def test_mean_of_equal_bce_with_logits_losses_is_the_loss():
    x = np.zeros(N_ODD, np.float32)
    y = np.ones(N_ODD, np.float32)
    none = fastloss.binary_cross_entropy_with_logits(x[:16], y[:16], reduction="none")
    assert np.all(none == none[0])
    assert_close(none[0], np.log(2.0), **tolerance("float32_one_rounding"), what="softplus(0)")
    value, grad = fastloss.value_and_grad(fastloss.binary_cross_entropy_with_logits)(x, y)
    assert value == none[0]
    assert np.all(grad == grad[0])
    assert_close(grad[0], -0.5 / N_ODD, **tolerance("float32_few_roundings"),
                 what="(sigmoid(0) - 1) / n")


def test_mean_of_equal_cross_entropy_rows_is_the_row_loss():
    rows, classes = 1024, 12000
    x = np.zeros((rows, classes), np.float32)
    t = np.arange(rows) % classes
    value, grad = fastloss.value_and_grad(fastloss.cross_entropy)(x, t)
    assert_close(value, np.log(classes), **tolerance("float32_few_roundings"),
                 what="mean of log(C)")
    per_row = fastloss.cross_entropy(x[:2], t[:2], reduction="none")
    assert value == per_row[0]
    # every non-target gradient entry is softmax / rows = 1 / (C * rows)
    off_target = np.ones(grad.shape, bool)
    off_target[np.arange(rows), t] = False
    long_sum = tolerance("float32_long_sum")
    assert_close(grad[off_target][:1_000_000], np.full(1_000_000, 1.0 / (classes * rows)),
                 **long_sum, what="off-target gradient")
    assert_close(grad[np.arange(rows), t], np.full(rows, (1.0 / classes - 1.0) / rows),
                 **long_sum, what="target gradient")
    assert reference.cross_entropy(x[:4].astype(np.float64), t[:4]) == pytest.approx(
        np.log(classes), rel=1e-15)
