"""fastloss.torch against PyTorch's own losses (torch.nn.functional, or an inline torch formula
for the fastloss-named ones): values and gradients for every reduction with an upstream gradient
!= 1, weights, ignore_index, label smoothing; zero-copy reads; dtypes; gradcheck; opcheck;
torch.compile without graph breaks; double backward; inputs never modified."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional
import fastloss.torch as flt  # noqa: E402  (after the importorskip above)
from fastloss._registry import TOLERANCE  # noqa: E402
from helpers import assert_same_tensor, tolerance  # noqa: E402

REDUCTIONS = ("mean", "sum", "none")
F64 = tolerance("torch_adapter_float64")


def _gen(seed):
    return torch.Generator().manual_seed(seed)


# ---- inline torch formulas for the fastloss-named losses ---------------------------------------

def _reduce(loss, reduction, weight=None, count=None):
    if weight is not None:
        loss = loss * weight
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if count is not None:
        return loss.sum() / count
    return loss.sum() / weight.expand_as(loss).sum() if weight is not None else loss.mean()


def ref_quantile(x, y, tau=0.5, reduction="mean", sample_weight=None):
    u = y - x
    return _reduce(torch.maximum(tau * u, (tau - 1) * u), reduction, sample_weight)


def ref_log_cosh(x, y, reduction="mean", sample_weight=None):
    return _reduce(torch.log(torch.cosh(x - y)), reduction, sample_weight)


def _pm1(y):
    return torch.where(y == 0, -torch.ones_like(y), y).to(torch.float64)


def ref_hinge(x, y, reduction="mean", sample_weight=None):
    return _reduce(torch.clamp(1 - _pm1(y) * x, min=0), reduction, sample_weight)


def ref_squared_hinge(x, y, reduction="mean", sample_weight=None):
    return _reduce(torch.clamp(1 - _pm1(y) * x, min=0) ** 2, reduction, sample_weight)


def ref_sigmoid_focal(x, y, alpha=0.25, gamma=2, reduction="none"):
    # torchvision.ops.sigmoid_focal_loss, verbatim
    p = torch.sigmoid(x)
    ce = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    p_t = p * y + (1 - p) * (1 - y)
    loss = ce * ((1 - p_t) ** gamma)
    if alpha >= 0:
        loss = (alpha * y + (1 - alpha) * (1 - y)) * loss
    return _reduce(loss, reduction)


def ref_softmax_focal(x, t, alpha=None, gamma=2.0, ignore_index=-100, reduction="mean"):
    keep = t != ignore_index
    safe = torch.where(keep, t, torch.zeros_like(t))
    logp = torch.log_softmax(x, dim=1).gather(1, safe.unsqueeze(1)).squeeze(1)
    loss = -((1 - logp.exp()) ** gamma) * logp
    if alpha is not None:
        a = alpha[safe] if isinstance(alpha, torch.Tensor) else alpha
        loss = a * loss
    loss = torch.where(keep, loss, torch.zeros_like(loss))
    return _reduce(loss, reduction, count=keep.sum())


def _kl_rows(p_logits, q_logits, temperature):
    """KL(softmax(p/T) || softmax(q/T)) per row (classes at dimension 1), with F.kl_div."""
    lp = F.log_softmax(p_logits / temperature, dim=1)
    lq = F.log_softmax(q_logits / temperature, dim=1)
    return F.kl_div(lq, lp, reduction="none", log_target=True).sum(1)


def ref_kl_divergence(x, y, temperature=1.0, reduction="mean"):
    return _reduce(_kl_rows(x, y, temperature), reduction)


def ref_js_divergence(x, y, beta=0.5, temperature=1.0, reduction="mean"):
    p, q = F.softmax(x / temperature, dim=1), F.softmax(y / temperature, dim=1)
    log_m = torch.log(beta * p + (1 - beta) * q)
    rows = (beta * F.kl_div(log_m, p, reduction="none").sum(1)
            + (1 - beta) * F.kl_div(log_m, q, reduction="none").sum(1))
    return _reduce(rows, reduction)


def ref_distillation(x, y, labels=None, temperature=2.0, alpha=0.5, beta=0.5, t2_scale=True,
                     ignore_index=-100, reduction="mean"):
    """Composed as the usual training code writes it: F.cross_entropy + T^2 KL (Hinton et al.)."""
    rows = beta * (temperature ** 2 if t2_scale else 1.0) * _kl_rows(y, x, temperature)
    if labels is None:
        return _reduce(rows, reduction)
    keep = labels != ignore_index
    rows = rows + alpha * F.cross_entropy(x, labels, ignore_index=ignore_index, reduction="none")
    rows = torch.where(keep, rows, torch.zeros_like(rows))
    return _reduce(rows, reduction, count=keep.sum())


def ref_multiclass_hinge(x, t, margin=1.0, kind="weston_watkins", squared=False, weight=None,
                         reduction="mean"):
    x_t = x.gather(1, t.unsqueeze(1))
    h = torch.clamp(margin + x - x_t, min=0)
    h = h.scatter(1, t.unsqueeze(1), 0.0)
    if squared:
        h = h ** 2
    loss = h.sum(1) if kind == "weston_watkins" else h.amax(1)
    if weight is not None:
        loss = loss * weight[t]
    return _reduce(loss, reduction)


# ---- the cases: (adapter, reference, inputs(gen) -> (x, target, kwargs)) -----------------------

def _reg(g, shape=(7, 5)):
    return torch.randn(shape, generator=g, dtype=torch.float64) * 2, \
        torch.randn(shape, generator=g, dtype=torch.float64)


def _w(g, shape=(7, 5)):
    return torch.rand(shape, generator=g, dtype=torch.float64) + 0.1


def _probs(g, shape=(7, 5)):
    p = torch.rand(shape, generator=g, dtype=torch.float64) * 0.9 + 0.05
    return p, (torch.rand(shape, generator=g, dtype=torch.float64) < 0.5).double()


def _logits_binary(g, shape=(7, 5)):
    return torch.randn(shape, generator=g, dtype=torch.float64) * 3, \
        torch.rand(shape, generator=g, dtype=torch.float64)


def _class(g, shape=(7, 5), ignore=True):
    x = torch.randn(shape, generator=g, dtype=torch.float64) * 2
    t_shape = shape[:1] + shape[2:]
    t = torch.randint(0, shape[1], t_shape, generator=g)
    if ignore:
        t.view(-1)[::4] = -100
    return x, t


def _grid(g, shape=(7, 5)):
    # a 1/8 grid keeps every hinge term away from its kink's rounding
    x = torch.randint(-16, 17, shape, generator=g).double() / 8 + 1 / 64
    return x, torch.randint(0, shape[1], shape[:1], generator=g)


def _labels(g, shape=(7, 5)):
    x = torch.randint(-24, 25, shape, generator=g).double() / 8 + 1 / 64
    return x, torch.randint(0, 2, shape, generator=g) * 2 - 1


def _signed(g, shape=(7, 5)):
    x = torch.randn(shape, generator=g, dtype=torch.float64) * 3
    y = (torch.randint(0, 2, shape, generator=g) * 2 - 1).double()
    return x, y * (torch.rand(shape, generator=g, dtype=torch.float64) + 0.5)


def _rates(g, shape=(7, 5)):
    x = torch.rand(shape, generator=g, dtype=torch.float64) * 3 + 0.1
    return x, torch.poisson(torch.full(shape, 2.0, dtype=torch.float64), generator=g)


def _log_probs(g, shape=(7, 5)):
    x = torch.log_softmax(torch.randn(shape, generator=g, dtype=torch.float64), 1)
    return x, torch.softmax(torch.randn(shape, generator=g, dtype=torch.float64) * 2, 1)


def _log_probs_labels(g, shape=(7, 5)):
    x, t = _class(g, shape)
    return torch.log_softmax(x, 1), t


def _multilabel(g, shape=(7, 5)):
    x = torch.randn(shape, generator=g, dtype=torch.float64) * 2
    return x, (torch.rand(shape, generator=g, dtype=torch.float64) < 0.4).double()


def _index_lists(g, shape=(7, 5)):
    # scores on a 1/8 grid plus offsets in [0.01, 0.05): every hinge term 1 - x_t + x_j is at
    # least ~1e-2 from its kink, for finite differences too; per row a permutation's first k
    # classes, then -1 (torch.randperm, as the sampler draws them)
    x = torch.randint(-16, 17, shape, generator=g).double() / 8 \
        + torch.rand(shape, generator=g, dtype=torch.float64) * 0.04 + 0.01
    t = torch.full(shape, -1)
    for r in range(shape[0]):
        k = int(torch.randint(0, shape[1] + 1, (1,), generator=g))
        t[r, :k] = torch.randperm(shape[1], generator=g)[:k]
    return x, t


def _pair(g, shape=(7, 5)):
    return torch.randn(shape, generator=g, dtype=torch.float64) * 2, \
        torch.randn(shape, generator=g, dtype=torch.float64) * 2


def _soft_targets(x):
    return x, torch.softmax(torch.randn_like(x), 1)


def _signs(g, shape):
    return torch.where(torch.rand(shape, generator=g, dtype=torch.float64) < 0.5, -1.0, 1.0)


def _case(name, fn, ref, inputs, **kwargs):
    return pytest.param(fn, ref, inputs, kwargs, id=name)


CASES = [
    _case("kl", flt.kl_divergence, ref_kl_divergence, _pair),
    _case("kl-t", flt.kl_divergence, ref_kl_divergence, _pair, temperature=2.5),
    _case("js", flt.js_divergence, ref_js_divergence, _pair),
    _case("js-beta-t", flt.js_divergence, ref_js_divergence, _pair, beta=0.3, temperature=0.7),
    _case("distillation", flt.distillation, ref_distillation, _pair,
          labels=lambda g: torch.tensor([0, 1, -100, 3, 4, 2, 1])),
    _case("distillation-no-labels", flt.distillation, ref_distillation, _pair,
          temperature=4.0, t2_scale=False),
    _case("mse", flt.mse_loss, F.mse_loss, _reg),
    _case("mse-weight", flt.mse_loss, F.mse_loss, _reg, weight=_w),
    _case("l1", flt.l1_loss, F.l1_loss, _reg),
    _case("l1-weight", flt.l1_loss, F.l1_loss, _reg, weight=_w),
    _case("huber", flt.huber_loss, F.huber_loss, _reg, delta=0.7),
    _case("huber-weight", flt.huber_loss, F.huber_loss, _reg, delta=1.3, weight=_w),
    _case("smooth_l1", flt.smooth_l1_loss, F.smooth_l1_loss, _reg, beta=0.5),
    _case("smooth_l1-beta0", flt.smooth_l1_loss, F.smooth_l1_loss, _reg, beta=0.0),
    _case("bce", flt.binary_cross_entropy, F.binary_cross_entropy, _probs),
    _case("bce-weight", flt.binary_cross_entropy, F.binary_cross_entropy, _probs,
          weight=lambda g: _w(g, (5,))),
    _case("bce_logits", flt.binary_cross_entropy_with_logits,
          F.binary_cross_entropy_with_logits, _logits_binary),
    _case("bce_logits-weights", flt.binary_cross_entropy_with_logits,
          F.binary_cross_entropy_with_logits, _logits_binary, weight=_w,
          pos_weight=lambda g: _w(g, (5,)) * 3),
    _case("soft_margin", flt.soft_margin_loss, F.soft_margin_loss, _signed),
    _case("margin_ranking", flt.margin_ranking_loss, F.margin_ranking_loss, _reg,
          target=lambda g: _signs(g, (7, 5)), margin=0.3),
    _case("hinge_embedding", flt.hinge_embedding_loss, F.hinge_embedding_loss,
          lambda g: (lambda x, y: (x.abs(), y.double()))(*_labels(g)), margin=0.7),
    _case("hinge_embedding-int", flt.hinge_embedding_loss, F.hinge_embedding_loss,
          lambda g: (lambda x, y: (x.abs(), y))(*_labels(g))),
    _case("poisson_nll", flt.poisson_nll_loss, F.poisson_nll_loss, _rates),
    _case("kl_div", flt.kl_div, F.kl_div, _log_probs),
    _case("kl_div-log_target", flt.kl_div, F.kl_div,
          lambda g: (lambda x, p: (x, torch.log(p)))(*_log_probs(g)), log_target=True),
    _case("gaussian_nll", flt.gaussian_nll_loss, F.gaussian_nll_loss, _reg,
          var=lambda g: _w(g) + 0.2),
    _case("gaussian_nll-homoscedastic", flt.gaussian_nll_loss, F.gaussian_nll_loss, _reg,
          var=lambda g: _w(g, (7,)), full=True),
    _case("poisson_nll-rate-full", flt.poisson_nll_loss, F.poisson_nll_loss, _rates,
          log_input=False, full=True, eps=1e-3),
    _case("ce", flt.cross_entropy, F.cross_entropy, _class),
    _case("ce-weight-smoothing", flt.cross_entropy, F.cross_entropy, _class,
          weight=lambda g: _w(g, (5,)), label_smoothing=0.2),
    _case("ce-ignore7", flt.cross_entropy, F.cross_entropy,
          lambda g: (lambda x, t: (x, torch.where(t == -100, 7, t)))(*_class(g)), ignore_index=7),
    _case("ce-NCd", flt.cross_entropy, F.cross_entropy, lambda g: _class(g, (3, 5, 4)),
          weight=lambda g: _w(g, (5,)), label_smoothing=0.1),
    _case("ce-NCd1d2", flt.cross_entropy, F.cross_entropy, lambda g: _class(g, (2, 4, 3, 2))),
    _case("ce-unbatched", flt.cross_entropy, F.cross_entropy,
          lambda g: (torch.randn(6, generator=g, dtype=torch.float64), torch.tensor(2))),
    _case("ce-probs", flt.cross_entropy, F.cross_entropy,
          lambda g: _soft_targets(_class(g)[0]),
          weight=lambda g: _w(g, (5,)), label_smoothing=0.1),
    _case("ce-probs-NCd", flt.cross_entropy, F.cross_entropy,
          lambda g: _soft_targets(_class(g, (3, 5, 4))[0])),
    _case("multi_margin-p1", flt.multi_margin_loss, F.multi_margin_loss, _grid),
    _case("multi_margin-p2-weight", flt.multi_margin_loss, F.multi_margin_loss, _grid, p=2,
          margin=0.5, weight=lambda g: _w(g, (5,))),
    _case("multi_margin-unbatched", flt.multi_margin_loss, F.multi_margin_loss,
          lambda g: (_grid(g)[0][0], torch.tensor(3))),
    _case("quantile", flt.quantile_loss, ref_quantile, _reg, tau=0.8),
    _case("quantile-weight", flt.quantile_loss, ref_quantile, _reg, tau=0.3, sample_weight=_w),
    _case("log_cosh", flt.log_cosh_loss, ref_log_cosh, _reg),
    _case("hinge", flt.hinge_loss, ref_hinge, _labels),
    _case("hinge-01-weight", flt.hinge_loss, ref_hinge,
          lambda g: (lambda x, y: (x, (y + 1) // 2))(*_labels(g)), sample_weight=_w),
    _case("squared_hinge", flt.squared_hinge_loss, ref_squared_hinge, _labels),
    _case("sigmoid_focal", flt.sigmoid_focal_loss, ref_sigmoid_focal, _logits_binary),
    _case("sigmoid_focal-noalpha", flt.sigmoid_focal_loss, ref_sigmoid_focal, _logits_binary,
          alpha=-1, gamma=1.5),
    _case("softmax_focal", flt.softmax_focal_loss, ref_softmax_focal, _class),
    _case("softmax_focal-alpha", flt.softmax_focal_loss, ref_softmax_focal, _class,
          alpha=lambda g: _w(g, (5,)), gamma=0.5),
    _case("multiclass_hinge", flt.multiclass_hinge_loss, ref_multiclass_hinge, _grid),
    _case("multiclass_hinge-cs", flt.multiclass_hinge_loss, ref_multiclass_hinge, _grid,
          kind="crammer_singer", squared=True, margin=0.5, weight=lambda g: _w(g, (5,))),
    _case("nll", flt.nll_loss, F.nll_loss, _log_probs_labels),
    _case("nll-weight-NCd", flt.nll_loss, F.nll_loss, lambda g: _log_probs_labels(g, (3, 5, 4)),
          weight=lambda g: _w(g, (5,))),
    _case("multilabel_soft_margin", flt.multilabel_soft_margin_loss,
          F.multilabel_soft_margin_loss, _multilabel, weight=lambda g: _w(g, (5,))),
    _case("multilabel_margin", flt.multilabel_margin_loss, F.multilabel_margin_loss,
          _index_lists),
]


def _materialise(kwargs, g):
    return {k: (v(g) if callable(v) else v) for k, v in kwargs.items()}


def _value_and_grad(fn, x, y, kwargs, reduction, upstream):
    x = x.detach().clone().requires_grad_(True)
    loss = fn(x, y, reduction=reduction, **kwargs)
    (loss * upstream).sum().backward()
    return loss.detach(), x.grad


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides the total loss")  # F.kl_div's
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("fn,ref,inputs,kwargs", CASES)
def test_matches_torch(fn, ref, inputs, kwargs, reduction):
    g = _gen(3)
    x, y = inputs(g)
    kw = _materialise(kwargs, g)
    # "not the last layer": grad_output != 1 (2.5 for reduced, a random cotangent for none)
    shape = ref(x, y, reduction="none", **kw).shape
    upstream = (torch.randn(shape, generator=g, dtype=torch.float64) if reduction == "none"
                else torch.tensor(2.5, dtype=torch.float64))
    loss, grad = _value_and_grad(fn, x, y, kw, reduction, upstream)
    ref_loss, ref_grad = _value_and_grad(ref, x, y, kw, reduction, upstream)
    assert isinstance(loss, torch.Tensor) and loss.device == x.device
    assert loss.dtype == torch.float64 and loss.shape == ref_loss.shape
    torch.testing.assert_close(loss, ref_loss, **F64)
    assert grad.dtype == x.dtype and grad.shape == x.shape
    torch.testing.assert_close(grad, ref_grad, **F64)


@pytest.mark.parametrize("fn,ref", [(flt.mse_loss, F.mse_loss), (flt.l1_loss, F.l1_loss),
                                    (flt.huber_loss, F.huber_loss),
                                    (flt.smooth_l1_loss, F.smooth_l1_loss),
                                    (flt.quantile_loss, ref_quantile),
                                    (flt.log_cosh_loss, ref_log_cosh)])
def test_target_gradient_of_difference_losses(fn, ref):
    x, y = _reg(_gen(5))
    grads = []
    for f in (fn, ref):
        a, b = x.clone().requires_grad_(True), y.clone().requires_grad_(True)
        (f(a, b, reduction="sum") * 1.5).backward()
        grads.append((a.grad, b.grad))
    torch.testing.assert_close(grads[0][1], grads[1][1], **F64)
    torch.testing.assert_close(grads[0][0], grads[1][0], **F64)


def test_label_smoothing_all_weights_and_ignore_match_torch_module():
    x, t = _class(_gen(9), (16, 11))
    w = _w(_gen(10), (11,))
    ours = flt.CrossEntropyLoss(weight=w, ignore_index=-100, label_smoothing=0.3)
    theirs = torch.nn.CrossEntropyLoss(weight=w, ignore_index=-100, label_smoothing=0.3)
    torch.testing.assert_close(ours(x, t), theirs(x, t), **F64)


def test_all_ignored_batch_gives_nan_mean_and_zero_grad_like_torch():
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    t = torch.full((4,), -100)
    loss = flt.cross_entropy(x, t)
    assert torch.isnan(loss) and torch.isnan(F.cross_entropy(x, t))
    loss.backward()
    assert torch.equal(x.grad, torch.zeros_like(x))


def test_empty_inputs_like_torch():
    x, y = torch.empty(0, 3, dtype=torch.float64), torch.empty(0, 3, dtype=torch.float64)
    assert torch.isnan(flt.mse_loss(x, y)) and torch.isnan(F.mse_loss(x, y))
    assert flt.mse_loss(x, y, reduction="sum") == 0
    w = torch.empty(0, 3, dtype=torch.float64)
    assert torch.isnan(flt.huber_loss(x, y, weight=w))  # sum / number of elements = 0/0


# ---- modules -------------------------------------------------------------------------------------

MODULES = [
    (flt.MSELoss(reduction="sum"), torch.nn.MSELoss(reduction="sum"), _reg),
    (flt.L1Loss(), torch.nn.L1Loss(), _reg),
    (flt.HuberLoss(delta=0.4), torch.nn.HuberLoss(delta=0.4), _reg),
    (flt.SmoothL1Loss(beta=2.0), torch.nn.SmoothL1Loss(beta=2.0), _reg),
    (flt.BCELoss(weight=torch.full((5,), 0.5, dtype=torch.float64)),
     torch.nn.BCELoss(weight=torch.full((5,), 0.5, dtype=torch.float64)), _probs),
    (flt.BCEWithLogitsLoss(pos_weight=torch.full((5,), 2.0, dtype=torch.float64)),
     torch.nn.BCEWithLogitsLoss(pos_weight=torch.full((5,), 2.0, dtype=torch.float64)),
     _logits_binary),
    (flt.SoftMarginLoss(reduction="none"), torch.nn.SoftMarginLoss(reduction="none"), _signed),
    (flt.HingeEmbeddingLoss(margin=0.5), torch.nn.HingeEmbeddingLoss(margin=0.5), _labels),
    (flt.KLDivLoss(reduction="batchmean"), torch.nn.KLDivLoss(reduction="batchmean"),
     _log_probs),
    (flt.PoissonNLLLoss(log_input=False, full=True), torch.nn.PoissonNLLLoss(log_input=False,
                                                                             full=True), _rates),
    (flt.CrossEntropyLoss(label_smoothing=0.1), torch.nn.CrossEntropyLoss(label_smoothing=0.1),
     _class),
    (flt.MultiMarginLoss(p=2), torch.nn.MultiMarginLoss(p=2), _grid),
    (flt.NLLLoss(weight=torch.linspace(0.5, 2.0, 5, dtype=torch.float64)),
     torch.nn.NLLLoss(weight=torch.linspace(0.5, 2.0, 5, dtype=torch.float64)), _log_probs_labels),
    (flt.MultiLabelSoftMarginLoss(reduction="sum"),
     torch.nn.MultiLabelSoftMarginLoss(reduction="sum"), _multilabel),
    (flt.MultiLabelMarginLoss(), torch.nn.MultiLabelMarginLoss(), _index_lists),
]


@pytest.mark.parametrize("ours,theirs,inputs", MODULES,
                         ids=[type(m[0]).__name__ for m in MODULES])
def test_modules_match_torch_modules(ours, theirs, inputs):
    x, y = inputs(_gen(11))
    torch.testing.assert_close(ours(x, y), theirs(x, y), **F64)
    assert "reduction" in repr(ours)


def test_fastloss_named_modules_match_functions():
    g = _gen(12)
    x, y = _reg(g)
    xl, yl = _labels(g)
    xc, tc = _class(g)
    pairs = [
        (flt.QuantileLoss(tau=0.2)(x, y), flt.quantile_loss(x, y, tau=0.2)),
        (flt.LogCoshLoss(reduction="sum")(x, y), flt.log_cosh_loss(x, y, reduction="sum")),
        (flt.HingeLoss()(xl, yl), flt.hinge_loss(xl, yl)),
        (flt.SquaredHingeLoss()(xl, yl), flt.squared_hinge_loss(xl, yl)),
        (flt.SigmoidFocalLoss(alpha=0.5)(x, y.sigmoid()),
         flt.sigmoid_focal_loss(x, y.sigmoid(), alpha=0.5)),
        (flt.SoftmaxFocalLoss(alpha=[1.0, 2.0, 1.0, 0.5, 1.0])(xc, tc),
         flt.softmax_focal_loss(xc, tc, alpha=torch.tensor([1.0, 2.0, 1.0, 0.5, 1.0]))),
        (flt.MulticlassHingeLoss(kind="crammer_singer")(xc, tc.clamp(min=0)),
         flt.multiclass_hinge_loss(xc, tc.clamp(min=0), kind="crammer_singer")),
    ]
    for a, b in pairs:
        assert_same_tensor(a, b)


# ---- tensors: zero-copy, dtypes, devices ---------------------------------------------------------

def test_conversion_is_zero_copy_for_native_dtypes():
    for dtype in (torch.float32, torch.float64, torch.int64, torch.int32):
        t = torch.arange(24).to(dtype).reshape(4, 6)
        for view in (t, t.t(), t[:, 1::2]):
            a = flt._as_numpy(view)
            assert a.__array_interface__["data"][0] == view.data_ptr()
            assert a.strides == tuple(s * view.element_size() for s in view.stride())
    t = torch.ones(3, requires_grad=True)
    assert flt._as_numpy(t).__array_interface__["data"][0] == t.data_ptr()


def test_kernel_reads_the_tensors_memory(monkeypatch):
    """What reaches the native entry is the tensors' own memory (their data pointers and
    strides), and so is what the general path's kernel dispatchers get."""
    from fastloss import _classification, _core, _regression

    seen = []

    def native(*args):
        x, target = args[9], args[10]
        seen.append((x[0], target[0], tuple(target[3])))
        return _core.run_tensors(*args)
    monkeypatch.setattr(flt, "_run_tensors", native)
    x = torch.randn(8, 6, requires_grad=True)
    y = torch.randn(6, 8).t()  # a strided (transposed) target
    flt.mse_loss(x, y).backward()
    assert seen[-1] == (x.data_ptr(), y.data_ptr(), y.stride())
    logits = torch.randn(5, 7, 3).requires_grad_(True)
    labels = torch.randint(0, 7, (5, 3))
    flt.cross_entropy(logits, labels).backward()
    assert seen[-1] == (logits.data_ptr(), labels.data_ptr(), labels.stride())

    monkeypatch.setattr(flt, "_run_tensors", lambda *args: None)  # the general path
    seen = []

    def spy(module, name):
        original = getattr(module, name)

        def wrapper(fn, kernel, x, target, *args, **kwargs):
            seen.append((x.__array_interface__["data"][0],
                         np.asarray(target).__array_interface__["data"][0]))
            return original(fn, kernel, x, target, *args, **kwargs)
        monkeypatch.setattr(module, name, wrapper)

    spy(_regression, "pointwise")
    spy(_classification, "rows")
    flt.mse_loss(x, y).backward()
    assert seen[-1] == (x.data_ptr(), y.data_ptr())
    flt.cross_entropy(logits, labels).backward()
    assert seen[-1] == (logits.data_ptr(), labels.data_ptr())


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
@pytest.mark.parametrize("name", ["mse_loss", "binary_cross_entropy_with_logits",
                                  "cross_entropy", "softmax_focal_loss"])
def test_dtype_matrix(name, dtype):
    g = _gen(13)
    if name == "cross_entropy" or name == "softmax_focal_loss":
        x64, y = _class(g, (9, 6))
        y_cast = y
    else:
        x64, y = _logits_binary(g)
        y_cast = y.to(dtype)
    x = x64.to(dtype).requires_grad_(True)
    loss = getattr(flt, name)(x, y_cast, reduction="sum")
    loss.backward()
    compute = torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype
    assert loss.dtype == compute
    assert x.grad.dtype == dtype and x.grad.device == x.device
    # oracle: the same loss on the input rounded to `dtype`, in float64
    xr = x.detach().double().requires_grad_(True)
    yr = y_cast.double() if y_cast.is_floating_point() else y_cast
    ref = getattr(flt, name)(xr, yr, reduction="sum")
    ref.backward()
    # The loss is computed in float32 for the half types: it meets float32's contract.
    contract = TOLERANCE[np.dtype(np.float64 if dtype == torch.float64 else np.float32)]
    loss_tol = {"rtol": contract["rtol"], "atol": 0.0}  # the contract's relative bound alone
    torch.testing.assert_close(loss.double(), ref, **loss_tol)
    grad_tol = tolerance(f"{str(dtype).removeprefix('torch.')}_gradient")
    torch.testing.assert_close(x.grad.double(), xr.grad, **grad_tol)


def test_int32_class_indices_and_float_target_cast():
    x, t = _class(_gen(14), (6, 4), ignore=False)
    torch.testing.assert_close(flt.cross_entropy(x, t.int()), F.cross_entropy(x, t), **F64)
    xs = x.float()
    torch.testing.assert_close(flt.mse_loss(xs, x), F.mse_loss(xs, x.float()))


def test_non_cpu_tensors_raise_clear_error():
    x = torch.empty(4, 3, device="meta")
    with pytest.raises(RuntimeError, match="fastloss reads CPU and CUDA tensors only"):
        flt.mse_loss(x, x)
    with pytest.raises(RuntimeError, match="weight is on device 'meta'"):
        flt.cross_entropy(torch.randn(4, 3), torch.zeros(4, dtype=torch.long),
                          weight=torch.ones(3, device="meta"))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_the_cuda_route_gives_the_cpu_results(reduction, monkeypatch):
    """CPU tensors sent down the route of CUDA tensors (tensors to the NumPy API, DLPack device
    views to the native dispatch, outputs allocated by torch): the CPU backend then computes,
    and the results must be those of the NumPy route, bit for bit."""
    from fastloss import _arrays
    x, t = _class(_gen(15), (6, 4), ignore=True)
    weight = torch.rand(4, dtype=x.dtype)
    calls = [lambda a: flt.cross_entropy(a, t, weight=weight, reduction=reduction),
             lambda a: flt.multi_margin_loss(a, t.clamp(min=0), reduction=reduction),
             lambda a: flt.huber_loss(a, x.detach() * 0.5, delta=0.3, reduction=reduction),
             lambda a: flt.binary_cross_entropy_with_logits(a, (x.detach() > 0).to(x.dtype),
                                                            reduction=reduction),
             lambda a: flt.cross_entropy(a * 1.0, t, reduction=reduction, inplace_backward=True)]
    for call in calls:
        results = []
        for route in ("numpy", "device"):
            if route == "device":
                monkeypatch.setattr(_arrays, "_on_cpu", lambda device: False)
                monkeypatch.setattr(flt, "_through_device_path", lambda input: True)
                monkeypatch.setattr(flt, "_as_numpy", lambda t: pytest.fail("took the NumPy route"))
            a = x.detach().clone().requires_grad_()
            loss = call(a)
            loss.backward(torch.ones_like(loss) * 0.5)
            results.append((loss.detach(), a.grad))
        monkeypatch.undo()
        (l0, g0), (l1, g1) = results
        assert_same_tensor(l1, l0)
        assert_same_tensor(g1, g0)


def test_argument_errors():
    x = torch.randn(4, 3, requires_grad=True)
    with pytest.raises(ValueError, match="reduction"):
        flt.mse_loss(x, x.detach(), reduction="avg")
    with pytest.raises(TypeError, match="float16, bfloat16, float32 or float64"):
        flt.mse_loss(torch.ones(3, dtype=torch.long), torch.ones(3, dtype=torch.long))
    with pytest.raises(RuntimeError, match="target requires grad"):
        flt.binary_cross_entropy_with_logits(x, torch.rand(4, 3, requires_grad=True))
    with pytest.raises(RuntimeError, match="weight requires grad"):
        flt.cross_entropy(x, torch.zeros(4, dtype=torch.long),
                          weight=torch.ones(3, requires_grad=True))
    with pytest.raises(ValueError, match="p == 1 and p == 2"):
        flt.multi_margin_loss(x, torch.zeros(4, dtype=torch.long), p=3)
    with pytest.raises(ValueError, match="out of range"):
        flt.cross_entropy(x, torch.full((4,), 3))
    with pytest.raises(TypeError):  # in-place gradients: the row losses only
        flt.mse_loss(x, x.detach(), inplace_backward=True)


def test_legacy_size_average_and_reduce():
    x, y = _reg(_gen(15))
    with pytest.warns(UserWarning):
        ours = flt.mse_loss(x, y, size_average=False)
    with pytest.warns(UserWarning):
        theirs = F.mse_loss(x, y, size_average=False)
    torch.testing.assert_close(ours, theirs, **F64)


def test_no_gradient_is_computed_when_autograd_does_not_need_it(monkeypatch):
    from fastloss import _core

    def forbidden(*args, **kwargs):
        raise AssertionError("the gradient was computed")

    wants = []

    def native(*args):
        wants.append(args[8] or args[14] is not None)  # want_grad, grad_into
        return _core.run_tensors(*args)

    monkeypatch.setattr(flt, "_value_and_grad", lambda loss: forbidden)
    monkeypatch.setattr(flt, "_run_tensors", native)
    x, t = _class(_gen(16))
    flt.cross_entropy(x, t)                       # no requires_grad
    with torch.no_grad():
        flt.cross_entropy(x.requires_grad_(True), t)
    assert wants == [False, False]
    monkeypatch.setattr(flt, "_run_tensors", lambda *args: None)  # the general path
    flt.cross_entropy(x.detach(), t)
    with torch.no_grad():
        flt.cross_entropy(x, t)


# ---- autograd contract ---------------------------------------------------------------------------

GRADCHECK = [
    (flt.mse_loss, _reg, {}), (flt.l1_loss, _reg, {}), (flt.huber_loss, _reg, {"delta": 0.8}),
    (flt.smooth_l1_loss, _reg, {"beta": 0.6}), (flt.quantile_loss, _reg, {"tau": 0.3}),
    (flt.log_cosh_loss, _reg, {}), (flt.binary_cross_entropy, _probs, {}),
    (flt.binary_cross_entropy_with_logits, _logits_binary, {"pos_weight": torch.tensor(2.0)}),
    (flt.hinge_loss, _labels, {}), (flt.squared_hinge_loss, _labels, {}),
    (flt.sigmoid_focal_loss, _logits_binary, {}), (flt.soft_margin_loss, _signed, {}),
    (flt.margin_ranking_loss, _reg, {"target": _signs(_gen(25), (7, 5)), "margin": 0.2}),
    (flt.hinge_embedding_loss, _labels, {"margin": 0.6}),
    (flt.poisson_nll_loss, _rates, {"log_input": False, "full": True}),
    (flt.kl_div, _log_probs, {}),
    (flt.gaussian_nll_loss, _reg, {"var": torch.full((7, 5), 0.7, dtype=torch.float64)}),
    (flt.cross_entropy, lambda g: _class(g, (4, 5, 3)), {"label_smoothing": 0.1}),
    (flt.multi_margin_loss, _grid, {"p": 2}), (flt.softmax_focal_loss, _class, {"gamma": 1.5}),
    (flt.multiclass_hinge_loss, _grid, {"squared": True}),
    (flt.nll_loss, _log_probs_labels, {"weight": torch.linspace(0.5, 2.0, 5, dtype=torch.float64)}),
    (flt.multilabel_soft_margin_loss, _multilabel, {}), (flt.multilabel_margin_loss,
                                                         _index_lists, {}),
    (flt.kl_divergence, _pair, {"temperature": 1.5}), (flt.js_divergence, _pair, {"beta": 0.3}),
    (flt.distillation, _pair, {"labels": torch.tensor([0, 1, -100, 3, 4, 2, 1])}),
]


@pytest.mark.parametrize("fn,inputs,kwargs", GRADCHECK, ids=[c[0].__name__ for c in GRADCHECK])
def test_gradcheck_float64(fn, inputs, kwargs):
    x, y = inputs(_gen(17))
    x = x.requires_grad_(True)
    for reduction in ("none", "mean"):
        assert torch.autograd.gradcheck(lambda a: fn(a, y, reduction=reduction, **kwargs), (x,),
                                        eps=1e-6, atol=tolerance("finite_difference")["atol"])


@pytest.mark.parametrize("fn,kwargs", [
    (flt.kl_divergence, {"temperature": 2.0}), (flt.js_divergence, {"beta": 0.7}),
    (flt.distillation, {"labels": torch.tensor([2, -100, 0, 1])})], ids=lambda v: getattr(
        v, "__name__", ""))
def test_gradcheck_both_logits_of_divergences(fn, kwargs):
    x, y = _pair(_gen(23), (4, 3))
    for reduction in ("none", "mean"):
        assert torch.autograd.gradcheck(
            lambda a, b: fn(a, b, reduction=reduction, **kwargs),
            (x.clone().requires_grad_(True), y.clone().requires_grad_(True)),
            eps=1e-6, atol=tolerance("finite_difference")["atol"])


def test_divergence_modules_match_functions():
    x, y = _pair(_gen(24))
    labels = torch.tensor([0, 1, -100, 3, 4, 2, 1])
    torch.testing.assert_close(flt.KLDivergenceLoss(temperature=2.0)(x, y),
                               flt.kl_divergence(x, y, temperature=2.0), **F64)
    torch.testing.assert_close(flt.JSDivergenceLoss(beta=0.2, reduction="none")(x, y),
                               flt.js_divergence(x, y, beta=0.2, reduction="none"), **F64)
    torch.testing.assert_close(flt.DistillationLoss(temperature=3.0)(x, y, labels),
                               flt.distillation(x, y, labels, temperature=3.0), **F64)


def test_gradcheck_target_of_difference_loss():
    x, y = _reg(_gen(18), (4, 3))
    assert torch.autograd.gradcheck(lambda a, b: flt.huber_loss(a, b, reduction="none"),
                                    (x.requires_grad_(True), y.requires_grad_(True)))


OPCHECK = [
    ("mse_loss", _reg, ("none", True, None)),
    ("l1_loss", _reg, ("mean", True, None)),
    ("huber_loss", _reg, ("sum", True, 1.0, None)),
    ("smooth_l1_loss", _reg, ("none", True, 0.5)),
    ("quantile_loss", _reg, ("mean", True, 0.3, None, None)),
    ("log_cosh_loss", _reg, ("none", True, None)),
    ("binary_cross_entropy", _probs, ("mean", True, None)),
    ("binary_cross_entropy_with_logits", _logits_binary, ("none", True, None, None)),
    ("hinge_loss", _labels, ("sum", True, None)),
    ("squared_hinge_loss", _labels, ("none", True, None)),
    ("sigmoid_focal_loss", _logits_binary, ("mean", True, 0.25, 2.0, None)),
    ("soft_margin_loss", _signed, ("mean", True)),
    ("margin_ranking_loss", _reg, ("none", True, torch.ones(7, 5, dtype=torch.float64), 0.5)),
    ("hinge_embedding_loss", _labels, ("mean", True, 1.0)),
    ("poisson_nll_loss", _rates, ("none", True, True, True, 1e-8)),
    ("kl_div", _log_probs, ("sum", True, False)),
    ("gaussian_nll_loss", _reg, ("mean", True, torch.ones(7, 5, dtype=torch.float64), False,
                                 1e-6)),
    ("cross_entropy", _class, ("none", True, None, -100, 0.1)),
    ("cross_entropy", lambda g: _class(g, (3, 5, 2)), ("mean", False, None, -100, 0.0)),
    ("multi_margin_loss", _grid, ("none", True, 1, 1.0, None)),
    ("softmax_focal_loss", _class, ("mean", True, None, None, 2.0, -100, None)),
    ("multiclass_hinge_loss", _grid, ("none", True, 1.0, "weston_watkins", False, None, None)),
    ("nll_loss", _log_probs_labels, ("mean", True, None, -100)),
    ("multilabel_soft_margin_loss", _multilabel, ("none", True, None)),
    # (classes last: the fake's loss shape drops the last dimension, not dimension 1)
    ("multilabel_soft_margin_loss", lambda g: _multilabel(g, (3, 4, 5)), ("none", True, None)),
    ("multilabel_margin_loss", _index_lists, ("sum", True)),
    ("kl_divergence", _pair, ("mean", True, 1.5, None)),
    ("js_divergence", _pair, ("none", True, 0.5, 1.0, None)),
    ("distillation", _pair, ("mean", True, torch.tensor([0, 1, -100, 3, 4, 2, 1]), 2.0, 0.5,
                             0.5, True, -100, None)),
]


@pytest.mark.parametrize("name,inputs,args", OPCHECK, ids=[c[0] for c in OPCHECK])
def test_opcheck(name, inputs, args):
    x, y = inputs(_gen(19))
    x = x.requires_grad_(args[1])
    torch.library.opcheck(getattr(torch.ops.fastloss, name).default, (x, y, *args))


def test_opcheck_half_input_and_class_weights():
    x, t = _class(_gen(20))
    x = x.to(torch.bfloat16).requires_grad_(True)
    torch.library.opcheck(torch.ops.fastloss.cross_entropy.default,
                          (x, t, "mean", True, torch.rand(5), -100, 0.0))


def test_double_backward_raises():
    x, y = _reg(_gen(21))
    x.requires_grad_(True)
    with pytest.raises(RuntimeError, match="double backward is not supported"):
        torch.autograd.grad(flt.mse_loss(x, y), x, create_graph=True)
    logits, t = _class(_gen(22))
    logits.requires_grad_(True)
    with pytest.raises(RuntimeError, match="double backward is not supported"):
        torch.autograd.grad(flt.cross_entropy(logits, t) ** 2, logits, create_graph=True)


@pytest.mark.parametrize("fn,inputs", [(flt.cross_entropy, _class), (flt.mse_loss, _reg),
                                       (flt.multi_margin_loss, _grid)])
def test_input_is_not_modified(fn, inputs):
    x, y = inputs(_gen(23))
    x.requires_grad_(True)
    before, version = x.detach().clone(), x._version
    loss = fn(x, y)
    loss.backward()
    assert torch.equal(x.detach(), before) and x._version == version
    assert x.grad.data_ptr() != x.data_ptr()


def test_retain_graph_backward_twice_accumulates():
    """With grad_output 1 the saved gradient itself is returned; a second backward of the same
    graph must still see it unchanged."""
    x, t = _class(_gen(26))
    x.requires_grad_(True)
    loss = flt.cross_entropy(x, t)
    loss.backward(retain_graph=True)
    first = x.grad.clone()
    loss.backward(retain_graph=True)
    loss.backward()
    torch.testing.assert_close(x.grad, 3 * first, **F64)
    torch.testing.assert_close(first, torch.autograd.grad(F.cross_entropy(x, t), x)[0], **F64)


# ---- torch.compile -------------------------------------------------------------------------------

@pytest.mark.parametrize("fn,inputs,kwargs", GRADCHECK, ids=[c[0].__name__ for c in GRADCHECK])
def test_compile_fullgraph_aot_eager(fn, inputs, kwargs):
    torch._dynamo.reset()
    x, y = inputs(_gen(24))

    def step(a, b):
        return fn(a * 1.0, b, reduction="none", **kwargs).sum() * 2.0

    compiled = torch.compile(step, fullgraph=True, backend="aot_eager")
    a1, a2 = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    l1, l2 = compiled(a1, y), step(a2, y)
    l1.backward()
    l2.backward()
    torch.testing.assert_close(l1, l2, **F64)
    torch.testing.assert_close(a1.grad, a2.grad, **F64)


# inductor imports a torch module that calls the deprecated torch.jit.script_method (torch's own
# warning, not ours; pytest turns warnings into errors)
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
def test_compile_fullgraph_inductor_training_step():
    """A linear layer + fastloss cross-entropy compiled whole by inductor (the default backend):
    fullgraph=True fails on any graph break."""
    torch._dynamo.reset()
    g = _gen(25)
    h = torch.randn(16, 8, generator=g)
    t = torch.randint(0, 5, (16,), generator=g)
    w1 = torch.randn(8, 5, generator=g).requires_grad_(True)
    w2 = w1.detach().clone().requires_grad_(True)

    def step(w):
        return flt.cross_entropy(torch.tanh(h @ w), t, label_smoothing=0.1)

    compiled = torch.compile(step, fullgraph=True)
    l1, l2 = compiled(w1), step(w2)
    l1.backward()
    l2.backward()
    torch.testing.assert_close(l1, l2)
    torch.testing.assert_close(w1.grad, w2.grad)


@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_eager_path_equals_the_custom_op_path(reduction, monkeypatch):
    """Eager calls run the op body through an autograd.Function; torch.compile and torch.func
    get the registered custom op. Both must give the same loss and gradients, bit for bit."""
    x, t = _class(_gen(16), (6, 4), ignore=True)
    y = x.detach() * 0.5
    calls = [lambda a, b: flt.mse_loss(a, b, reduction=reduction),
             lambda a, b: flt.huber_loss(a, b, delta=0.3, reduction=reduction),
             lambda a, b: flt.cross_entropy(a, t, label_smoothing=0.1, reduction=reduction),
             lambda a, b: flt.cross_entropy(a * 1.0, t, reduction=reduction,
                                            inplace_backward=True),
             lambda a, b: flt.sigmoid_focal_loss(a, (b > 0).to(a.dtype), reduction=reduction)]
    for call in calls:
        results = []
        for eager in (True, False):
            if not eager:
                monkeypatch.setattr(flt, "_eager", lambda input: False)
            a = x.detach().clone().requires_grad_()
            b = y.clone().requires_grad_()
            loss = call(a, b)
            loss.backward(torch.full_like(loss, 0.75))
            results.append((loss.detach(), a.grad, b.grad))
        monkeypatch.undo()
        for got, want in zip(results[0], results[1]):
            if want is None:
                assert got is None
            else:
                assert_same_tensor(got, want)


# ---- coverage: the hand-written lists above name every registered loss's adapter --------------

# The GAN losses (fastloss.torch._adversarial) have no custom op and no (input, target) call:
# their values, gradients (gradcheck too), modules and errors are in tests/test_gan_adapters.py.
_GAN = {"gan_discriminator_loss", "gan_generator_loss"}
# The embedding losses (fastloss.torch._metric: two or three differentiable tensors, no custom op
# yet) are checked against torch.nn.functional and the NumPy API in tests/test_torch_metric.py.
# (center: tests/test_center.py)
_EMBEDDING = {"triplet_margin_loss", "cosine_embedding_loss", "contrastive", "info_nce", "center"}
# The listwise ranking losses take the same autograd.Function: tests/test_listwise.py.
_LISTWISE = {"listnet", "listmle"}
# The structured hinge (costs beside its scores): tests/test_structured_hinge.py.
_STRUCTURED = {"structured_hinge"}
_ADAPTERS = set(flt.FOR_REGISTRY.values()) - _GAN - _EMBEDDING - _LISTWISE - _STRUCTURED
# MODULES compare with torch.nn's modules, so they leave out the modules of the losses PyTorch
# does not have (their functions are in CASES, against fastloss's own NumPy API).
# (GaussianNLLLoss: its forward takes var, test_likelihood.py compares it with torch's.)
_MODULES_WITHOUT_A_TORCH_PEER = {"GaussianNLLLoss", "QuantileLoss", "LogCoshLoss", "HingeLoss",
                                 "SquaredHingeLoss", "SigmoidFocalLoss", "SoftmaxFocalLoss",
                                 "MulticlassHingeLoss",
                                 # (torch.nn.KLDivLoss takes log-probabilities, not two logits
                                 # tensors: test_divergence_modules_match_functions)
                                 "KLDivergenceLoss", "JSDivergenceLoss", "DistillationLoss",
                                 # (its forward takes three tensors: test_margin_ranking.py)
                                 "MarginRankingLoss",
                                 # (no torch.nn GAN loss: tests/test_gan_adapters.py)
                                 "GANDiscriminatorLoss", "GANGeneratorLoss",
                                 # (tests/test_torch_metric.py)
                                 "TripletMarginLoss", "CosineEmbeddingLoss", "ContrastiveLoss",
                                 # (tests/test_info_nce.py, tests/test_center.py)
                                 "InfoNCELoss", "CenterLoss",
                                 # (tests/test_listwise.py)
                                 "ListNetLoss", "ListMLELoss",
                                 # (tests/test_structured_hinge.py)
                                 "StructuredHingeLoss",
                                 # (tests/test_triplet_distance.py)
                                 "TripletMarginWithDistanceLoss"}


def test_the_hand_lists_cover_every_adapter():
    assert {c.values[0].__name__ for c in CASES} >= _ADAPTERS
    assert {c[0].__name__ for c in GRADCHECK} >= _ADAPTERS
    assert {c[0] for c in OPCHECK} >= _ADAPTERS
    modules = {name for name in flt.__all__ if name.endswith("Loss")}
    assert {type(ours).__name__ for ours, _, _ in MODULES} | _MODULES_WITHOUT_A_TORCH_PEER \
        == modules
