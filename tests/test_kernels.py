"""Fused kernels against the float64 reference, for every registered loss.

Each case runs ``value_and_grad(fastloss.NAME)`` once and compares the loss and the gradient with
``reference.NAME`` / ``reference.NAME_grad`` on float64 copies of the same inputs, within the
registry's tolerance for the input dtype. The upstream gradient is never 1 (a scalar 0.37 for
mean/sum, a random array for none), so a kernel that ignores it fails ("not the last layer").

Shapes are chosen by regime of the drivers (``cpp/include/fastloss/config.h``): empty and 0-d,
around the SIMD widths (4/8/16 floats, kSumLanes = 8), around kChunk = 1024 and
kElementwiseBlock = 32768, above kParallelMinElements = 65536 (threaded), a prime, and n-d.
Every shape runs the default hyper-parameters; every variant runs on a few shapes.
"""

import numpy as np
import pytest

import fastloss
from helpers import (EMBEDDINGS, PAIRS, POINTWISE, REGISTRY, ROWS, assert_close, make_inputs,
                     rng_for, to_reference, variant_id)

DTYPES = (np.float32, np.float64)
REDUCTIONS = ("mean", "sum", "none")
SCALAR_GRAD_OUTPUT = 0.37

POINTWISE_SHAPES = [
    (), (0,), (1,), (3,), (4,), (5,), (7,), (8,), (9,), (15,), (16,), (17,), (31,), (32,), (33,),
    (1023,), (1024,), (1025,), (32767,), (32769,), (65537,), (104729,),
    (0, 5), (1, 1), (33, 65), (3, 7, 11), (2, 1, 5, 3), (257, 263),
]
POINTWISE_VARIANT_SHAPES = [(9,), (1025,), (33, 65), (65537,)]

ROW_SHAPES = [(1, 1), (3, 1), (7,), (4, 7), (5, 16), (2, 17), (33, 100), (64, 1025), (2, 3, 5),
              (0, 5)]
ROW_VARIANT_SHAPES = [(4, 7), (33, 100), (2, 3, 5), (64, 1025)]


def _variants(names, default_only=False):
    out = []
    for name in names:
        for i, v in enumerate(REGISTRY[name].variants):
            if (i == 0) == default_only or default_only is None:
                out.append(pytest.param(name, v, id=f"{name}[{variant_id(v)}]"))
    return out


def _loss_shape(name, shape):
    return shape if REGISTRY[name].kind == "pointwise" else shape[:-1]


def _weights(kind, rng, loss_shape, dtype):
    """Sample weights: None, a full array (some exact zeros), or broadcastable views."""
    if kind is None:
        return None
    if kind == "full":
        w = rng.uniform(0.0, 2.0, loss_shape)
        w[rng.random(loss_shape) < 0.1] = 0.0
        return w.astype(dtype)
    if kind == "last":  # (n,): broadcast along the leading axes
        return rng.uniform(0.1, 2.0, loss_shape[-1:]).astype(dtype)
    if kind == "row_vector":  # (1, ..., n)
        return rng.uniform(0.1, 2.0, (1,) * (len(loss_shape) - 1) + loss_shape[-1:]).astype(dtype)
    if kind == "column":  # (m, 1, ..., 1)
        return rng.uniform(0.1, 2.0, loss_shape[:1] + (1,) * (len(loss_shape) - 1)).astype(dtype)
    if kind == "scalar":
        return np.asarray(1.7, dtype=dtype)
    raise AssertionError(kind)


def check_against_reference(name, variant, shape, dtype, reduction, weight_kind=None,
                            grad_output_shape=None):
    spec = REGISTRY[name]
    rng = rng_for(name, variant_id(variant), shape, np.dtype(dtype).name, reduction, weight_kind)
    args, kwargs = make_inputs(spec, variant, rng, shape, dtype)
    loss_shape = _loss_shape(name, shape)
    sw = _weights(weight_kind, rng, loss_shape, dtype)
    if reduction == "none":
        g_shape = loss_shape if grad_output_shape is None else grad_output_shape
        g = rng.uniform(-1.5, 1.5, g_shape).astype(dtype)
        g_ref = g.astype(np.float64)
    else:
        g = g_ref = SCALAR_GRAD_OUTPUT
    inputs_before = [np.array(a, copy=True) for a in args]

    value, grad = fastloss.value_and_grad(spec.fn)(
        *args, grad_output=g, reduction=reduction, sample_weight=sw, **kwargs)

    ref_args = to_reference(args)
    sw_ref = None if sw is None else np.asarray(sw, dtype=np.float64)
    ref_value = spec.reference(*ref_args, reduction=reduction, sample_weight=sw_ref, **kwargs)
    ref_grad = spec.reference_grad(*ref_args, grad_output=g_ref, reduction=reduction,
                                   sample_weight=sw_ref, **kwargs)

    assert isinstance(value, np.ndarray) and isinstance(grad, np.ndarray)
    assert value.dtype == np.dtype(dtype), f"loss dtype {value.dtype}, input {np.dtype(dtype)}"
    assert grad.dtype == np.dtype(dtype), f"grad dtype {grad.dtype}, input {np.dtype(dtype)}"
    assert value.shape == (loss_shape if reduction == "none" else ())
    assert grad.shape == shape
    t = spec.tol(dtype)
    assert_close(value, ref_value, t["rtol"], t["atol"], what=f"{name} loss ({reduction})")
    assert_close(grad, ref_grad, t["rtol"], t["atol"], what=f"{name} gradient ({reduction})")
    for before, after in zip(inputs_before, args):
        np.testing.assert_array_equal(after, before, err_msg="the kernel modified an input")


# ---- pointwise losses -------------------------------------------------------------------------

@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("shape", POINTWISE_SHAPES, ids=str)
@pytest.mark.parametrize("name", POINTWISE)
def test_pointwise_every_shape(name, shape, dtype, reduction):
    check_against_reference(name, REGISTRY[name].variants[0], shape, dtype, reduction)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("shape", POINTWISE_VARIANT_SHAPES, ids=str)
@pytest.mark.parametrize("name,variant", _variants(POINTWISE, default_only=False))
def test_pointwise_variants(name, variant, shape, dtype, reduction):
    check_against_reference(name, variant, shape, dtype, reduction)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("weight", ["full", "last", "row_vector", "column", "scalar"])
@pytest.mark.parametrize("name,variant", _variants(POINTWISE, default_only=None))
def test_pointwise_sample_weight(name, variant, weight, dtype, reduction):
    check_against_reference(name, variant, (33, 65), dtype, reduction, weight)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("weight", ["full", "last"])
@pytest.mark.parametrize("name", POINTWISE)
def test_pointwise_sample_weight_threaded(name, weight, dtype, reduction):
    # 5 * 13109 = 65545 > kParallelMinElements, three blocks: the weighted threaded path.
    check_against_reference(name, REGISTRY[name].variants[0], (5, 13109), dtype, reduction, weight)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("g_shape", [(65,), (1, 65), (33, 1), ()], ids=str)
@pytest.mark.parametrize("name", POINTWISE)
def test_pointwise_broadcast_grad_output(name, g_shape, dtype):
    check_against_reference(name, REGISTRY[name].variants[0], (33, 65), dtype, "none",
                            grad_output_shape=g_shape)


# ---- row losses -------------------------------------------------------------------------------

@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("shape", ROW_SHAPES, ids=str)
@pytest.mark.parametrize("name", ROWS)
def test_rows_every_shape(name, shape, dtype, reduction):
    check_against_reference(name, REGISTRY[name].variants[0], shape, dtype, reduction)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("shape", ROW_VARIANT_SHAPES, ids=str)
@pytest.mark.parametrize("name,variant", _variants(ROWS, default_only=False))
def test_rows_variants(name, variant, shape, dtype, reduction):
    check_against_reference(name, variant, shape, dtype, reduction)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("weight", ["full", "last", "column", "scalar"])
@pytest.mark.parametrize("name,variant", _variants(ROWS, default_only=None))
def test_rows_sample_weight(name, variant, weight, dtype, reduction):
    check_against_reference(name, variant, (6, 5, 9), dtype, reduction, weight)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name", ROWS)
def test_rows_sample_weight_threaded(name, dtype, reduction):
    # 300 rows of 257 logits: above kParallelMinElements, several row blocks.
    check_against_reference(name, REGISTRY[name].variants[0], (300, 257), dtype, reduction, "full")


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("g_shape", [(5,), (6, 1), ()], ids=str)
@pytest.mark.parametrize("name", ROWS)
def test_rows_broadcast_grad_output(name, g_shape, dtype):
    check_against_reference(name, REGISTRY[name].variants[0], (6, 5, 9), dtype, "none",
                            grad_output_shape=g_shape)


def test_every_registered_loss_is_covered():
    # (the pair losses, the GAN discriminator, have their kernel checks in tests/test_gan.py; the
    # embedding losses theirs in tests/test_metric.py and tests/test_triplet.py)
    assert sorted(POINTWISE + ROWS + PAIRS + EMBEDDINGS) == sorted(REGISTRY)
    assert set(POINTWISE).isdisjoint(ROWS)
    for name in REGISTRY:
        assert callable(getattr(fastloss, name)), name
        assert REGISTRY[name].fn is getattr(fastloss, name)
