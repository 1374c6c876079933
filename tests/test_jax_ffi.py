"""fastloss.jax through its XLA custom call: the same bits as the NumPy API, no host callback,
errors at trace time for what is static and FFI errors (never crashes) for what only the data
tells, vmap over both batching methods, and the gradient written over the logits only when
XLA can hand their buffer over."""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
import fastloss  # noqa: E402
import fastloss.jax as flj  # noqa: E402
from fastloss.jax import _ffi  # noqa: E402
from helpers import (REGISTRY, assert_bitwise, make_inputs, rng_for, tolerance,  # noqa: E402
                     variant_id)

REDUCTIONS = ("mean", "sum", "none")
TOL = tolerance("jax_float32")
JaxRuntimeError = jax.errors.JaxRuntimeError


def _float32(value):
    """Sampler output as the JAX side sees it without x64: float arrays in float32."""
    a = np.asarray(value)
    return a.astype(np.float32) if a.dtype.kind == "f" else a


# The embedding, listwise ranking and structured losses' fastloss.jax functions take the
# jax.pure_callback path for now, not the FFI custom call (tests/test_jax_metric.py,
# tests/test_listwise.py, tests/test_structured_hinge.py).
PENDING_JAX = {"contrastive", "cosine_embedding", "info_nce", "triplet", "listnet", "listmle",
               "structured_hinge", "center"}
CASES = [pytest.param(name, variant, id=f"{name}-{variant_id(variant)}")
         for name, spec in sorted(REGISTRY.items()) for variant in spec.variants
         if name not in PENDING_JAX]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name,variant", CASES)
def test_same_bits_as_the_numpy_api(name, variant, reduction):
    """The custom call builds the NumPy API's kernel request: loss and gradient agree bit for
    bit (weighted pointwise means aside: the handler sums the weights in its own order)."""
    spec = REGISTRY[name]
    args, kwargs = make_inputs(spec, variant, rng_for("jax-ffi", name, variant_id(variant)),
                               (7, 13), np.float32)
    args = [_float32(a) for a in args]
    kwargs = {k: _float32(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    kwargs["reduction"] = reduction
    loss, grad = fastloss.value_and_grad(spec.fn)(*args, **kwargs)
    fn = getattr(flj, name)
    jargs = [jnp.asarray(a) for a in args]
    jkw = {k: jnp.asarray(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    # (the GAN discriminator's "none" is a pair of arrays: summed, and compared, leaf by leaf)
    objective = jax.jit(lambda a: sum(jnp.sum(t) for t in
                                      jax.tree_util.tree_leaves(fn(a, *jargs[1:], **jkw))))
    jgrad = jax.grad(objective)(jargs[0])
    jloss = fn(*jargs, **jkw)
    if isinstance(loss, tuple):
        for got, want in zip(jloss, loss):
            assert_bitwise(got, want, what="loss term")
        jloss, loss = jloss[0], loss[0]
    weighted_mean = (spec.kind == "pointwise" and reduction == "mean"
                     and kwargs.get("sample_weight") is not None)
    if weighted_mean:
        np.testing.assert_allclose(jloss, loss, **TOL)
        np.testing.assert_allclose(jgrad, grad, **TOL)
    else:
        assert_bitwise(jloss, loss, what="loss")
        assert_bitwise(jgrad, grad, what="gradient")


def test_compiled_program_calls_the_kernel_not_a_host_callback():
    x, t = jnp.ones((4, 5)), jnp.zeros(4, jnp.int32)
    text = jax.jit(jax.grad(lambda a: flj.cross_entropy(a, t))).lower(x).as_text()
    assert _ffi.TARGET in text
    assert "callback" not in text


# ---- errors known at trace time: ValueError / TypeError naming fastloss.jax.<loss> ------------

X, Y = jnp.ones((6, 5)), jnp.zeros((6, 5))
LABELS = jnp.zeros(6, jnp.int32)
NEGATIVE_WEIGHTS = jnp.array([1.0, -1.0, 1.0, 1.0, 1.0])  # concrete: checked at trace time

TRACE_ERRORS = [
    ("huber-delta", lambda a: flj.huber(a, Y, delta=-1.0), ValueError,
     r"\[fastloss\.jax\.huber\] delta must be > 0, got -1"),
    ("huber-delta-string", lambda a: flj.huber(a, Y, delta="0.5"), TypeError,
     r"\[fastloss\.jax\.huber\] delta must be a real number, got '0\.5'"),
    ("smooth_l1-beta-nan", lambda a: flj.smooth_l1(a, Y, beta=float("nan")), ValueError,
     r"\[fastloss\.jax\.smooth_l1\] beta must be finite"),
    ("quantile-tau", lambda a: flj.quantile(a, Y, tau=1.5), ValueError,
     r"\[fastloss\.jax\.quantile\] tau must be in \(0, 1\)"),
    ("quantile-tau-length", lambda a: flj.quantile(a, Y, tau=jnp.full(4, 0.5)), ValueError,
     r"\[fastloss\.jax\.quantile\] tau array must be 1-D"),
    ("mse-shapes", lambda a: flj.mse(a, jnp.zeros((5, 6))), ValueError,
     r"\[fastloss\.jax\.mse\] target must have the shape of pred \(6, 5\), got \(5, 6\)"),
    ("mse-int-target", lambda a: flj.mse(a, jnp.zeros((6, 5), jnp.int32)), TypeError,
     r"\[fastloss\.jax\.mse\] target must be a float array"),
    ("mse-reduction", lambda a: flj.mse(a, Y, reduction="avg"), ValueError,
     r"\[fastloss\.jax\.mse\] reduction must be"),
    ("mse-sample_weight-shape", lambda a: flj.mse(a, Y, sample_weight=jnp.ones(4)), ValueError,
     r"\[fastloss\.jax\.mse\] sample_weight of shape \(4,\) does not broadcast"),
    ("bce_logits-pos_weight", lambda a: flj.binary_cross_entropy_with_logits(
        a, Y, pos_weight=-2.0), ValueError,
     r"\[fastloss\.jax\.binary_cross_entropy_with_logits\] pos_weight must be finite and >= 0"),
    ("sigmoid_focal-alpha-string", lambda a: flj.sigmoid_focal(a, Y, alpha="0.25"), TypeError,
     r"\[fastloss\.jax\.sigmoid_focal\] alpha must be a real number"),
    ("cross_entropy-shapes", lambda a: flj.cross_entropy(a, jnp.zeros(5, jnp.int32)),
     ValueError, r"\[fastloss\.jax\.cross_entropy\] class-index target must have the logits' "
                 r"shape without axis 1, \(6,\), got \(5,\)"),
    ("cross_entropy-probabilities-shape", lambda a: flj.cross_entropy(a, jnp.zeros((6, 4))),
     ValueError, r"\[fastloss\.jax\.cross_entropy\] target must have the shape of logits"),
    ("cross_entropy-bool-target", lambda a: flj.cross_entropy(a, jnp.zeros(6, bool)),
     TypeError, r"\[fastloss\.jax\.cross_entropy\] target must hold integer class indices"),
    ("cross_entropy-label_smoothing", lambda a: flj.cross_entropy(
        a, LABELS, label_smoothing=2.0), ValueError,
     r"\[fastloss\.jax\.cross_entropy\] label_smoothing must be in \[0, 1\], got 2\.0"),
    ("cross_entropy-ignore_index", lambda a: flj.cross_entropy(a, LABELS, ignore_index="x"),
     TypeError, r"\[fastloss\.jax\.cross_entropy\] ignore_index must be an integer"),
    ("cross_entropy-axis", lambda a: flj.cross_entropy(a, LABELS, axis=2), ValueError,
     r"\[fastloss\.jax\.cross_entropy\] axis 2 is out of range"),
    ("cross_entropy-class_weight-length", lambda a: flj.cross_entropy(
        a, LABELS, class_weight=jnp.ones(4)), ValueError,
     r"\[fastloss\.jax\.cross_entropy\] class_weight must have shape \(5,\), got \(4,\)"),
    ("cross_entropy-concrete-class_weight-negative", lambda a: flj.cross_entropy(
        a, LABELS, class_weight=NEGATIVE_WEIGHTS), ValueError,
     r"\[fastloss\.jax\.cross_entropy\] class_weight must be finite and >= 0"),
    ("multiclass_hinge-kind", lambda a: flj.multiclass_hinge(a, LABELS, kind="ovr"),
     ValueError, r"\[fastloss\.jax\.multiclass_hinge\] kind must be one of"),
    ("multiclass_hinge-margin", lambda a: flj.multiclass_hinge(a, LABELS, margin=-1),
     ValueError, r"\[fastloss\.jax\.multiclass_hinge\] margin must be >= 0"),
    ("softmax_focal-gamma", lambda a: flj.softmax_focal(a, LABELS, gamma=-0.5), ValueError,
     r"\[fastloss\.jax\.softmax_focal\] gamma must be >= 0"),
]


@pytest.mark.parametrize("call,exc,pattern", [pytest.param(*c[1:], id=c[0])
                                              for c in TRACE_ERRORS])
def test_static_errors_are_raised_at_trace_time(call, exc, pattern, capfd):
    """Under jit the error is the NumPy API's exception, raised while tracing (before anything
    runs), not a JaxRuntimeError of the compiled program, and nothing is printed."""
    traced = []

    def f(a):
        traced.append(True)
        return call(a)

    with pytest.raises(exc, match=pattern):
        jax.jit(f)(X)
    assert traced
    assert capfd.readouterr().err == ""


def test_traced_hyper_parameter_is_a_type_error():
    with pytest.raises(TypeError, match=r"\[fastloss\.jax\.huber\] delta must be a static"):
        jax.jit(lambda a, d: flj.huber(a, Y, delta=d))(X, 0.5)


# ---- errors only the data can tell: an FFI error at run time, with the NumPy API's message ----

RUN_TIME_ERRORS = [
    ("cross_entropy-label", lambda: flj.cross_entropy(
        jnp.zeros((4, 5)), jnp.array([0, 1, 7, 2])),
     r"\[fastloss\.jax\.cross_entropy\] target label 7 out of range \[0, 5\) at index \(2,\)"),
    ("softmax_focal-label", lambda: flj.softmax_focal(
        jnp.zeros((2, 3, 5)), jnp.array([[0, 1, 2], [3, -1, 0]])),
     r"\[fastloss\.jax\.softmax_focal\] target label -1 out of range \[0, 5\) at index "
     r"\(1, 1\)"),
    ("binary_cross_entropy-prob", lambda: flj.binary_cross_entropy(
        jnp.array([0.5, 1.5]), jnp.array([0.0, 1.0])),
     r"\[fastloss\.jax\.binary_cross_entropy\] prob must be in \[0, 1\], got 1\.5 at index "
     r"\(1,\)"),
    ("hinge-label", lambda: flj.hinge(jnp.zeros(3), jnp.array([1, 2, -1])),
     r"\[fastloss\.jax\.hinge\] target must be -1, 0 or 1, got 2 at index \(1,\)"),
    ("mse-traced-sample_weight", lambda: jax.jit(
        lambda w: flj.mse(jnp.zeros(3), jnp.ones(3), sample_weight=w))(jnp.array([1.0, -1.0, 1.0])),
     r"\[fastloss\.jax\.mse\] sample_weight must be finite and >= 0, got -1"),
    ("quantile-traced-tau", lambda: jax.jit(
        lambda tau: flj.quantile(jnp.zeros((2, 3)), jnp.ones((2, 3)), tau=tau))(
            jnp.array([0.5, 1.5, 0.5])),
     r"\[fastloss\.jax\.quantile\] tau must be in \(0, 1\), got 1\.5"),
    ("cross_entropy-traced-class_weight", lambda: jax.jit(
        lambda cw: flj.cross_entropy(jnp.zeros((4, 3)), jnp.zeros(4, jnp.int32),
                                     class_weight=cw))(jnp.array([1.0, jnp.inf, 1.0])),
     r"\[fastloss\.jax\.cross_entropy\] class_weight must be finite and >= 0, got inf"),
]


@pytest.mark.parametrize("call,pattern", [pytest.param(*c[1:], id=c[0])
                                          for c in RUN_TIME_ERRORS])
def test_data_errors_are_ffi_errors_with_the_numpy_message(call, pattern, capfd):
    """No value is returned: reading the result raises JAX's run-time error, INVALID_ARGUMENT,
    with the NumPy API's message (no Python traceback printed by a callback)."""
    with pytest.raises(JaxRuntimeError, match=r"INVALID_ARGUMENT: " + pattern):
        jax.block_until_ready(call())
    assert "Traceback" not in capfd.readouterr().err


def _raw_call(args, results, **attrs):
    """The custom call with hand-made (wrong) attributes, as no fastloss.jax function makes."""
    full = dict(_ffi._attributes(flj._plan.Plan("mse", "mse", 1), {}))
    full.update(attrs)
    full = {k: v for k, v in full.items() if v is not None}
    return jax.ffi.ffi_call(_ffi.TARGET, results, vmap_method="sequential")(*args, **full)


@pytest.mark.parametrize("case", ["missing-attribute", "unknown-kernel", "float16",
                                  "gradient-shape", "attribute-type", "too-few-operands"])
def test_handler_reports_a_bad_call_never_crashes(case):
    x = jnp.ones(4)
    scalar = jax.ShapeDtypeStruct((), jnp.float32)
    args, results, attrs = (x, x), scalar, {}
    if case == "missing-attribute":
        attrs = {"params": None}
    elif case == "unknown-kernel":
        attrs = {"kernel": np.int64(10_000)}
    elif case == "float16":
        args = (x.astype(jnp.float16), x.astype(jnp.float16))
        results = jax.ShapeDtypeStruct((), jnp.float16)
    elif case == "gradient-shape":
        results = (scalar, jax.ShapeDtypeStruct((3,), jnp.float32))
    elif case == "attribute-type":
        attrs = {"name": np.int64(1)}
    elif case == "too-few-operands":
        args = (x,)
    with pytest.raises(JaxRuntimeError, match="INVALID_ARGUMENT"):
        jax.block_until_ready(_raw_call(args, results, **attrs))


# ---- vmap, aliasing, empty inputs, and optax as an oracle ------------------------------------

def test_vmap_of_unreduced_losses_runs_one_call_over_the_batch():
    """reduction="none" without array operands batches as one call (broadcast_all), also for a
    class axis that is not last and for a per-element parameter given as a number."""
    r = rng_for("jax-ffi-vmap")
    xs = jnp.asarray(r.standard_normal((3, 5, 4)), jnp.float32)
    ts = jnp.asarray(r.integers(0, 5, (3, 4)), jnp.int32)
    ce = lambda a, t: flj.cross_entropy(a, t, axis=0, reduction="none")  # noqa: E731
    np.testing.assert_allclose(jax.vmap(ce)(xs, ts), jnp.stack([ce(a, t) for a, t in zip(xs, ts)]),
                               **TOL)
    ys = jnp.asarray(r.random((3, 5, 4)), jnp.float32)
    bce = lambda a, y: flj.binary_cross_entropy_with_logits(a, y, reduction="none")  # noqa: E731
    np.testing.assert_allclose(jax.vmap(bce)(xs, ys),
                               jnp.stack([bce(a, y) for a, y in zip(xs, ys)]), **TOL)
    q = lambda a, y: flj.quantile(a, y, tau=0.3, reduction="none")  # noqa: E731
    text = jax.jit(jax.vmap(q)).lower(xs, ys).as_text()
    assert text.count(_ffi.TARGET) == 1 and "while" not in text


def test_logits_read_after_the_loss_are_not_overwritten_by_the_gradient():
    """The gradient is written over the logits' buffer only when XLA can hand it over: logits
    that are a parameter, or that the program reads again, are copied first."""
    r = rng_for("jax-ffi-alias")
    z = jnp.asarray(r.standard_normal((6, 5)), jnp.float32)
    t = jnp.asarray(r.integers(0, 5, 6), jnp.int32)
    before = np.array(z)
    f = jax.jit(jax.value_and_grad(lambda a: flj.cross_entropy(a, t) + jnp.sum(a * a)))
    loss, grad = f(z)
    np.testing.assert_array_equal(np.asarray(z), before)
    ref_loss, ref_grad = fastloss.value_and_grad(fastloss.cross_entropy)(before, np.asarray(t))
    np.testing.assert_allclose(loss, ref_loss + np.sum(before * before), **TOL)
    np.testing.assert_allclose(grad, ref_grad + 2 * before, **TOL)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_empty_inputs(reduction):
    x = jnp.zeros((0,), jnp.float32)
    loss = flj.mse(x, x, reduction=reduction)
    expected = fastloss.mse(np.zeros(0, np.float32), np.zeros(0, np.float32), reduction=reduction)
    assert_bitwise(loss, expected)
    assert jax.grad(lambda a: jnp.sum(flj.mse(a, x, reduction=reduction)))(x).shape == (0,)


def test_matches_optax_softmax_cross_entropy_with_integer_labels():
    optax = pytest.importorskip("optax")
    r = rng_for("jax-ffi-optax")
    z = jnp.asarray(r.standard_normal((16, 10)) * 3, jnp.float32)
    t = jnp.asarray(r.integers(0, 10, 16), jnp.int32)
    ours = jax.jit(jax.value_and_grad(lambda a: flj.cross_entropy(a, t)))(z)
    theirs = jax.jit(jax.value_and_grad(
        lambda a: optax.softmax_cross_entropy_with_integer_labels(a, t).mean()))(z)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, **TOL)
