"""The small-call path (fastloss/_small_call.py, bindings/small_call.cc) returns exactly what the
general path returns, and hands every call it does not handle to the general path."""

from __future__ import annotations

import numpy as np
import pytest

import fastloss as fl
from fastloss import _core
from fastloss._registry import REGISTRY

FAST = ["mse", "mae", "huber", "smooth_l1", "log_cosh", "binary_cross_entropy", "hinge",
        "squared_hinge", "sigmoid_focal", "soft_margin", "hinge_embedding"]
# No small-call path: an array hyper-parameter (quantile's tau, the pos_weight of BCE with
# logits) or a class axis (the row losses) needs the general request.
# The likelihoods' boolean flags are not the small call's real hyper-parameters (and
# gaussian_nll's var is an array), nor margin_ranking's preference y (a third array).
# The GAN losses have no (pred, target) call (one array, or two of their own shapes); the
# embedding losses take two or three arrays and a row label: the general request too.
NO_SMALL_PATH = {"quantile", "binary_cross_entropy_with_logits", "poisson_nll", "kl_div",
                 "gaussian_nll", "margin_ranking"} | {
                     name for name, spec in REGISTRY.items()
                     if spec.kind in ("row", "embedding") or spec.family == "adversarial"}
assert set(FAST) | NO_SMALL_PATH == set(REGISTRY), sorted(set(REGISTRY) ^ (set(FAST) |
                                                                     NO_SMALL_PATH))
assert {name for name, spec in REGISTRY.items() if hasattr(spec.fn, "_small")} == set(FAST)
SHAPES = [(), (0,), (1,), (32,), (7, 5), (3, 70000)]


def _pair(name, rng, shape, dtype):
    pred = rng.standard_normal(shape).astype(dtype)
    if name == "binary_cross_entropy":
        pred = rng.uniform(0.01, 0.99, shape).astype(dtype)
    if name in ("hinge", "squared_hinge", "hinge_embedding"):
        return pred, rng.choice([-1, 1], shape).astype(np.int64)
    return pred, rng.uniform(0, 1, shape).astype(dtype)


@pytest.mark.parametrize("name", FAST)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", [None, "mean", "sum", "none"])
def test_same_results_as_the_general_path(name, dtype, reduction):
    fn = REGISTRY[name].fn
    general = fn.__wrapped__  # the any_array-wrapped public function
    rng = np.random.default_rng(0)
    for shape in SHAPES:
        pred, target = _pair(name, rng, shape, dtype)
        kwargs = {} if reduction is None else {"reduction": reduction}
        assert getattr(_core, name + "_small")(pred, target, 2, 1.0, 0.0, False) is not None
        got, want = fn(pred, target, **kwargs), general(pred, target, **kwargs)
        assert type(got) is np.ndarray and got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)


def test_strided_inputs_take_the_small_path_too():
    x = np.arange(64, dtype=np.float64)[::2]
    y = np.linspace(0, 1, 64)[::-2]
    assert _core.mse_small(x, y, 1, 0.0, 0.0, False) is not None
    np.testing.assert_array_equal(fl.mse(x, y), fl.mse.__wrapped__(x, y))


class _Sub(np.ndarray):
    pass


def test_declined_calls():
    x = np.zeros(4, np.float32)
    declined = [
        (x, np.zeros(4, np.float64)),            # dtypes differ: the general path's TypeError
        (x, np.zeros(3, np.float32)),            # shapes differ
        (x.astype(np.float16), x.astype(np.float16)),
        (x.astype(">f4"), x.astype(">f4")),
        (x.view(_Sub), x),                       # subclasses are the general path's business
        ([0.0] * 4, x),
        (x.astype(np.int32), x.astype(np.int32)),
    ]
    for a, b in declined:
        assert _core.mse_small(a, b, 1, 0.0, 0.0, False) is None
    assert _core.mse_small(x, x, 3, 0.0, 0.0, False) is None  # not a reduction code
    assert _core.hinge_small(x, np.zeros(4, bool), 1, 0.0, 0.0, False) is None


@pytest.mark.parametrize("call, message", [
    (lambda: fl.binary_cross_entropy(np.array([1.5]), np.array([1.0])), "prob must be in"),
    (lambda: fl.hinge(np.zeros(2), np.array([1, 2])), "target must be -1, 0 or 1"),
    (lambda: fl.mse(np.zeros(3, np.float32), np.zeros(3)), "must have the dtype of pred"),
    (lambda: fl.mse(np.zeros(3), np.zeros(3), reduction="avg"), "reduction must be"),
    (lambda: fl.mse(np.zeros(3), np.zeros(2)), "must have the shape of pred"),
])
def test_errors_come_from_the_general_path(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


def test_hyperparameters_and_gradients_take_the_general_path():
    x, y = np.linspace(-3, 3, 11), np.zeros(11)
    np.testing.assert_array_equal(fl.huber(x, y, delta=0.5), fl.huber.__wrapped__(x, y, delta=0.5))
    loss, grad = fl.value_and_grad(fl.huber)(x, y)
    np.testing.assert_array_equal(loss, fl.huber(x, y))
    assert grad.shape == x.shape


@pytest.mark.parametrize("name", FAST)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", [None, "mean", "none"])
def test_value_and_grad_takes_the_small_path_with_the_same_results(name, dtype, reduction):
    fn = REGISTRY[name].fn
    vg = fl.value_and_grad(fn)
    rng = np.random.default_rng(1)
    for shape in SHAPES:
        pred, target = _pair(name, rng, shape, dtype)
        kwargs = {} if reduction is None else {"reduction": reduction}
        assert fn._small[0](pred, target, 1, 0.0, 0.0, True) is not None
        loss, grad = vg(pred, target, **kwargs)
        # grad_into forces the general path
        want_loss, want_grad = vg(pred, target, grad_into=np.empty_like(pred), **kwargs)
        assert type(grad) is np.ndarray and grad.dtype == pred.dtype and grad.shape == pred.shape
        np.testing.assert_array_equal(loss, want_loss)
        np.testing.assert_array_equal(grad, want_grad)
