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


def test_poisson_nll_target_gradient_matches_torch():
    """PyTorch differentiates the counts too (-x, or -log(x + eps), plus the Stirling term's
    log y + 1 / (2y) where y > 1), through the NumPy API and the drop-in."""
    rng = rng_for("poisson_target")
    for options in POISSON_OPTIONS:
        x, y = _poisson_inputs(rng, (4, 5), options.get("log_input", True))
        y = y + 0.25  # away from y = 0, where PyTorch's full gradient is nan
        go = _upstream(rng, "none", (4, 5))
        theirs = _torch_value_and_grads(
            lambda a, b: F.poisson_nll_loss(a, b, reduction="none", **options), (x, y), (0, 1),
            go)
        loss, grads = fl.value_and_grad(fl.poisson_nll, argnums=(0, 1))(
            x, y, grad_output=go, reduction="none", **options)
        _assert_matches((loss, *grads), (theirs[0], *theirs[1]), "torch_float64")
        mine = _torch_value_and_grads(
            lambda a, b: flt.poisson_nll_loss(a, b, reduction="none", **options), (x, y),
            (0, 1), go)
        _assert_matches((mine[0], *mine[1]), (theirs[0], *theirs[1]), "torch_adapter_float64")


# ---- kl_div -----------------------------------------------------------------------------------

KL_REDUCTIONS = REDUCTIONS + ("batchmean",)


def _kl_inputs(rng, shape, log_target, zeros=True):
    z = rng.normal(size=shape)
    x = z - np.logaddexp.reduce(z, axis=-1, keepdims=True) if len(shape) else -np.abs(z)
    p = rng.uniform(0.05, 1.0, shape)
    if zeros and len(shape):
        p = np.where(rng.random(shape) < 0.2, 0.0, p)
    p = p / np.maximum(p.sum(-1, keepdims=True), 1e-12) if len(shape) else p
    return x, (np.log(p) if log_target else p)


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides the total loss")
@pytest.mark.parametrize("reduction", KL_REDUCTIONS)
@pytest.mark.parametrize("log_target", (False, True))
@pytest.mark.parametrize("shape", ((6,), (3, 5), (2, 3, 4), ()), ids=str)
def test_kl_div_matches_torch_float64(reduction, log_target, shape):
    """Values and both gradients (positive targets: PyTorch's target gradient is nan at 0),
    through the NumPy API and the drop-in."""
    rng = rng_for("kl_torch", reduction, log_target, shape)
    x, y = _kl_inputs(rng, shape, log_target, zeros=False)
    go = _upstream(rng, reduction, shape)
    theirs = _torch_value_and_grads(
        lambda a, b: F.kl_div(a, b, reduction=reduction, log_target=log_target), (x, y), (0, 1),
        go)
    loss, grads = fl.value_and_grad(fl.kl_div, argnums=(0, 1))(
        x, y, grad_output=go, reduction=reduction, log_target=log_target)
    _assert_matches((loss, *grads), (theirs[0], *theirs[1]), "torch_float64")
    for differentiable in ((0,), (0, 1)):  # the fused op, and the all-gradients path
        mine = _torch_value_and_grads(
            lambda a, b: flt.kl_div(a, b, reduction=reduction, log_target=log_target), (x, y),
            differentiable, go)
        _assert_matches((mine[0], *mine[1]), (theirs[0], *theirs[1][:len(differentiable)]),
                        "torch_adapter_float64")


def test_kl_div_batchmean_divides_by_the_first_dimension_and_mean_by_every_element():
    rng = rng_for("kl_batchmean")
    x, p = _kl_inputs(rng, (4, 5), False)
    total = float(fl.kl_div(x, p, reduction="sum"))
    np.testing.assert_allclose(float(fl.kl_div(x, p, reduction="batchmean")), total / 4,
                               **tolerance("float64_rounding"))
    np.testing.assert_allclose(float(fl.kl_div(x, p)), total / 20,
                               **tolerance("float64_rounding"))
    # batchmean's gradient: finite differences of the float64 reference, and the kernel's
    from finite_differences import numerical_gradient
    go = np.float64(0.7)
    for argnums in (0, 1):
        x, p = _kl_inputs(rng, (4, 5), False, zeros=False)
        analytic = fl.reference.kl_div_grad(x, p, reduction="batchmean", grad_output=go,
                                            argnums=argnums)
        numeric = numerical_gradient(fl.reference.kl_div, (x, p), argnums,
                                     {"reduction": "batchmean"}, go)
        fd = tolerance("finite_difference")
        np.testing.assert_allclose(analytic, numeric, rtol=fd["rtol"], atol=fd["atol"])
        mine = fl.value_and_grad(fl.kl_div, argnums=argnums)(x, p, reduction="batchmean",
                                                            grad_output=go)[1]
        np.testing.assert_allclose(mine, analytic, **tolerance("float64_reordered"))


@pytest.mark.parametrize("dtype", (np.float32, np.float64))
def test_kl_div_zero_target_contributes_zero_even_at_minus_infinity(dtype):
    """0 log 0 = 0: a zero probability contributes 0 and d/dx = 0, also where x = -inf (masked
    log-probabilities), where PyTorch's 0 * -inf is nan; d/dp there is -inf, the limit."""
    x = np.array([-1.0, -np.inf, -np.inf, -0.5], dtype)
    p = np.array([0.0, 0.0, 0.5, 0.5], dtype)
    loss, (gx, gp) = fl.value_and_grad(fl.kl_div, argnums=(0, 1))(x, p, reduction="none")
    assert loss[0] == 0 and loss[1] == 0 and loss[2] == np.inf and np.isfinite(loss[3])
    assert gx[0] == 0 and gx[1] == 0 and not np.isnan(gp).any()
    assert gp[0] == -np.inf and gp[1] == -np.inf
    with torch.no_grad():
        assert torch.isnan(F.kl_div(torch.tensor(x[1:2]), torch.tensor(p[1:2]),
                                    reduction="none")).all()
    # log_target: exp(-inf) = 0 is the same zero coefficient
    t = np.array([-np.inf, -np.inf, np.log(0.5)], dtype)
    loss, (gx, gt) = fl.value_and_grad(fl.kl_div, argnums=(0, 1))(x[1:], t, log_target=True,
                                                                  reduction="none")
    assert loss[0] == 0 and loss[1] == 0 and np.isfinite(loss[2])
    np.testing.assert_array_equal(gt[:2], np.zeros(2, dtype))


def test_kl_div_module_matches_torch():
    rng = rng_for("kl_module")
    x, p = (torch.tensor(a) for a in _kl_inputs(rng, (4, 6), False))
    for kwargs in ({"reduction": "batchmean"}, {"reduction": "sum"}, {"reduction": "none"},
                   {"reduction": "batchmean", "log_target": True}):
        target = torch.log(p + 0.01) if kwargs.get("log_target") else p
        np.testing.assert_allclose(flt.KLDivLoss(**kwargs)(x, target).numpy(),
                                   torch.nn.KLDivLoss(**kwargs)(x, target).numpy(),
                                   **tolerance("torch_adapter_float64"))


def test_all_gradients_path_is_eager_only_and_rejects_double_backward():
    x, y = torch.randn(3, dtype=torch.float64), torch.rand(3, dtype=torch.float64)
    t = y.clone().requires_grad_(True)
    loss = flt.kl_div(x, t, reduction="sum")
    with pytest.raises(RuntimeError, match="double backward"):
        torch.autograd.grad(loss, t, create_graph=True)


# ---- gaussian_nll -----------------------------------------------------------------------------

# (var's shape for an input of shape (4, 3)): PyTorch's layouts, and a number
VAR_SHAPES = [(4, 3), (4,), (4, 1), (1, 3), "number"]


def _gaussian_inputs(rng, var_shape):
    x, y = rng.normal(size=(4, 3)) * 2, rng.normal(size=(4, 3))
    var = 0.8 if var_shape == "number" else rng.uniform(0.2, 2.0, var_shape)
    return x, y, var


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("options", [{}, {"full": True}, {"eps": 0.5}], ids=str)
@pytest.mark.parametrize("var_shape", VAR_SHAPES, ids=str)
def test_gaussian_nll_matches_torch_float64(reduction, options, var_shape):
    """Values and the gradients of input, target and var (summed over var's broadcast axes),
    through the NumPy API and the drop-in."""
    rng = rng_for("gaussian_torch", reduction, str(options), str(var_shape))
    x, y, var = _gaussian_inputs(rng, var_shape)
    go = _upstream(rng, reduction, x.shape)
    if var_shape == "number":
        differentiable, arrays = (0, 1), (x, y)
        fn = lambda a, b: F.gaussian_nll_loss(a, b, var, reduction=reduction, **options)  # noqa
        ours = lambda a, b: flt.gaussian_nll_loss(a, b, var, reduction=reduction,  # noqa
                                                  **options)
    else:
        differentiable, arrays = (0, 1, 2), (x, y, var)
        fn = lambda *a: F.gaussian_nll_loss(*a, reduction=reduction, **options)  # noqa
        ours = lambda *a: flt.gaussian_nll_loss(*a, reduction=reduction, **options)  # noqa
    theirs = _torch_value_and_grads(fn, arrays, differentiable, go)
    loss, grads = fl.value_and_grad(fl.gaussian_nll, argnums=differentiable)(
        x, y, var, grad_output=go, reduction=reduction, **options)
    _assert_matches((loss, *grads), (theirs[0], *theirs[1]), "torch_float64")
    if var_shape != "number":
        assert grads[2].shape == np.shape(var)
    for some in ((0,), differentiable):  # the fused op, and the all-gradients path
        mine = _torch_value_and_grads(ours, arrays, some, go)
        _assert_matches((mine[0], *mine[1]), (theirs[0], *theirs[1][:len(some)]),
                        "torch_adapter_float64")


def test_gaussian_nll_var_below_eps_has_pytorchs_gradient():
    """PyTorch clamps var under no_grad, so the gradient passes the clamp: the derivative at
    eps, not 0."""
    x, y = np.array([1.0, 0.5]), np.array([0.0, 0.5])
    var = np.array([1e-9, 0.0])
    ts = [torch.tensor(a, requires_grad=True) for a in (x, y, var)]
    F.gaussian_nll_loss(*ts, reduction="sum").backward()
    loss, grads = fl.value_and_grad(fl.gaussian_nll, argnums=(0, 1, 2))(x, y, var,
                                                                       reduction="sum")
    _assert_matches(grads, [t.grad.numpy() for t in ts], "torch_float64")
    assert grads[2][0] != 0 and np.isfinite(loss)


def test_gaussian_nll_module_and_errors_match_torch():
    rng = rng_for("gaussian_module")
    x, y, var = (torch.tensor(a) for a in _gaussian_inputs(rng, (4,)))
    np.testing.assert_allclose(flt.GaussianNLLLoss(full=True)(x, y, var).numpy(),
                               torch.nn.GaussianNLLLoss(full=True)(x, y, var).numpy(),
                               **tolerance("torch_adapter_float64"))
    for bad in (-torch.ones(4, dtype=torch.float64),  # a negative variance, a shape torch
                torch.ones(3, dtype=torch.float64)):  # refuses
        with pytest.raises(ValueError):
            F.gaussian_nll_loss(x, y, bad)
        with pytest.raises(ValueError, match=r"\[fastloss\.gaussian_nll\] var"):
            flt.gaussian_nll_loss(x, y, bad)
        with pytest.raises(ValueError, match=r"\[fastloss\.gaussian_nll\] var"):
            flt.gaussian_nll_loss(x, y, bad.clone().requires_grad_(True))


@pytest.mark.parametrize("call, exc, words", [
    (lambda: fl.gaussian_nll(np.zeros((2, 3)), np.zeros((2, 3)), -np.ones((2, 3))), ValueError,
     ["gaussian_nll", "var", ">= 0"]),
    (lambda: fl.gaussian_nll(np.zeros((2, 3)), np.zeros((2, 3)), np.ones((2, 2))), ValueError,
     ["gaussian_nll", "var of shape (2, 2)"]),
    (lambda: fl.gaussian_nll(np.zeros(3), np.zeros(3), 1.0, eps=0.0), ValueError,
     ["gaussian_nll", "eps"]),
    (lambda: fl.kl_div(np.zeros(3), np.zeros(3), reduction="avg"), ValueError,
     ["kl_div", "reduction", "batchmean"]),
    (lambda: fl.kl_div(np.zeros(3), np.zeros(2)), ValueError, ["kl_div", "target"]),
    (lambda: fl.value_and_grad(fl.gaussian_nll, argnums=3)(np.zeros(3), np.zeros(3), 1.0),
     ValueError, ["gaussian_nll", "argnums 3"]),
    (lambda: flt.kl_div(torch.zeros(3), torch.zeros(3), reduction="avg"), ValueError,
     ["kl_div", "reduction", "batchmean"]),
], ids=("negative-var", "var-shape", "eps", "kl-reduction", "kl-shape", "argnums",
        "torch-kl-reduction"))
def test_likelihood_errors_name_the_function_and_argument(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    for word in words:
        assert word in str(info.value), (word, str(info.value))


# ---- fastloss.jax: every gradient through the custom VJP ----------------------------------------

@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_jax_differentiates_every_argument_like_the_numpy_api(reduction):
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    import fastloss.jax as flj

    rng = rng_for("jax_likelihood", reduction)
    up = rng.uniform(-2.0, 2.0, (4, 3)) if reduction == "none" else np.float32(1.3)
    t = tolerance("jax_float32")

    def check(jfn, npfn, arrays, argnums, **kw):
        f = lambda *a: jnp.sum(jfn(*a, reduction=reduction, **kw) * up)  # noqa: E731
        ours = jax.jit(jax.grad(f, argnums=argnums))(*(jnp.asarray(a, jnp.float32)
                                                       for a in arrays))
        _, ref = fl.value_and_grad(npfn, argnums=argnums)(
            *arrays, reduction=reduction, grad_output=up if reduction == "none" else 1.3, **kw)
        for a, b in zip(ours, ref):
            assert a.shape == b.shape
            np.testing.assert_allclose(np.asarray(a), b, **t)

    x, y = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    for var in (rng.uniform(0.2, 2.0, (4, 3)), rng.uniform(0.2, 2.0, (4, 1)),
                rng.uniform(0.2, 2.0, (4,))):
        check(flj.gaussian_nll, fl.gaussian_nll, (x, y, var), (0, 1, 2), full=True)
    lq, p = _kl_inputs(rng, (4, 3), False, zeros=False)
    check(flj.kl_div, fl.kl_div, (lq, p), (0, 1))
    check(flj.kl_div, fl.kl_div, (lq, np.log(p)), (0, 1), log_target=True)
    rates, counts = _poisson_inputs(rng, (4, 3), False)
    check(flj.poisson_nll, fl.poisson_nll, (rates, counts + 0.25), (0, 1), log_input=False,
          full=True)
