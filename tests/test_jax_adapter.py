"""fastloss.jax against inline jax.numpy formulas: values and gradients for every reduction with a
cotangent != 1, under jax.jit(jax.grad(...)) and jax.vmap."""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
import fastloss.jax as flj  # noqa: E402  (after the importorskip above)
from fastloss._registry import REGISTRY  # noqa: E402
from helpers import tolerance  # noqa: E402

REDUCTIONS = ("mean", "sum", "none")
TOL = tolerance("jax_float32")


def _reduce(loss, reduction, sample_weight=None, denominator=None):
    if sample_weight is not None:
        loss = loss * sample_weight
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if denominator is not None:
        return loss.sum() / denominator
    if sample_weight is not None:
        return loss.sum() / jnp.broadcast_to(sample_weight, loss.shape).sum()
    return loss.mean()


def ref_pointwise(f):
    def ref(x, y, *, reduction="mean", sample_weight=None, **kw):
        return _reduce(f(x, y, **kw), reduction, sample_weight)
    return ref


def _huber(x, y, delta=1.0):
    d = jnp.abs(x - y)
    return jnp.where(d < delta, 0.5 * d ** 2, delta * (d - 0.5 * delta))


def _smooth_l1(x, y, beta=1.0):
    d = jnp.abs(x - y)
    return jnp.where(d < beta, 0.5 * d ** 2 / beta, d - 0.5 * beta)


def _quantile(x, y, tau=0.5):
    u = y - x
    return jnp.maximum(tau * u, (tau - 1) * u)


def _bce_logits(x, y, pos_weight=None):
    pw = 1.0 if pos_weight is None else pos_weight
    return (1 - y) * jax.nn.softplus(x) + pw * y * jax.nn.softplus(-x)


def _poisson_rate_full(x, y, log_input=False, full=True, eps=1e-3):
    safe = jnp.where(y > 1, y, 2.0)
    stirling = safe * jnp.log(safe) - safe + 0.5 * jnp.log(2 * jnp.pi * safe)
    return x - y * jnp.log(x + eps) + jnp.where(y > 1, stirling, 0.0)


def _pm1(y):
    return jnp.where(y == 0, -1, y)


def _sigmoid_focal(x, y, alpha=0.25, gamma=2.0):
    p = jax.nn.sigmoid(x)
    p_t = p * y + (1 - p) * (1 - y)
    loss = _bce_logits(x, y) * (1 - p_t) ** gamma
    return loss if alpha is None else (alpha * y + (1 - alpha) * (1 - y)) * loss


def ref_cross_entropy(x, t, *, class_weight=None, ignore_index=-100, label_smoothing=0.0,
                      reduction="mean", sample_weight=None):
    c = jnp.ones(x.shape[-1]) if class_weight is None else class_weight
    logp = jax.nn.log_softmax(x, axis=-1)
    if jnp.issubdtype(t.dtype, jnp.floating):
        q = (1 - label_smoothing) * t + label_smoothing / x.shape[-1]
        return _reduce(-(c * q * logp).sum(-1), reduction, sample_weight)
    keep = t != ignore_index
    safe = jnp.where(keep, t, 0)
    q = (1 - label_smoothing) * jax.nn.one_hot(safe, x.shape[-1]) + label_smoothing / x.shape[-1]
    loss = jnp.where(keep, -(c * q * logp).sum(-1), 0.0)
    s = jnp.ones(loss.shape) if sample_weight is None else sample_weight
    return _reduce(loss, reduction, sample_weight, denominator=(s * keep * c[safe]).sum())


def ref_multiclass_hinge(x, t, *, margin=1.0, kind="weston_watkins", squared=False,
                         class_weight=None, reduction="mean", sample_weight=None):
    x_t = jnp.take_along_axis(x, t[..., None], -1)
    h = jnp.maximum(margin + x - x_t, 0.0) * (1 - jax.nn.one_hot(t, x.shape[-1]))
    h = h ** 2 if squared else h
    loss = h.sum(-1) if kind == "weston_watkins" else h.max(-1)
    if class_weight is not None:
        loss = loss * class_weight[t]
    return _reduce(loss, reduction, sample_weight)


def ref_softmax_focal(x, t, *, alpha=None, gamma=2.0, ignore_index=-100, reduction="mean",
                      sample_weight=None):
    keep = t != ignore_index
    safe = jnp.where(keep, t, 0)
    logp = jnp.take_along_axis(jax.nn.log_softmax(x, -1), safe[..., None], -1)[..., 0]
    loss = -((1 - jnp.exp(logp)) ** gamma) * logp
    if alpha is not None:
        loss = loss * (alpha[safe] if np.ndim(alpha) else alpha)
    loss = jnp.where(keep, loss, 0.0)
    s = jnp.ones(loss.shape) if sample_weight is None else sample_weight
    return _reduce(loss, reduction, sample_weight, denominator=(s * keep).sum())


def ref_nll(x, t, *, class_weight=None, ignore_index=-100, reduction="mean",
            sample_weight=None):
    c = jnp.ones(x.shape[-1]) if class_weight is None else class_weight
    keep = t != ignore_index
    safe = jnp.where(keep, t, 0)
    loss = jnp.where(keep, -c[safe] * jnp.take_along_axis(x, safe[..., None], -1)[..., 0], 0.0)
    s = jnp.ones(loss.shape) if sample_weight is None else sample_weight
    return _reduce(loss, reduction, sample_weight, denominator=(s * keep * c[safe]).sum())


def ref_multilabel_soft_margin(x, y, *, class_weight=None, reduction="mean", sample_weight=None):
    c = jnp.ones(x.shape[-1]) if class_weight is None else class_weight
    loss = -(c * (y * jax.nn.log_sigmoid(x) + (1 - y) * jax.nn.log_sigmoid(-x))).mean(-1)
    return _reduce(loss, reduction, sample_weight)


def ref_multilabel_margin(x, t, *, reduction="mean", sample_weight=None):
    C = x.shape[-1]
    valid = jnp.cumprod(t != -1, axis=-1).astype(bool)
    safe = jnp.where(valid, t, 0)
    listed = (jax.nn.one_hot(safe, C) * valid[..., None]).max(-2) > 0
    z = 1 - jnp.take_along_axis(x, safe, -1)[..., :, None] + x[..., None, :]
    counts = valid[..., :, None] & ~listed[..., None, :]
    return _reduce(jnp.where(counts, jnp.maximum(z, 0.0), 0.0).sum((-2, -1)) / C, reduction,
                   sample_weight)


def _kl_rows(p_logits, q_logits, temperature):
    lp = jax.nn.log_softmax(p_logits / temperature, -1)
    lq = jax.nn.log_softmax(q_logits / temperature, -1)
    return (jnp.exp(lp) * (lp - lq)).sum(-1)


def ref_kl_divergence(x, y, *, temperature=1.0, reduction="mean", sample_weight=None):
    return _reduce(_kl_rows(x, y, temperature), reduction, sample_weight)


def ref_js_divergence(x, y, *, beta=0.5, temperature=1.0, reduction="mean", sample_weight=None):
    lp = jax.nn.log_softmax(x / temperature, -1)
    lq = jax.nn.log_softmax(y / temperature, -1)
    lm = jnp.logaddexp(jnp.log(beta) + lp, jnp.log1p(-beta) + lq)
    rows = (beta * (jnp.exp(lp) * (lp - lm)).sum(-1)
            + (1 - beta) * (jnp.exp(lq) * (lq - lm)).sum(-1))
    return _reduce(rows, reduction, sample_weight)


def ref_distillation(x, y, labels=None, *, temperature=2.0, alpha=0.5, beta=0.5, t2_scale=True,
                     ignore_index=-100, reduction="mean", sample_weight=None):
    rows = beta * (temperature ** 2 if t2_scale else 1.0) * _kl_rows(y, x, temperature)
    s = jnp.ones(rows.shape) if sample_weight is None else sample_weight
    if labels is None:
        return _reduce(rows, reduction, sample_weight)
    keep = labels != ignore_index
    safe = jnp.where(keep, labels, 0)
    ce = -jnp.take_along_axis(jax.nn.log_softmax(x, -1), safe[..., None], -1)[..., 0]
    rows = jnp.where(keep, rows + alpha * ce, 0.0)
    return _reduce(rows, reduction, sample_weight, denominator=(s * keep).sum())


# ---- inputs -------------------------------------------------------------------------------------

def _rng(seed):
    return np.random.default_rng(seed)


def _reg(r, shape=(6, 5)):
    return (jnp.asarray(r.standard_normal(shape) * 2, jnp.float32),
            jnp.asarray(r.standard_normal(shape), jnp.float32))


def _probs(r, shape=(6, 5)):
    return (jnp.asarray(r.uniform(0.05, 0.95, shape), jnp.float32),
            jnp.asarray(r.random(shape) < 0.5, jnp.float32))


def _logits_binary(r, shape=(6, 5)):
    return (jnp.asarray(r.standard_normal(shape) * 3, jnp.float32),
            jnp.asarray(r.random(shape), jnp.float32))


def _labels(r, shape=(6, 5)):
    return (jnp.asarray(r.integers(-24, 25, shape) / 8 + 1 / 64, jnp.float32),
            jnp.asarray(r.choice([-1, 1], shape), jnp.int32))


def _signed(r, shape=(6, 5)):
    return (jnp.asarray(r.standard_normal(shape) * 3, jnp.float32),
            jnp.asarray(r.choice([-1.0, 1.0], shape) * r.uniform(0.5, 1.5, shape), jnp.float32))


def _rates(r, shape=(6, 5)):
    return (jnp.asarray(r.uniform(0.1, 3.0, shape), jnp.float32),
            jnp.asarray(r.poisson(2.0, shape), jnp.float32))


def _log_probs(r, shape=(6, 5)):
    p = r.dirichlet(np.ones(shape[-1]), size=shape[:-1])
    p[0, 0] = 0.0
    return (jnp.asarray(np.log(r.dirichlet(np.ones(shape[-1]), size=shape[:-1])), jnp.float32),
            jnp.asarray(p, jnp.float32))


def _ref_gaussian(x, y, var, *, full=False, eps=1e-6, reduction="mean", sample_weight=None):
    var = jnp.asarray(var)
    var = var[..., None] if var.ndim and var.shape == x.shape[:-1] else var
    v = jnp.maximum(jnp.broadcast_to(var, x.shape), eps)
    loss = 0.5 * (jnp.log(v) + (x - y) ** 2 / v) + (0.5 * np.log(2 * np.pi) if full else 0.0)
    return _reduce(loss, reduction, sample_weight)


def _ref_margin_ranking(x1, x2, *, y, margin=0.0, reduction="mean", sample_weight=None):
    return _reduce(jnp.maximum(0, margin - y * (x1 - x2)), reduction, sample_weight)


def _class(r, shape=(6, 5), ignore=True):
    t = r.integers(0, shape[-1], shape[:-1])
    if ignore:
        t.reshape(-1)[::4] = -100
    return jnp.asarray(r.standard_normal(shape) * 2, jnp.float32), jnp.asarray(t, jnp.int32)


def _grid(r, shape=(6, 5)):
    return (jnp.asarray(r.integers(-16, 17, shape) / 8 + 1 / 64, jnp.float32),
            jnp.asarray(r.integers(0, shape[-1], shape[:-1]), jnp.int32))


def _log_probs_labels(r, shape=(6, 5)):
    x, t = _class(r, shape)
    return jax.nn.log_softmax(x, -1), t


def _multilabel(r, shape=(6, 5)):
    return (jnp.asarray(r.standard_normal(shape) * 2, jnp.float32),
            jnp.asarray(r.random(shape) < 0.4, jnp.float32))


def _index_lists(r, shape=(6, 5)):
    t = np.full(shape, -1)
    for row in range(shape[0]):
        k = r.integers(0, shape[1] + 1)
        t[row, :k] = r.permutation(shape[1])[:k]
    return jnp.asarray(r.integers(-16, 17, shape) / 8 + 1 / 64, jnp.float32), jnp.asarray(t)


def _pair(r, shape=(6, 5)):
    return (jnp.asarray(r.standard_normal(shape) * 2, jnp.float32),
            jnp.asarray(r.standard_normal(shape) * 2, jnp.float32))


def _w(r, shape=(6, 5)):
    return jnp.asarray(r.uniform(0.1, 1.1, shape), jnp.float32)


def _case(name, fn, ref, inputs, **kwargs):
    return pytest.param(fn, ref, inputs, kwargs, id=name)


CASES = [
    _case("kl", flj.kl_divergence, ref_kl_divergence, _pair, temperature=2.0),
    _case("js-weight", flj.js_divergence, ref_js_divergence, _pair, beta=0.3,
          sample_weight=lambda r: _w(r, (6,))),
    _case("distillation", flj.distillation, ref_distillation, _pair,
          labels=jnp.asarray([0, 1, -100, 3, 4, 2])),
    _case("distillation-no-labels", flj.distillation, ref_distillation, _pair, t2_scale=False),
    _case("mse", flj.mse, ref_pointwise(lambda x, y: (x - y) ** 2), _reg),
    _case("mse-weight", flj.mse, ref_pointwise(lambda x, y: (x - y) ** 2), _reg,
          sample_weight=_w),
    _case("mae", flj.mae, ref_pointwise(lambda x, y: jnp.abs(x - y)), _reg),
    _case("huber", flj.huber, ref_pointwise(_huber), _reg, delta=0.7),
    _case("smooth_l1", flj.smooth_l1, ref_pointwise(_smooth_l1), _reg, beta=0.5),
    _case("quantile", flj.quantile, ref_pointwise(_quantile), _reg, tau=0.8),
    _case("quantile-per-column", flj.quantile, ref_pointwise(_quantile), _reg,
          tau=lambda r: jnp.asarray(r.uniform(0.1, 0.9, 5), jnp.float32)),
    _case("log_cosh", flj.log_cosh,
          ref_pointwise(lambda x, y: jnp.logaddexp(x - y, y - x) - jnp.log(2.0)), _reg),
    _case("bce", flj.binary_cross_entropy,
          ref_pointwise(lambda p, y: -(y * jnp.log(p) + (1 - y) * jnp.log1p(-p))), _probs),
    _case("bce_logits-pos_weight", flj.binary_cross_entropy_with_logits,
          ref_pointwise(_bce_logits), _logits_binary,
          pos_weight=lambda r: _w(r, (5,)) * 3, sample_weight=_w),
    _case("hinge", flj.hinge, ref_pointwise(lambda x, y: jnp.maximum(0, 1 - _pm1(y) * x)),
          _labels),
    _case("squared_hinge", flj.squared_hinge,
          ref_pointwise(lambda x, y: jnp.maximum(0, 1 - _pm1(y) * x) ** 2), _labels),
    _case("sigmoid_focal", flj.sigmoid_focal, ref_pointwise(_sigmoid_focal), _logits_binary),
    _case("sigmoid_focal-noalpha", flj.sigmoid_focal, ref_pointwise(_sigmoid_focal),
          _logits_binary, alpha=None, gamma=1.5),
    _case("soft_margin", flj.soft_margin, ref_pointwise(lambda x, y: jax.nn.softplus(-y * x)),
          _signed),
    _case("poisson_nll", flj.poisson_nll, ref_pointwise(lambda x, y: jnp.exp(x) - y * x), _rates),
    _case("poisson_nll-rate-full", flj.poisson_nll, ref_pointwise(_poisson_rate_full), _rates,
          log_input=False, full=True, eps=1e-3),
    _case("kl_div", flj.kl_div, ref_pointwise(lambda x, y: jnp.where(y == 0, 0.0, y * (jnp.log(
        jnp.where(y == 0, 1.0, y)) - x))), _log_probs),
    _case("kl_div-log_target", flj.kl_div,
          ref_pointwise(lambda x, t, log_target: jnp.exp(t) * (t - x)), _log_probs,
          log_target=True),
    _case("gaussian_nll", flj.gaussian_nll, _ref_gaussian, _reg,
          var=lambda r: jnp.asarray(r.uniform(0.3, 2.0, (6, 5)), jnp.float32)),
    _case("gaussian_nll-homoscedastic", flj.gaussian_nll, _ref_gaussian, _reg,
          var=lambda r: jnp.asarray(r.uniform(0.3, 2.0, (6,)), jnp.float32), full=True),
    _case("gaussian_nll-number", flj.gaussian_nll, _ref_gaussian, _reg, var=0.7, eps=0.01),
    _case("margin_ranking", flj.margin_ranking, _ref_margin_ranking, _reg,
          y=lambda r: jnp.asarray(r.choice([-1.0, 1.0], (6, 5)), jnp.float32), margin=0.5),
    _case("margin_ranking-scalar-y", flj.margin_ranking, _ref_margin_ranking, _reg, y=-1.0,
          sample_weight=_w),
    _case("hinge_embedding", flj.hinge_embedding,
          ref_pointwise(lambda x, y, margin=1.0: jnp.where(y != 1, jnp.maximum(0, margin - x), 0)
                        + jnp.where(y != -1, x, 0)), _labels, margin=0.7),
    _case("cross_entropy", flj.cross_entropy, ref_cross_entropy, _class),
    _case("cross_entropy-weights-smoothing", flj.cross_entropy, ref_cross_entropy, _class,
          class_weight=lambda r: _w(r, (5,)), label_smoothing=0.2,
          sample_weight=lambda r: _w(r, (6,))),
    _case("cross_entropy-3d", flj.cross_entropy, ref_cross_entropy,
          lambda r: _class(r, (3, 4, 5)), label_smoothing=0.1),
    _case("cross_entropy-probs", flj.cross_entropy, ref_cross_entropy,
          lambda r: (lambda x: (x, jax.nn.softmax(x * 0.3 + 1, -1)))(_class(r)[0]),
          class_weight=lambda r: _w(r, (5,)), label_smoothing=0.1),
    _case("multiclass_hinge", flj.multiclass_hinge, ref_multiclass_hinge, _grid),
    _case("multiclass_hinge-cs", flj.multiclass_hinge, ref_multiclass_hinge, _grid,
          kind="crammer_singer", squared=True, margin=0.5, class_weight=lambda r: _w(r, (5,))),
    _case("softmax_focal", flj.softmax_focal, ref_softmax_focal, _class),
    _case("softmax_focal-alpha", flj.softmax_focal, ref_softmax_focal, _class,
          alpha=lambda r: _w(r, (5,)), gamma=0.5),
    _case("nll", flj.nll, ref_nll, _log_probs_labels),
    _case("nll-weights", flj.nll, ref_nll, _log_probs_labels, class_weight=lambda r: _w(r, (5,)),
          sample_weight=lambda r: _w(r, (6,))),
    _case("multilabel_soft_margin", flj.multilabel_soft_margin, ref_multilabel_soft_margin,
          _multilabel, class_weight=lambda r: _w(r, (5,))),
    _case("multilabel_margin", flj.multilabel_margin, ref_multilabel_margin, _index_lists,
          sample_weight=lambda r: _w(r, (6,))),
]


# Every registered loss has a case, but the GAN losses (family adversarial), which have no
# (input, target) call: one array, or two of their own shapes whose "none" is a pair; their JAX
# forms are checked against jax.numpy formulas in tests/test_gan_adapters.py.
# Nor the embedding losses, whose fastloss.jax functions take the jax.pure_callback path for
# now (not this file's custom call): tests/test_jax_metric.py; nor the listwise ranking losses,
# on the same path: tests/test_listwise.py; nor the structured hinge (tests/test_structured_hinge.py)
# and the center loss (tests/test_center.py).
ADVERSARIAL = {n for n, s in REGISTRY.items() if s.family == "adversarial"}
PENDING_JAX = {"contrastive", "cosine_embedding", "info_nce", "triplet", "listnet", "listmle",
               "structured_hinge", "center"}
_COVERED = set(REGISTRY) - ADVERSARIAL - PENDING_JAX
assert {case.values[0].__name__ for case in CASES} == _COVERED, \
    sorted(_COVERED ^ {case.values[0].__name__ for case in CASES})


def _materialise(kwargs, r):
    return {k: (v(r) if callable(v) else v) for k, v in kwargs.items()}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("fn,ref,inputs,kwargs", CASES)
def test_matches_jnp_formulas(fn, ref, inputs, kwargs, reduction):
    r = _rng(3)
    x, y = inputs(r)
    kw = _materialise(kwargs, r)
    ref_loss = ref(x, y, reduction=reduction, **kw)
    ct = (jnp.asarray(r.standard_normal(ref_loss.shape), jnp.float32) if reduction == "none"
          else jnp.float32(2.5))

    def objective(f):
        return lambda a: jnp.sum(f(a, y, reduction=reduction, **kw) * ct)

    loss = fn(x, y, reduction=reduction, **kw)
    assert isinstance(loss, jax.Array) and loss.dtype == x.dtype and loss.shape == ref_loss.shape
    np.testing.assert_allclose(loss, ref_loss, **TOL)
    grad = jax.grad(objective(fn))(x)
    np.testing.assert_allclose(grad, jax.grad(objective(ref))(x), **TOL)
    if reduction == "sum":  # every loss once under jit (compiling all 66 cases costs ~20 s)
        np.testing.assert_allclose(jax.jit(jax.grad(objective(fn)))(x), grad, **TOL)


def test_jit_of_grad_with_traced_weights():
    r = _rng(4)
    x, t = _class(r)
    cw, sw = _w(r, (5,)), _w(r, (6,))

    @jax.jit
    def g(a, cw, sw):
        return jax.grad(lambda z: flj.cross_entropy(z, t, class_weight=cw, sample_weight=sw,
                                                    label_smoothing=0.1))(a)

    expected = jax.grad(lambda z: ref_cross_entropy(z, t, class_weight=cw, sample_weight=sw,
                                                    label_smoothing=0.1))(x)
    np.testing.assert_allclose(g(x, cw, sw), expected, **TOL)


def test_target_gradient_of_difference_losses():
    x, y = _reg(_rng(5))
    for fn, f in ((flj.mse, lambda a, b: (a - b) ** 2), (flj.huber, _huber),
                  (flj.quantile, _quantile), (flj.log_cosh, lambda a, b: jnp.log(jnp.cosh(a - b)))):
        ours = jax.grad(lambda a, b: fn(a, b, reduction="sum"), argnums=(0, 1))(x, y)
        ref = jax.grad(lambda a, b: f(a, b).sum(), argnums=(0, 1))(x, y)
        for a, b in zip(ours, ref):
            np.testing.assert_allclose(a, b, **TOL)


def test_gradient_wrt_other_arrays_raises_not_zero():
    x, y = _logits_binary(_rng(6))
    with pytest.raises(TypeError, match="cannot differentiate with respect to target"):
        jax.grad(lambda t: flj.binary_cross_entropy_with_logits(x, t))(y)
    xc, t = _class(_rng(7))
    with pytest.raises(TypeError, match="class_weight"):
        jax.grad(lambda w: flj.cross_entropy(xc, t, class_weight=w))(jnp.ones(5))


@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_vmap_losses_and_per_example_grads(reduction):
    r = _rng(8)
    xs, _ = _class(r, (4, 6, 5))
    _, t = _class(r)                      # one target, shared by the batch (in_axes None)
    sw = _w(r, (6,))
    for kw in ({}, {"sample_weight": sw, "label_smoothing": 0.1}):
        f = lambda a: flj.cross_entropy(a, t, reduction=reduction, **kw)    # noqa: E731
        fr = lambda a: ref_cross_entropy(a, t, reduction=reduction, **kw)   # noqa: E731
        batched = jax.vmap(f)(xs)
        np.testing.assert_allclose(batched, jnp.stack([f(a) for a in xs]), **TOL)
        np.testing.assert_allclose(batched, jax.vmap(fr)(xs), **TOL)
        s = lambda fn: lambda a: jnp.sum(fn(a) * 1.5)                       # noqa: E731
        np.testing.assert_allclose(jax.jit(jax.vmap(jax.grad(s(f))))(xs),
                                   jax.vmap(jax.grad(s(fr)))(xs), **TOL)


def test_vmap_pointwise_over_both_arguments_and_target_only():
    r = _rng(9)
    xs, ys = _reg(r, (3, 4, 5))
    for reduction in REDUCTIONS:
        f = lambda a, b: flj.huber(a, b, delta=0.5, reduction=reduction)      # noqa: E731
        np.testing.assert_allclose(jax.vmap(f)(xs, ys),
                                   jnp.stack([f(a, b) for a, b in zip(xs, ys)]), **TOL)
        np.testing.assert_allclose(jax.vmap(f, (None, 0))(xs[0], ys),
                                   jnp.stack([f(xs[0], b) for b in ys]), **TOL)


def test_axis_equals_moveaxis():
    x, t = _class(_rng(10), (6, 5))
    np.testing.assert_allclose(flj.cross_entropy(x.T, t, axis=0), flj.cross_entropy(x, t),
                               **tolerance("float32_few_roundings"))
    g0 = jax.grad(lambda a: flj.softmax_focal(a, t, axis=0, reduction="sum"))(x.T)
    g1 = jax.grad(lambda a: flj.softmax_focal(a, t, reduction="sum"))(x)
    np.testing.assert_allclose(g0.T, g1, **TOL)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_computed_in_float32(dtype):
    x, y = _reg(_rng(11))
    xh = x.astype(dtype)
    loss = flj.mse(xh, y)
    assert loss.dtype == jnp.float32
    grad = jax.grad(flj.mse)(xh, y)
    assert grad.dtype == jnp.dtype(dtype)
    expected = 2 * (xh.astype(jnp.float32) - y) / x.size
    np.testing.assert_allclose(grad.astype(jnp.float32), expected, **tolerance("half_precision"))


def test_second_derivative_raises():
    x, y = _reg(_rng(12), (4,))
    with pytest.raises(ValueError, match="cannot be differentiated"):
        jax.grad(lambda a: jnp.sum(jax.grad(flj.mse)(a, y)))(x)
    with pytest.raises(TypeError):
        jax.jvp(lambda a: flj.mse(a, y), (x,), (x,))


def test_argument_errors():
    x, y = _reg(_rng(13))
    with pytest.raises(ValueError, match="reduction"):
        flj.mse(x, y, reduction="avg")
    with pytest.raises(TypeError, match="float array"):
        flj.mse(jnp.ones(3, jnp.int32), jnp.ones(3, jnp.int32))
    with pytest.raises(ValueError, match="out of range"):
        flj.cross_entropy(x, jnp.zeros(6, jnp.int32), axis=2)


@pytest.mark.skipif(not hasattr(jax, "enable_x64"), reason="jax.enable_x64 context manager")
def test_float64_is_native_with_x64():
    r = _rng(14)
    with jax.enable_x64(True):
        x = jnp.asarray(r.standard_normal((6, 5)) * 2)
        t = jnp.asarray(r.integers(0, 5, 6))
        assert x.dtype == jnp.float64
        loss = flj.cross_entropy(x, t, label_smoothing=0.1)
        grad = jax.jit(jax.grad(lambda a: flj.cross_entropy(a, t, label_smoothing=0.1)))(x)
        assert loss.dtype == grad.dtype == jnp.float64
        x64 = tolerance("jax_float64")
        np.testing.assert_allclose(loss, ref_cross_entropy(x, t, label_smoothing=0.1), **x64)
        np.testing.assert_allclose(
            grad, jax.grad(lambda a: ref_cross_entropy(a, t, label_smoothing=0.1))(x), **x64)
