"""soft_margin against PyTorch's soft_margin_loss (float64 oracle: values and gradients, every
reduction, an upstream gradient other than ones, soft real targets), its stability for huge
|x| where PyTorch overflows, and its errors. The registry-driven suites cover the kernel against
the reference, finite differences, threads and edge cases."""

from __future__ import annotations

import numpy as np
import pytest

import fastloss as fl
from helpers import assert_close, rng_for, tol, tolerance

torch = pytest.importorskip("torch")
F = torch.nn.functional
import fastloss.torch as flt  # noqa: E402

REDUCTIONS = ("mean", "sum", "none")


def _inputs(rng, shape, soft):
    x = rng.standard_normal(shape) * 3
    y = rng.choice(np.array([-1.0, 1.0]), shape)
    if soft:
        y = y * rng.uniform(0.0, 1.5, shape)
    return x, y


def _upstream(rng, reduction, shape):
    return rng.uniform(-2.0, 2.0, shape) if reduction == "none" else np.float64(-1.7)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("soft", (False, True), ids=("labels", "soft"))
@pytest.mark.parametrize("shape", ((7,), (3, 5), ()), ids=str)
def test_matches_torch_float64(reduction, soft, shape):
    rng = rng_for("soft_margin_torch", reduction, soft, shape)
    x, y = _inputs(rng, shape, soft)
    go = _upstream(rng, reduction, shape)
    xt = torch.tensor(x, requires_grad=True)
    t_loss = F.soft_margin_loss(xt, torch.tensor(y), reduction=reduction)
    t_loss.backward(torch.as_tensor(go).expand(t_loss.shape))
    loss, g = fl.value_and_grad(fl.soft_margin)(x, y, grad_output=go, reduction=reduction)
    t = tolerance("torch_float64")
    np.testing.assert_allclose(loss, t_loss.detach().numpy(), **t)
    np.testing.assert_allclose(g, xt.grad.numpy(), **t)
    # the drop-in, through autograd
    xf = torch.tensor(x, requires_grad=True)
    f_loss = flt.soft_margin_loss(xf, torch.tensor(y), reduction=reduction)
    f_loss.backward(torch.as_tensor(go).expand(f_loss.shape))
    t = tolerance("torch_adapter_float64")
    np.testing.assert_allclose(f_loss.detach().numpy(), t_loss.detach().numpy(), **t)
    np.testing.assert_allclose(xf.grad.numpy(), xt.grad.numpy(), **t)


@pytest.mark.filterwarnings("ignore:size_average and reduce args will be deprecated")
def test_module_and_legacy_arguments_match_torch():
    rng = rng_for("soft_margin_module")
    x, y = (torch.tensor(a) for a in _inputs(rng, (4, 6), soft=False))
    t = tolerance("torch_adapter_float64")
    for kwargs in ({}, {"reduction": "sum"}, {"reduction": "none"}, {"size_average": False},
                   {"reduce": False}):
        np.testing.assert_allclose(flt.SoftMarginLoss(**kwargs)(x, y).numpy(),
                                   torch.nn.SoftMarginLoss(**kwargs)(x, y).numpy(), **t)


@pytest.mark.parametrize("dtype", (np.float32, np.float64))
def test_huge_scores_are_exact_where_torch_overflows(dtype):
    """softplus(-y x) = -y x beyond exp's range: PyTorch's log1p(exp(-y x)) is inf there."""
    x = np.array([-1e4, 1e4, -1e30, 1e30, np.inf, -np.inf], dtype)
    y = np.array([1.0, -1.0, 1.0, 1.0, 1.0, -1.0], dtype)
    loss, g = fl.value_and_grad(fl.soft_margin)(x, y, reduction="none")
    expected = np.array([1e4, 1e4, 1e30, 0.0, 0.0, 0.0], dtype)
    assert_close(loss, expected, **tol("soft_margin", dtype), what="loss at huge |x|")
    np.testing.assert_array_equal(g, np.array([-1.0, 1.0, -1.0, -0.0, -0.0, 0.0], dtype))
    with torch.no_grad():
        assert torch.isinf(F.soft_margin_loss(torch.tensor(x[:1]), torch.tensor(y[:1]))).item()


def test_nan_propagates():
    loss, g = fl.value_and_grad(fl.soft_margin)(np.array([np.nan, 1.0]), np.array([1.0, np.nan]),
                                               reduction="none")
    assert np.isnan(loss).all() and np.isnan(g).all()


def test_target_has_no_gradient_as_in_torch():
    x, y = np.array([0.5, -1.0]), np.array([1.0, -1.0])
    with pytest.raises(ValueError, match=r"\[fastloss\.soft_margin\] target"):
        fl.value_and_grad(fl.soft_margin, argnums=1)(x, y)


@pytest.mark.parametrize("call, exc, words", [
    (lambda: fl.soft_margin(np.zeros(3), np.zeros(4)), ValueError, ["soft_margin", "target", "(3,)"]),
    (lambda: fl.soft_margin(np.zeros(3), np.zeros(3), reduction="batchmean"), ValueError,
     ["soft_margin", "reduction", "batchmean"]),
    (lambda: fl.soft_margin(np.zeros(3, np.int64), np.zeros(3)), TypeError,
     ["soft_margin", "input", "float32 or float64"]),
    (lambda: fl.soft_margin(np.zeros(3), np.zeros(3, np.float32)), TypeError,
     ["soft_margin", "target", "dtype"]),
], ids=("shape", "reduction", "input-dtype", "target-dtype"))
def test_errors_name_the_function_and_argument(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    for word in words:
        assert word in str(info.value), (word, str(info.value))
