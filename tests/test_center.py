"""center and center_update (the in-batch driver cpp/src/cpu/center.cc) against the float64
reference, a composed PyTorch oracle (indexing + squared norm, autograd), Wen et al.'s update
written out by hand and finite differences of the reference; feature counts around the SIMD
widths, one class and classes without rows, every reduction with a non-unit upstream, sample
weights, label dtypes, thread counts (with a skewed class), ISAs, layouts, IEEE cases, errors,
and the torch and JAX forms (whose reduction="none" backward reruns the kernel with the
upstream: a centre's gradient sums over rows)."""

import numpy as np
import pytest
import torch

import fastloss
import fastloss.torch as flt
from fastloss import _core, reference
from helpers import assert_bitwise, assert_close, tolerance

SPEC = fastloss._registry.REGISTRY["center"]
BOTH = fastloss.value_and_grad(fastloss.center, argnums=(0, 2))


def _batch(n, d, classes, dtype=np.float64, seed=0, labels=None):
    rng = np.random.default_rng(seed)
    c = rng.normal(size=(classes, d))
    y = rng.integers(0, classes, n) if labels is None else np.asarray(labels)
    x = c[y] + 0.6 * rng.normal(size=(n, d))
    return x.astype(dtype), y, c.astype(dtype)


def _check(dtype, x, y, c, **kw):
    """Value and both gradients of every reduction against the reference."""
    tol = SPEC.tol(dtype)
    n = x.shape[0]
    for reduction in ("mean", "sum", "none"):
        up = np.linspace(-1.5, 2.0, n) if reduction == "none" else -1.7
        value, (gx, gc) = BOTH(x, y, c, reduction=reduction, grad_output=up, **kw)
        ref = reference.center(x, y, c, reduction=reduction, **kw)
        rx, rc = reference.center_grad(x, y, c, grad_output=up, argnums=(0, 2),
                                       reduction=reduction, **kw)
        assert value.dtype == dtype and gx.dtype == dtype and gc.shape == c.shape
        assert_close(value, ref, **tol, what=f"value {reduction}")
        assert_close(gx, rx, **tol, what=f"d/dfeatures {reduction}")
        assert_close(gc, rc, **tol, what=f"d/dcenters {reduction}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("n, d, classes", [(1, 1, 1), (5, 7, 1), (9, 8, 3), (40, 9, 7),
                                           (100, 16, 10), (300, 17, 50), (513, 33, 4),
                                           (64, 64, 200)])
def test_matches_the_reference(dtype, n, d, classes):
    _check(dtype, *_batch(n, d, classes, dtype))


def test_sample_weight_weights_each_rows_loss_and_its_centre():
    x, y, c = _batch(140, 12, 6)
    w = np.random.default_rng(3).uniform(0.0, 2.0, 140)
    w[:5] = 0.0
    _check(np.float64, x, y, c, sample_weight=w)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int32, np.uint64, np.int64])
def test_every_integer_label_dtype(dtype):
    x, y, c = _batch(30, 5, 4)
    assert_bitwise(fastloss.center(x, y.astype(dtype), c), fastloss.center(x, y, c))


def test_the_lectures_sum_and_wens_mean():
    """The lecture's L = 1/2 sum ||x_i - c_{y_i}||^2 is reduction="sum"; the mean divides it by
    the batch (Wen et al.'s layer)."""
    x = np.array([[1.0, 2.0], [3.0, 0.0], [0.0, -1.0]])
    c = np.array([[1.0, 0.0], [0.0, 0.0]])
    y = np.array([0, 1, 1])
    lecture = 0.5 * ((2.0 ** 2) + (3.0 ** 2) + (1.0 ** 2))
    assert float(fastloss.center(x, y, c, reduction="sum")) == lecture
    assert float(fastloss.center(x, y, c)) == lecture / 3
    _, (gx, gc) = BOTH(x, y, c, reduction="sum")
    assert gx.tolist() == (x - c[y]).tolist()
    assert gc.tolist() == [[0.0, -2.0], [-3.0, 1.0]]


def test_matches_pytorch_composed():
    x, y, c = _batch(200, 24, 9)
    tx, tc = (torch.tensor(a, requires_grad=True) for a in (x, c))
    loss = 0.5 * ((tx - tc[torch.tensor(y)]) ** 2).sum(1).mean()
    loss.backward()
    value, (gx, gc) = BOTH(x, y, c)
    tol = SPEC.tol(np.float64)
    assert_close(value, loss.item(), **tol, what="value")
    assert_close(gx, tx.grad.numpy(), **tol, what="d/dfeatures")
    assert_close(gc, tc.grad.numpy(), **tol, what="d/dcenters")


def test_reference_gradient_is_the_finite_difference():
    x, y, c = _batch(6, 3, 3, labels=[0, 2, 2, 0, 2, 2])  # class 1 has no row
    w = np.array([1.0, 0.5, 2.0, 0.0, 1.5, 1.0])
    kw = dict(sample_weight=w, reduction="sum")
    h = 1e-6
    for argnums, a in ((0, x), (2, c)):
        numeric = np.zeros_like(a)
        for index in np.ndindex(a.shape):
            plus, minus = a.copy(), a.copy()
            plus[index] += h
            minus[index] -= h
            args = lambda b: (b, y, c) if argnums == 0 else (x, y, b)  # noqa: E731
            numeric[index] = (reference.center(*args(plus), **kw)
                              - reference.center(*args(minus), **kw)) / (2 * h)
        analytic = reference.center_grad(x, y, c, argnums=argnums, **kw)
        assert_close(analytic, numeric, **tolerance("finite_difference"), what="finite differences")


def test_update_is_wens_rule():
    """c_j - alpha sum_{y_i = j} (c_j - x_i) / (1 + n_j); a class without rows keeps its centre
    (bit for bit)."""
    x = np.array([[2.0, 4.0], [4.0, 0.0], [1.0, 1.0]])
    y = np.array([0, 0, 2])
    c = np.array([[0.0, 0.0], [5.0, -5.0], [1.0, 3.0]])
    new = fastloss.center_update(x, y, c, alpha=0.5)
    expected = [[0.0 - 0.5 * ((0 - 2) + (0 - 4)) / 3, 0.0 - 0.5 * ((0 - 4) + (0 - 0)) / 3],
                [5.0, -5.0],
                [1.0 - 0.5 * (1 - 1) / 2, 3.0 - 0.5 * (3 - 1) / 2]]
    assert_close(new, np.array(expected), **tolerance("float64_gradient"), what="update")
    assert new[1].tolist() == [5.0, -5.0]
    assert c.tolist() == [[0.0, 0.0], [5.0, -5.0], [1.0, 3.0]]  # not modified
    assert_bitwise(fastloss.center_update(x, y, c, alpha=0.0), c)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_update_matches_the_reference(dtype):
    x, y, c = _batch(333, 19, 11, dtype)
    assert_close(fastloss.center_update(x, y, c, alpha=0.3),
                 reference.center_update(x, y, c, alpha=0.3), **SPEC.tol(dtype), what="update")


def test_bitwise_identical_for_every_thread_count(restore_threads):
    """A skewed batch (one class holds half the rows) and many small classes: each class's sum
    is in row order whatever the split."""
    rng = np.random.default_rng(5)
    labels = np.where(rng.random(5000) < 0.5, 3, rng.integers(0, 700, 5000))
    x, y, c = _batch(5000, 40, 700, np.float32, labels=labels)
    results = []
    for n in (1, 2, 3):
        fastloss.set_num_threads(n)
        value, grads = BOTH(x, y, c, reduction="none", grad_output=np.linspace(0, 1, 5000))
        results.append((value, *grads, fastloss.center_update(x, y, c)))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert_bitwise(a, b, what="threads")


def test_every_isa_meets_the_tolerance(restore_isa):
    x, y, c = _batch(131, 19, 5, np.float32)
    for isa in _core.compiled_isas():
        if _core.isa_supported(isa):
            assert restore_isa.select_isa(isa) is not False
            _check(np.float32, x, y, c)


def test_strided_inputs_and_outputs_match_contiguous():
    x, y, c = _batch(150, 10, 6)
    xs = np.asfortranarray(x)
    cs = np.repeat(c, 2, axis=1)[:, ::2]
    ys = np.repeat(y, 3)[::3]
    gx_into = np.empty((10, 150)).T
    gc_into = np.empty((6, 20))[:, ::2]
    v0, (gx0, gc0) = BOTH(x, y, c)
    v1, (gx1, gc1) = BOTH(xs, ys, cs, grad_into=(gx_into, gc_into))
    assert gx1 is gx_into and gc1 is gc_into
    assert_bitwise(v1, v0)
    assert_bitwise(gx1, gx0)
    assert_bitwise(gc1, gc0)
    assert_bitwise(fastloss.center_update(xs, ys, cs), fastloss.center_update(x, y, c))


def test_nan_stays_in_its_row_and_its_class():
    x, y, c = _batch(12, 4, 3, labels=[0, 1, 2] * 4)
    x[4, 2] = np.nan  # a row of class 1
    loss, (gx, gc) = BOTH(x, y, c, reduction="none")
    assert np.isnan(loss[4]) and np.isfinite(np.delete(loss, 4)).all()
    assert np.isnan(gx[4, 2]) and np.isfinite(np.delete(gx, 4, axis=0)).all()
    assert np.isnan(gc[1, 2]) and np.isfinite(gc[[0, 2]]).all()
    inf = x.copy()
    inf[4, 2] = np.inf
    assert np.isposinf(fastloss.center(inf, y, c, reduction="none")[4])


def test_empty_batch():
    x, y, c = np.zeros((0, 3)), np.zeros(0, np.int64), np.ones((4, 3))
    value, (gx, gc) = BOTH(x, y, c)
    assert np.isnan(value) and gx.shape == (0, 3)
    assert (gc == 0).all()
    assert float(fastloss.center(x, y, c, reduction="sum")) == 0.0
    assert_bitwise(fastloss.center_update(x, y, c), c)


@pytest.mark.parametrize("call, match", [
    (lambda x, y, c: fastloss.center(x, y + 10, c), r"labels: class 1\d out of range \[0, 5\)"),
    (lambda x, y, c: fastloss.center(x, y - 10, c), r"labels: class -\d+ out of range"),
    (lambda x, y, c: fastloss.center_update(x, y + 5, c), r"center_update\] labels: class"),
    (lambda x, y, c: fastloss.center(x, y[:-1], c), r"labels must have one class index per"),
    (lambda x, y, c: fastloss.center(x, y, c[:, :-1]), r"centers must be a \(C, 4\) array"),
    (lambda x, y, c: fastloss.center(x[0], y, c), r"features must be an \(N, D\) array"),
    (lambda x, y, c: fastloss.center(x, y, c, sample_weight=-np.ones(8)), r"sample_weight"),
    (lambda x, y, c: fastloss.center_update(x, y, c, alpha=-0.1), r"alpha must be a finite"),
    (lambda x, y, c: fastloss.center_update(x, y, c, alpha=np.inf), r"alpha must be finite"),
    (lambda x, y, c: fastloss.value_and_grad(fastloss.center, argnums=1)(x, y, c),
     r"labels has no gradient"),
    (lambda x, y, c: fastloss.value_and_grad(fastloss.center, argnums=(0, 2))(
        x, y, c, grad_into=(None, c)), r"grad_into\[2\]"),
])
def test_bad_input_is_a_clear_value_error(call, match):
    x, y, c = _batch(8, 4, 5)
    with pytest.raises(ValueError, match=match):
        call(x, y, c)


@pytest.mark.parametrize("call, match", [
    (lambda x, y, c: fastloss.center(x, y.astype(float), c), r"labels must hold integer"),
    (lambda x, y, c: fastloss.center(x, y, c.astype(np.float32)), r"centers must have the dtype"),
    (lambda x, y, c: fastloss.center(x.astype(int), y, c), r"features must be float32"),
])
def test_bad_types_are_a_clear_type_error(call, match):
    x, y, c = _batch(8, 4, 5)
    with pytest.raises(TypeError, match=r"\[fastloss\.center\] " + match):
        call(x, y, c)


def _torch_oracle(x, y, c, reduction, up):
    tx, tc = (torch.tensor(a, requires_grad=True) for a in (x, c))
    loss = 0.5 * ((tx - tc[torch.tensor(y)]) ** 2).sum(1)
    loss = {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]
    loss.backward(torch.as_tensor(up, dtype=loss.dtype).expand_as(loss))
    return loss.detach().numpy(), tx.grad.numpy(), tc.grad.numpy()


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_torch_form_and_module(reduction):
    x, y, c = _batch(50, 8, 4)
    up = np.linspace(-1.0, 2.0, 50) if reduction == "none" else 1.5
    want = _torch_oracle(x, y, c, reduction, up)
    tx, tc = (torch.tensor(a, requires_grad=True) for a in (x, c))
    loss = flt.center(tx, torch.tensor(y), tc, reduction=reduction)
    loss.backward(torch.as_tensor(up, dtype=loss.dtype).expand_as(loss))
    tol = SPEC.tol(np.float64)
    for got, expected, what in zip((loss.detach().numpy(), tx.grad.numpy(), tc.grad.numpy()),
                                   want, ("value", "d/dfeatures", "d/dcenters")):
        assert_close(got, expected, **tol, what=what)
    module = flt.CenterLoss(4, 8, reduction=reduction, dtype=torch.float64)
    with torch.no_grad():
        module.centers.copy_(torch.tensor(c))
    out = module(torch.tensor(x), torch.tensor(y))
    out.backward(torch.as_tensor(up, dtype=out.dtype).expand_as(out))
    assert_close(module.centers.grad.numpy(), want[2], **tol, what="module d/dcenters")


def test_torch_update_centers_in_place():
    x, y, c = _batch(30, 5, 3)
    module = flt.CenterLoss(3, 5, dtype=torch.float64)
    with torch.no_grad():
        module.centers.copy_(torch.tensor(c))
    module.update_centers(torch.tensor(x), torch.tensor(y), alpha=0.25)
    assert_bitwise(module.centers.detach().numpy(), fastloss.center_update(x, y, c, alpha=0.25))
    assert not flt.center_update(torch.tensor(x), torch.tensor(y), torch.tensor(c)).requires_grad


def test_torch_labels_are_not_differentiable():
    x, y, c = _batch(6, 3, 2)
    with pytest.raises(TypeError, match=r"labels must hold integer"):
        flt.center(torch.tensor(x), torch.tensor(y, dtype=torch.float64), torch.tensor(c))


def _jax():
    """jax, jax.numpy and fastloss.jax (the JAX tests skip without jax)."""
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp
    import fastloss.jax as flj
    return jax, jnp, flj


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_jax_form_under_jit_and_grad(reduction):
    jax, jnp, flj = _jax()
    x, y, c = _batch(40, 6, 4, np.float32)
    up = np.linspace(-1.0, 2.0, 40, dtype=np.float32) if reduction == "none" \
        else np.float32(1.5)
    f = jax.jit(lambda a, b: jnp.sum(flj.center(a, jnp.asarray(y), b, reduction=reduction) * up))
    value = f(x, c)
    gx, gc = jax.grad(f, argnums=(0, 1))(x, c)
    _, rx, rc = _torch_oracle(x.astype(np.float64), y, c.astype(np.float64), reduction, up)
    tol = SPEC.tol(np.float32)
    assert_close(np.asarray(gx), rx, **tol, what="jax d/dfeatures")
    assert_close(np.asarray(gc), rc, **tol, what="jax d/dcenters")
    assert_close(np.asarray(value), np.sum(reference.center(x, y, c, reduction=reduction) * up),
                 **tol, what="jax value")
    new = jax.jit(lambda a, b: flj.center_update(a, jnp.asarray(y), b))(x, c)
    assert_bitwise(np.asarray(new), fastloss.center_update(x, y, c))


def test_jax_checks_at_trace_time():
    _, _, flj = _jax()
    x, y, c = _batch(6, 3, 2, np.float32)
    with pytest.raises(ValueError, match=r"\[fastloss\.jax\.center\] centers must be a \(C, 3\)"):
        flj.center(x, y, c[:, :2])
    with pytest.raises(TypeError, match=r"\[fastloss\.jax\.center\] labels must hold integer"):
        flj.center(x, y.astype(np.float32), c)
    with pytest.raises(ValueError, match=r"\[fastloss\.jax\.center_update\] alpha"):
        flj.center_update(x, y, c, alpha=-1.0)
