"""The negative log-likelihoods and divergences (fastloss._likelihood) against PyTorch in float64:
values and gradients for every option and reduction with an upstream gradient other than
ones, through the NumPy API and the fastloss.torch drop-ins; PyTorch's exact rules (the
Stirling term's y > 1); edge cases and errors. The registry-driven suites cover the kernels
against the references, finite differences of every differentiable input, threads and
layouts."""

from __future__ import annotations

import numpy as np
import pytest

import fastloss as fl
from helpers import rng_for, tolerance

torch = pytest.importorskip("torch")
F = torch.nn.functional
import fastloss.torch as flt  # noqa: E402

REDUCTIONS = ("mean", "sum", "none")


def _upstream(rng, reduction, shape):
    return rng.uniform(-2.0, 2.0, shape) if reduction == "none" else np.float64(-1.7)


def _torch_value_and_grads(fn, arrays, differentiable, go):
    """fn(*tensors) and the gradients of sum(go * loss) for the arrays at `differentiable`."""
    ts = [torch.tensor(a, requires_grad=i in differentiable) for i, a in enumerate(arrays)]
    loss = fn(*ts)
    loss.backward(torch.as_tensor(go).expand(loss.shape))
    return loss.detach().numpy(), [ts[i].grad.numpy() for i in differentiable]


def _assert_matches(ours, theirs, entry):
    t = tolerance(entry)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, **t)


# ---- poisson_nll ------------------------------------------------------------------------------

POISSON_OPTIONS = [{}, {"log_input": False}, {"full": True}, {"log_input": False, "full": True},
                   {"log_input": False, "eps": 1e-2}, {"full": True, "eps": 0.5}]


def _poisson_inputs(rng, shape, log_input):
    x = rng.uniform(0.05, 3.0, shape) if log_input is False else rng.normal(size=shape)
    y = rng.poisson(2.0, shape).astype(np.float64)
    y = np.where(rng.random(shape) < 0.3, y + rng.uniform(0.0, 1.0, shape), y)  # also reals
    return x, y


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("options", POISSON_OPTIONS, ids=str)
@pytest.mark.parametrize("shape", ((9,), (3, 4), ()), ids=str)
def test_poisson_nll_matches_torch_float64(reduction, options, shape):
    rng = rng_for("poisson_torch", reduction, str(options), shape)
    x, y = _poisson_inputs(rng, shape, options.get("log_input", True))
    go = _upstream(rng, reduction, shape)
    theirs = _torch_value_and_grads(
        lambda a, b: F.poisson_nll_loss(a, b, reduction=reduction, **options), (x, y), (0,), go)
    loss, g = fl.value_and_grad(fl.poisson_nll)(x, y, grad_output=go, reduction=reduction,
                                                **options)
    _assert_matches((loss, g), (theirs[0], theirs[1][0]), "torch_float64")
    mine = _torch_value_and_grads(
        lambda a, b: flt.poisson_nll_loss(a, b, reduction=reduction, **options), (x, y), (0,),
        go)
    _assert_matches((mine[0], mine[1][0]), (theirs[0], theirs[1][0]), "torch_adapter_float64")


def test_poisson_nll_stirling_term_is_added_for_targets_above_one_only():
    """PyTorch's rule, found by experiment: the term is 0 for y <= 1 (y = 1 included), so the
    loss jumps at y = 1."""
    x = np.zeros(5)
    y = np.array([0.0, 0.5, 1.0, np.nextafter(1.0, 2.0), 3.0])
    with_term = fl.poisson_nll(x, y, full=True, reduction="none")
    without = fl.poisson_nll(x, y, reduction="none")
    np.testing.assert_array_equal(with_term[:3], without[:3])
    assert np.all(with_term[3:] != without[3:])
    expected = F.poisson_nll_loss(torch.tensor(x), torch.tensor(y), full=True, reduction="none")
    np.testing.assert_allclose(with_term, expected.numpy(), **tolerance("torch_float64"))


@pytest.mark.filterwarnings("ignore:size_average and reduce args will be deprecated")
def test_poisson_nll_module_and_legacy_arguments_match_torch():
    rng = rng_for("poisson_module")
    x, y = (torch.tensor(a) for a in _poisson_inputs(rng, (4, 6), log_input=False))
    for kwargs in ({"log_input": False}, {"log_input": False, "full": True, "reduction": "sum"},
                   {"log_input": False, "eps": 0.1, "reduction": "none"},
                   {"log_input": False, "size_average": False}, {"log_input": False,
                                                                 "reduce": False}):
        np.testing.assert_allclose(flt.PoissonNLLLoss(**kwargs)(x, y).numpy(),
                                   torch.nn.PoissonNLLLoss(**kwargs)(x, y).numpy(),
                                   **tolerance("torch_adapter_float64"))


@pytest.mark.parametrize("dtype", (np.float32, np.float64))
def test_poisson_nll_zero_rate_and_infinite_log_rate(dtype):
    """A rate of 0 is finite through eps; a log-rate of -inf is the limit (loss 0 for y = 0,
    inf otherwise), as PyTorch's exp(x) - y x; NaN propagates."""
    x = np.array([0.0, 0.0], dtype)
    y = np.array([0.0, 2.0], dtype)
    loss, g = fl.value_and_grad(fl.poisson_nll)(x, y, log_input=False, reduction="none")
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(g))
    assert g[1] < -1e7  # 1 - y / eps
    x = np.array([-np.inf, -np.inf, np.nan], dtype)
    y = np.array([0.5, 2.0, 1.0], dtype)
    loss = fl.poisson_nll(x, y, reduction="none")
    expected = F.poisson_nll_loss(torch.tensor(x), torch.tensor(y), reduction="none").numpy()
    np.testing.assert_array_equal(loss, expected)


@pytest.mark.parametrize("call, exc, words", [
    (lambda: fl.poisson_nll(np.zeros(3), np.zeros(4)), ValueError, ["poisson_nll", "target"]),
    (lambda: fl.poisson_nll(np.zeros(3), np.zeros(3), eps=-1.0), ValueError,
     ["poisson_nll", "eps", "> 0"]),
    (lambda: fl.poisson_nll(np.zeros(3), np.zeros(3), full="yes"), TypeError,
     ["poisson_nll", "full", "bool"]),
    (lambda: fl.poisson_nll(np.zeros(3), np.zeros(3), reduction="batchmean"), ValueError,
     ["poisson_nll", "reduction"]),
    (lambda: flt.poisson_nll_loss(torch.zeros(3), torch.zeros(3), eps=0.0), ValueError,
     ["poisson_nll", "eps"]),
], ids=("shape", "eps", "flag", "reduction", "torch-eps"))
def test_poisson_nll_errors_name_the_function_and_argument(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    for word in words:
        assert word in str(info.value), (word, str(info.value))
