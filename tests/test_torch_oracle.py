"""PyTorch as an oracle: values AND gradients of every loss PyTorch has, all reductions,
grad_output != 1, float64 and float32 tensors converted from the same NumPy inputs.

Our gradient comes from ``fastloss.value_and_grad`` with the same ``grad_output`` that is fed to
``torch.autograd.backward``. Losses PyTorch does not have (sigmoid focal: torchvision, not
installed; softmax focal) are compared with their formulas written inline with torch ops.
Documented deviations are tested as deviations: BCE's per-element ``weight`` under ``mean``
(PyTorch divides by N, fastloss by the sum of the weights) and ``multi_margin_loss`` (divided by
the number of classes).
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

import fastloss as fl  # noqa: E402
from helpers import assert_close, rng_for, tol, tolerance  # noqa: E402

DTYPES = (np.float32, np.float64)
DT_IDS = ("float32", "float64")
REDUCTIONS = ("mean", "sum", "none")
TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}


def _upstream(rng, reduction, loss_shape):
    """A grad_output != 1: a scalar for reduced losses, an array for 'none'."""
    if reduction == "none":
        return rng.uniform(-2.0, 2.0, loss_shape)
    return np.float64(-1.7)


def _torch_value_and_grad(fn, first, others, grad_output, dtype):
    """fn(torch first, *others) and d(sum(grad_output * loss))/d first via autograd."""
    x = torch.tensor(first, dtype=TORCH_DTYPE[dtype], requires_grad=True)
    loss = fn(x, *others)
    g = torch.as_tensor(np.asarray(grad_output), dtype=loss.dtype).expand(loss.shape)
    loss.backward(g)
    return loss.detach().numpy(), x.grad.numpy()


def _t(a, dtype=None):
    """numpy -> torch (floats in `dtype`, integers as int64)."""
    a = np.asarray(a)
    if a.dtype.kind == "f":
        return torch.tensor(a, dtype=TORCH_DTYPE[dtype])
    return torch.tensor(a.astype(np.int64))


def _compare(name, dtype, ours, theirs, what):
    assert_close(ours, theirs.astype(dtype) if isinstance(theirs, np.ndarray) else theirs,
                 **tol(name, dtype), what=what)


def _check(name, dtype, reduction, first, rest, torch_fn, our_kw, rng, loss_shape=None,
           scale=1.0):
    """Compare value and gradient of fastloss.<name>(first, *rest, **our_kw) with
    torch_fn(first) (a function of the differentiated tensor alone). `scale` multiplies torch's
    value and gradient (for documented constant factors)."""
    loss_shape = first.shape if loss_shape is None else loss_shape
    go = _upstream(rng, reduction, loss_shape)
    fn = getattr(fl, name)
    loss, g = fl.value_and_grad(fn)(first, *rest, grad_output=go, reduction=reduction, **our_kw)
    plain = fn(first, *rest, reduction=reduction, **our_kw)
    t_loss, t_g = _torch_value_and_grad(torch_fn, first, (), go, dtype)
    assert loss.dtype == dtype and g.dtype == dtype and g.shape == first.shape
    assert np.shape(loss) == np.shape(t_loss)
    _compare(name, dtype, loss, t_loss * scale, f"{name} value ({reduction})")
    _compare(name, dtype, plain, t_loss * scale, f"{name} plain value ({reduction})")
    _compare(name, dtype, g, t_g * scale, f"{name} gradient ({reduction})")


# ---------------------------------------------------------------------------------------------
# Regression
# ---------------------------------------------------------------------------------------------

REGRESSION = [
    ("mse", {}, lambda x, y: (lambda r: F.mse_loss(x, y, reduction=r))),
    ("mae", {}, lambda x, y: (lambda r: F.l1_loss(x, y, reduction=r))),
    ("huber", {"delta": 1.0}, lambda x, y: (lambda r: F.huber_loss(x, y, reduction=r, delta=1.0))),
    ("huber", {"delta": 0.3}, lambda x, y: (lambda r: F.huber_loss(x, y, reduction=r, delta=0.3))),
    ("huber", {"delta": 4.0}, lambda x, y: (lambda r: F.huber_loss(x, y, reduction=r, delta=4.0))),
    ("smooth_l1", {"beta": 1.0},
     lambda x, y: (lambda r: F.smooth_l1_loss(x, y, reduction=r, beta=1.0))),
    ("smooth_l1", {"beta": 0.4},
     lambda x, y: (lambda r: F.smooth_l1_loss(x, y, reduction=r, beta=0.4))),
    ("smooth_l1", {"beta": 0.0},
     lambda x, y: (lambda r: F.smooth_l1_loss(x, y, reduction=r, beta=0.0))),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("name, kw, make", REGRESSION,
                         ids=[f"{n}{kw}" for n, kw, _ in REGRESSION])
def test_regression(name, kw, make, dtype, reduction):
    rng = rng_for("torch", name, kw, dtype, reduction)
    pred = (rng.standard_normal((5, 7)) * 2).astype(dtype)
    target = rng.standard_normal((5, 7)).astype(dtype)
    # include exact ties (pred == target) and points at the kinks: same subgradients as torch
    pred[0, :3] = target[0, :3]
    if "delta" in kw or "beta" in kw:
        k = kw.get("delta", kw.get("beta"))
        target[1, :2] = np.array([0.0, 0.0], dtype)
        pred[1, :2] = np.array([k, -k], dtype)
    y_t = _t(target, dtype)
    def torch_fn(x, r=reduction):
        return make(x, y_t)(r)

    _check(name, dtype, reduction, pred, (target,), torch_fn, kw, rng)


# ---------------------------------------------------------------------------------------------
# Binary classification
# ---------------------------------------------------------------------------------------------

# Weighted "mean" differs from PyTorch by design: test_binary_cross_entropy_weight_mean_deviation.
WEIGHTED_REDUCTIONS = [pytest.param(w, r, id=("weighted-" if w else "unweighted-") + r)
                       for w in (False, True) for r in REDUCTIONS if not (w and r == "mean")]


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("weighted, reduction", WEIGHTED_REDUCTIONS)
def test_binary_cross_entropy(dtype, reduction, weighted):
    rng = rng_for("torch-bce", dtype, reduction, weighted)
    p = rng.uniform(0.02, 0.98, (6, 5)).astype(dtype)
    y = rng.random((6, 5)).astype(dtype)
    y[0] = np.round(y[0])
    w = rng.uniform(0.0, 3.0, (6, 5)) if weighted else None
    kw = {"sample_weight": w} if weighted else {}
    w_t = None if w is None else _t(w, dtype)

    def torch_fn(x):
        return F.binary_cross_entropy(x, _t(y, dtype), weight=w_t, reduction=reduction)

    _check("binary_cross_entropy", dtype, reduction, p,
           (y,), torch_fn, kw, rng)


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_binary_cross_entropy_clamped_like_torch(dtype):
    """p = 0 or 1: log clamped at -100 (loss 100) and gradient (p - y) / max(p (1 - p), 1e-12),
    as PyTorch. Documented deviation: PyTorch's floor is float32(1e-12) = 9.99999996e-13 even in
    float64, fastloss's is 1e-12, so float64 gradients there differ by that ratio exactly."""
    p = np.array([0.0, 1.0, 0.0, 1.0, 1e-13, 1.0 - 2.0 ** -50, 0.0, 0.5], dtype)
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.5, 0.5], dtype)
    t_loss, t_g = _torch_value_and_grad(
        lambda q: F.binary_cross_entropy(q, _t(y, dtype), reduction="none"), p, (), 1.0, dtype)
    loss, g = fl.value_and_grad(fl.binary_cross_entropy)(p, y, reduction="none")
    np.testing.assert_array_equal(loss[:4], [100.0, 100.0, 0.0, 0.0])
    _compare("binary_cross_entropy", dtype, loss, t_loss, "clamped value")
    floor_ratio = 1.0
    if dtype == np.float64:
        floor_ratio = float(np.float32(1e-12)) / 1e-12
        tiny = np.float64(p) * (1 - np.float64(p)) < 1e-12
        t_g = np.where(tiny, t_g * floor_ratio, t_g)
    _compare("binary_cross_entropy", dtype, g, t_g, "clamped gradient")
    for reduction in ("mean", "sum"):
        ours = fl.binary_cross_entropy(p, y, reduction=reduction)
        theirs = F.binary_cross_entropy(_t(p, dtype), _t(y, dtype), reduction=reduction).numpy()
        _compare("binary_cross_entropy", dtype, ours, theirs, reduction)


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("name", ["binary_cross_entropy", "binary_cross_entropy_with_logits"])
def test_binary_cross_entropy_weight_mean_deviation(name, dtype):
    """Documented deviation: with per-element weights, PyTorch's mean is sum(w l) / N, fastloss's
    is sum(w l) / sum(w). They differ by the factor N / sum(w), for the value and the gradient."""
    rng = rng_for("torch-bce-mean", name, dtype)
    shape = (4, 6)
    first = (rng.uniform(0.05, 0.95, shape) if name == "binary_cross_entropy"
             else rng.standard_normal(shape) * 3).astype(dtype)
    y = (rng.random(shape) < 0.5).astype(dtype)
    w = rng.uniform(0.0, 4.0, shape)
    n, w_sum = w.size, w.sum()
    fn = getattr(fl, name)
    torch_f = getattr(F, name)

    def torch_fn(x):
        return torch_f(x, _t(y, dtype), weight=_t(w, dtype), reduction="mean")

    t_loss, t_g = _torch_value_and_grad(torch_fn, first, (), 1.0, dtype)
    loss, g = fl.value_and_grad(fn)(first, y, sample_weight=w)
    factor = n / w_sum
    assert abs(factor - 1.0) > 0.05  # the deviation is visible
    _compare(name, dtype, loss, np.asarray(t_loss * factor), "mean value x N / sum(w)")
    _compare(name, dtype, g, t_g * factor, "mean gradient x N / sum(w)")
    assert not np.isclose(float(loss), float(t_loss), **tolerance("clearly_different"))
    # and unweighted, or with weights of ones, they agree exactly in meaning
    ones = fn(first, y, sample_weight=np.ones(shape))
    _compare(name, dtype, ones, np.asarray(torch_f(_t(first, dtype), _t(y, dtype)).numpy()),
             "weights of ones")


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("pos_weight", [None, "scalar", "per_class"])
@pytest.mark.parametrize("weighted, reduction", WEIGHTED_REDUCTIONS)
def test_binary_cross_entropy_with_logits(dtype, reduction, pos_weight, weighted):
    rng = rng_for("torch-bcel", dtype, reduction, pos_weight, weighted)
    x = (rng.standard_normal((6, 5)) * 4).astype(dtype)
    x[0, 0], x[0, 1] = 40.0, -40.0  # saturated logits
    y = rng.random((6, 5)).astype(dtype)
    y[1] = np.round(y[1])
    pw = {None: None, "scalar": np.array(2.5), "per_class": rng.uniform(0.5, 3.0, 5)}[pos_weight]
    w = rng.uniform(0.0, 2.0, (6, 1)) if weighted else None  # broadcast over classes
    kw = {}
    if pw is not None:
        kw["pos_weight"] = pw
    if w is not None:
        kw["sample_weight"] = w

    def torch_fn(x_t):
        return F.binary_cross_entropy_with_logits(
            x_t, _t(y, dtype), weight=None if w is None else _t(w, dtype),
            pos_weight=None if pw is None else _t(np.asarray(pw, np.float64), dtype),
            reduction=reduction)

    _check("binary_cross_entropy_with_logits", dtype, reduction, x,
           (y,), torch_fn, kw, rng)


def _torchvision_sigmoid_focal(x, y, alpha, gamma, reduction):
    """torchvision.ops.sigmoid_focal_loss, verbatim in torch ops (alpha < 0 disables it)."""
    p = torch.sigmoid(x)
    ce = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    p_t = p * y + (1 - p) * (1 - y)
    loss = ce * ((1 - p_t) ** gamma)
    if alpha >= 0:
        alpha_t = alpha * y + (1 - alpha) * (1 - y)
        loss = alpha_t * loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("alpha, gamma", [(0.25, 2.0), (None, 0.0), (None, 2.0), (0.5, 1.0),
                                          (0.75, 1.5), (0.25, 0.5), (0.0, 3.0)])
def test_sigmoid_focal_vs_torchvision_formula(dtype, reduction, alpha, gamma):
    rng = rng_for("torch-sfocal", dtype, reduction, alpha, gamma)
    x = (rng.standard_normal((6, 5)) * 3).astype(dtype)
    y = rng.random((6, 5))
    y = np.where(rng.random((6, 5)) < 0.7, np.round(y), y).astype(dtype)
    kw = {"alpha": alpha, "gamma": gamma}
    a = -1.0 if alpha is None else alpha

    def torch_fn(x_t):
        return _torchvision_sigmoid_focal(x_t, _t(y, dtype), a, gamma, reduction)

    _check("sigmoid_focal", dtype, reduction, x, (y,), torch_fn, kw, rng)


# ---------------------------------------------------------------------------------------------
# Cross-entropy
# ---------------------------------------------------------------------------------------------

CE_VARIANTS = [
    {},
    {"class_weight": True},
    {"label_smoothing": 0.1},
    {"label_smoothing": 0.3, "class_weight": True},
    {"ignore_index": -100},
    {"ignore_index": 2, "class_weight": True, "label_smoothing": 0.2},
    {"label_smoothing": 1.0},
]


def _ce_case(rng, dtype, variant, shape, dense):
    """(logits with classes on axis 1, target, our kwargs, torch kwargs)."""
    c = shape[1]
    x = (rng.standard_normal(shape) * 2).astype(dtype)
    our, theirs = {}, {}
    if variant.get("class_weight"):
        w = rng.uniform(0.2, 2.0, c)
        our["class_weight"], theirs["weight"] = w, _t(w, dtype)
    if "label_smoothing" in variant:
        our["label_smoothing"] = theirs["label_smoothing"] = variant["label_smoothing"]
    if dense:
        y = rng.random(shape)
        y = (y / y.sum(axis=1, keepdims=True)).astype(dtype)
        return x, y, our, theirs
    outer = (shape[0],) + shape[2:]
    t = rng.integers(0, c, outer)
    if "ignore_index" in variant:
        ign = variant["ignore_index"]
        t = np.where(rng.random(outer) < 0.3, ign, t)
        t.flat[0] = 0 if ign != 0 else 1  # at least one counted target
        our["ignore_index"] = theirs["ignore_index"] = ign
    return x, t, our, theirs


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("shape", [(7, 5), (3, 4, 5), (2, 3, 2, 4)], ids=str)
@pytest.mark.parametrize("variant, dense", [
    pytest.param(v, d, id=("probabilities-" if d else "indices-")
                 + (",".join(f"{k}={v[k]}" for k in v) or "default"))
    for d in (False, True) for v in CE_VARIANTS if not (d and "ignore_index" in v)])
def test_cross_entropy(shape, variant, dtype, reduction, dense):
    rng = rng_for("torch-ce", shape, variant, dtype, reduction, dense)
    x, y, our, theirs = _ce_case(rng, dtype, variant, shape, dense)
    outer = (shape[0],) + shape[2:]

    def torch_fn(x_t):
        return F.cross_entropy(x_t, _t(y, dtype), reduction=reduction, **theirs)

    if len(shape) == 2:
        # the default last axis is torch's class dimension 1
        _check("cross_entropy", dtype, reduction, x,
               (y,), torch_fn, our, rng, outer)
    # axis=1: torch's layout as is
    _check("cross_entropy", dtype, reduction, x, (y,), torch_fn, dict(our, axis=1), rng, outer)
    # classes moved last (default axis): same values; the gradient moved back
    go = _upstream(rng, reduction, outer)
    x_last = np.moveaxis(x, 1, -1)
    y_last = np.moveaxis(y, 1, -1) if dense else y
    loss, g = fl.value_and_grad(fl.cross_entropy)(x_last, y_last, grad_output=go,
                                                  reduction=reduction, **our)
    t_loss, t_g = _torch_value_and_grad(torch_fn, x, (), go, dtype)
    _compare("cross_entropy", dtype, loss, t_loss, "moveaxis value")
    _compare("cross_entropy", dtype, np.moveaxis(g, -1, 1), t_g, "moveaxis gradient")
    # and axis=-ndim+1 names the same axis as 1
    loss_neg = fl.cross_entropy(x, y, axis=1 - x.ndim, reduction=reduction, **our)
    _compare("cross_entropy", dtype, loss_neg, t_loss, "negative axis value")


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_cross_entropy_all_ignored_like_torch(dtype):
    x = rng_for("ce-all-ignored").standard_normal((4, 3)).astype(dtype)
    t = np.full(4, -100)
    for reduction in REDUCTIONS:
        t_loss, t_g = _torch_value_and_grad(
            lambda x_t: F.cross_entropy(x_t, _t(t), reduction=reduction), x, (), 1.0, dtype)
        loss, g = fl.value_and_grad(fl.cross_entropy)(x, t, reduction=reduction)
        np.testing.assert_array_equal(np.isnan(loss), np.isnan(t_loss))
        np.testing.assert_array_equal(np.nan_to_num(loss), np.nan_to_num(t_loss))
        np.testing.assert_array_equal(g, np.zeros_like(x))
        if reduction != "mean":
            np.testing.assert_array_equal(t_g, np.zeros_like(x))


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("target", [0, 1], ids=["target-is-inf", "target-is-finite"])
def test_cross_entropy_plus_infinite_logit_like_torch(dtype, target):
    """+inf logit: cross_entropy is not among the documented deviations, so it gives what
    PyTorch gives (nan), whatever the target."""
    x = np.array([[np.inf, 0.0, 0.0], [0.5, -1.0, 2.0]], dtype)
    t = np.array([target, 2])
    t_loss = F.cross_entropy(_t(x, dtype), _t(t), reduction="none").numpy()
    loss = fl.cross_entropy(x, t, reduction="none")
    assert np.isnan(t_loss[0])
    assert_close(loss, t_loss, **tol("cross_entropy", dtype), what="value with a +inf logit")


# ---------------------------------------------------------------------------------------------
# multi_margin_loss
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("margin", [1.0, 0.5, 0.0])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "class-weighted"])
def test_multiclass_hinge_vs_multi_margin_loss(dtype, reduction, p, margin, weighted):
    """Weston-Watkins hinge == C x multi_margin_loss (PyTorch divides the sum over j != y by C)."""
    rng = rng_for("torch-mm", dtype, reduction, p, margin, weighted)
    c = 5
    x = (rng.integers(-16, 17, (8, c)) / 8).astype(dtype)  # exact margins, no kink ambiguity
    t = rng.integers(0, c, 8)
    w = rng.uniform(0.2, 2.0, c) if weighted else None
    kw = {"margin": margin, "squared": p == 2}
    if weighted:
        kw["class_weight"] = w

    def torch_fn(x_t):
        return F.multi_margin_loss(x_t, _t(t), p=p, margin=margin,
                                   weight=None if w is None else _t(w, dtype), reduction=reduction)

    _check("multiclass_hinge", dtype, reduction, x,
           (t,), torch_fn, kw, rng, (8,), scale=c)


# ---------------------------------------------------------------------------------------------
# softmax focal (inline torch formula)
# ---------------------------------------------------------------------------------------------

def _torch_softmax_focal(x, t, alpha, gamma, ignore_index, reduction):
    """-alpha_t (1 - p_t)^gamma log p_t over dim 1; ignored targets contribute 0 and are left
    out of the mean (which divides by the number of counted samples)."""
    keep = t != ignore_index
    safe_t = torch.where(keep, t, torch.zeros_like(t))
    logp = F.log_softmax(x, dim=1)
    logp_t = logp.gather(1, safe_t.unsqueeze(1)).squeeze(1)
    p_t = logp_t.exp()
    loss = -((1 - p_t) ** gamma) * logp_t
    if alpha is not None:
        a = torch.as_tensor(alpha, dtype=x.dtype)
        loss = loss * (a[safe_t] if a.ndim == 1 else a)
    loss = torch.where(keep, loss, torch.zeros_like(loss))
    if reduction == "mean":
        return loss.sum() / keep.sum()
    if reduction == "sum":
        return loss.sum()
    return loss


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("alpha, gamma", [(None, 2.0), (None, 0.0), (0.25, 0.5), ("per_class", 2.0),
                                          ("per_class", 1.0), (0.5, 3.0)])
@pytest.mark.parametrize("ignore", [False, True], ids=["all-counted", "some-ignored"])
def test_softmax_focal_vs_inline_formula(dtype, reduction, alpha, gamma, ignore):
    rng = rng_for("torch-smfocal", dtype, reduction, alpha, gamma, ignore)
    c = 4
    x = (rng.standard_normal((9, c)) * 2).astype(dtype)
    t = rng.integers(0, c, 9)
    if ignore:
        t[[1, 4, 5]] = -100
    a = rng.uniform(0.2, 2.0, c) if alpha == "per_class" else alpha
    kw = {"gamma": gamma, "alpha": a}

    def torch_fn(x_t):
        return _torch_softmax_focal(x_t, _t(t), a, gamma, -100, reduction)

    _check("softmax_focal", dtype, reduction, x, (t,), torch_fn, kw, rng, (9,))


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_softmax_focal_gamma0_is_cross_entropy(dtype):
    rng = rng_for("sf-ce", dtype)
    x = (rng.standard_normal((6, 5)) * 2).astype(dtype)
    t = rng.integers(0, 5, 6)
    t[2] = -100
    for reduction in REDUCTIONS:
        ours = fl.softmax_focal(x, t, gamma=0.0, reduction=reduction)
        theirs = F.cross_entropy(_t(x, dtype), _t(t), reduction=reduction).numpy()
        _compare("softmax_focal", dtype, ours, theirs, f"gamma=0 ({reduction})")


# ---------------------------------------------------------------------------------------------
# DLPack: torch tensors in
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_accepts_torch_cpu_tensors(dtype):
    rng = rng_for("dlpack", dtype)
    pred = (rng.standard_normal((4, 6))).astype(dtype)
    target = rng.standard_normal((4, 6)).astype(dtype)
    labels = rng.integers(0, 6, 4)
    cases = [
        (fl.mse, (pred, target), {}),
        (fl.huber, (pred, target), {"delta": 0.5, "reduction": "none"}),
        (fl.cross_entropy, (pred, labels), {}),
        (fl.cross_entropy, (pred, labels), {"reduction": "none", "label_smoothing": 0.1}),
        (fl.binary_cross_entropy_with_logits, (pred, (target > 0).astype(dtype)), {}),
    ]
    for fn, args, kw in cases:
        expected = fn(*args, **kw)
        tensors = [torch.from_numpy(np.ascontiguousarray(a)) for a in args]
        got = fn(*tensors, **kw)
        # Results come back as the caller's array type (torch), zero-copy from the kernel's output.
        assert isinstance(got, torch.Tensor) and got.numpy().dtype == dtype
        np.testing.assert_array_equal(got.numpy(), expected)
        e_loss, e_g = fl.value_and_grad(fn)(*args, **kw)
        g_loss, g_g = fl.value_and_grad(fn)(*tensors, **kw)
        assert isinstance(g_g, torch.Tensor)
        np.testing.assert_array_equal(g_loss.numpy(), e_loss)
        np.testing.assert_array_equal(g_g.numpy(), e_g)
    # a transposed (non-contiguous) tensor reads the same values
    t_pred = torch.from_numpy(pred.T.copy()).T
    assert not t_pred.is_contiguous()
    np.testing.assert_array_equal(fl.mse(t_pred, torch.from_numpy(target)), fl.mse(pred, target))
    # the tensors are not modified
    before = torch.from_numpy(pred.copy())
    tp = torch.from_numpy(pred.copy())
    fl.value_and_grad(fl.mse)(tp, torch.from_numpy(target))
    assert torch.equal(tp, before)


def test_torch_tensor_requiring_grad_is_read():
    # The NumPy API reads the values of a tensor that requires grad (autograd is fastloss.torch's job).
    x = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    assert float(fl.mse(x, torch.ones(3, dtype=torch.float64))) == 1.0


def test_regression_cases_cover_every_regression_loss_torch_has():
    from fastloss._registry import REGISTRY

    without_a_torch_loss = {"quantile", "log_cosh"}  # PyTorch has neither
    regression = {name for name, spec in REGISTRY.items() if spec.family == "regression"}
    assert {name for name, _, _ in REGRESSION} | without_a_torch_loss == regression
