"""fastloss.torch's native path (``_core.run_tensors``, bindings/raw_entry.cc): CPU tensors go
to one native call. It must compute exactly what the general path (the NumPy API) computes, bit
for bit, decline whatever it does not handle so that the general path computes it or raises its
error, and validate what it is given."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
import fastloss.torch as flt  # noqa: E402
from fastloss import _core  # noqa: E402
from helpers import assert_same_tensor  # noqa: E402

C = 5


def _gen():
    return torch.Generator().manual_seed(7)


def _x(g, shape=(6, C), dtype=torch.float64):
    return torch.randn(shape, generator=g, dtype=dtype)


def _w(g, shape):
    return torch.rand(shape, generator=g, dtype=torch.float64) + 0.1


def _labels(g, shape=(6,)):
    return torch.randint(0, C, shape, generator=g)


# (name, call(x, g) -> loss): every loss, with and without its weights and hyper-parameters
CALLS = [
    ("mse", lambda x, g, **k: flt.mse_loss(x, _x(g), **k)),
    ("mse-weight", lambda x, g, **k: flt.mse_loss(x, _x(g), weight=_w(g, (C,)), **k)),
    ("mse-float32-target", lambda x, g, **k: flt.mse_loss(x, _x(g, dtype=torch.float32), **k)),
    ("l1-weight", lambda x, g, **k: flt.l1_loss(x, _x(g), weight=_w(g, (6, 1)), **k)),
    ("huber", lambda x, g, **k: flt.huber_loss(x, _x(g), delta=0.3, **k)),
    ("huber-weight", lambda x, g, **k: flt.huber_loss(x, _x(g), weight=_w(g, (C,)), **k)),
    ("smooth_l1", lambda x, g, **k: flt.smooth_l1_loss(x, _x(g), beta=0.5, **k)),
    ("quantile", lambda x, g, **k: flt.quantile_loss(x, _x(g), tau=0.8, **k)),
    ("quantile-weight", lambda x, g, **k: flt.quantile_loss(
        x, _x(g), tau=0.3, sample_weight=_w(g, (6, C)), **k)),
    ("log_cosh", lambda x, g, **k: flt.log_cosh_loss(x, _x(g), **k)),
    ("bce", lambda x, g, **k: flt.binary_cross_entropy(x.sigmoid(), torch.rand(
        6, C, generator=g, dtype=x.dtype), **k)),
    ("bce-weight", lambda x, g, **k: flt.binary_cross_entropy(x.sigmoid(), torch.rand(
        6, C, generator=g, dtype=x.dtype), weight=_w(g, (C,)), **k)),
    ("bce_logits", lambda x, g, **k: flt.binary_cross_entropy_with_logits(
        x, torch.rand(6, C, generator=g, dtype=x.dtype), **k)),
    ("bce_logits-weights", lambda x, g, **k: flt.binary_cross_entropy_with_logits(
        x, torch.rand(6, C, generator=g, dtype=x.dtype), weight=_w(g, (6, C)),
        pos_weight=_w(g, (C,)), **k)),
    ("hinge", lambda x, g, **k: flt.hinge_loss(x, torch.randint(0, 2, (6, C), generator=g), **k)),
    ("squared_hinge", lambda x, g, **k: flt.squared_hinge_loss(
        x, torch.randint(0, 2, (6, C), generator=g).double() * 2 - 1, **k)),
    ("sigmoid_focal", lambda x, g, **k: flt.sigmoid_focal_loss(
        x, torch.rand(6, C, generator=g, dtype=x.dtype), **k)),
    ("sigmoid_focal-noalpha", lambda x, g, **k: flt.sigmoid_focal_loss(
        x, torch.rand(6, C, generator=g, dtype=x.dtype), alpha=-1, gamma=1.5, **k)),
    ("ce", lambda x, g, **k: flt.cross_entropy(x, _labels(g), **k)),
    ("ce-all-options", lambda x, g, **k: flt.cross_entropy(
        x, torch.where(_labels(g) == 2, -1, _labels(g)), weight=_w(g, (C,)), ignore_index=-1,
        label_smoothing=0.2, **k)),
    ("ce-int32-labels", lambda x, g, **k: flt.cross_entropy(x, _labels(g).int(), **k)),
    ("ce-probs", lambda x, g, **k: flt.cross_entropy(
        x, torch.softmax(_x(g), 1), label_smoothing=0.1, **k)),
    ("ce-NCd", lambda x, g, **k: flt.cross_entropy(
        x.reshape(2, 3, C).transpose(1, 2), _labels(g, (2, 3)), **k)),
    ("ce-unbatched", lambda x, g, **k: flt.cross_entropy(x[0], torch.tensor(3), **k)),
    ("multi_margin", lambda x, g, **k: flt.multi_margin_loss(x, _labels(g), **k)),
    ("multi_margin-p2-weight", lambda x, g, **k: flt.multi_margin_loss(
        x, _labels(g), p=2, margin=0.5, weight=_w(g, (C,)), **k)),
    ("softmax_focal", lambda x, g, **k: flt.softmax_focal_loss(x, _labels(g), alpha=0.3, **k)),
    ("softmax_focal-alpha", lambda x, g, **k: flt.softmax_focal_loss(
        x, _labels(g), alpha=_w(g, (C,)), sample_weight=_w(g, (6,)), **k)),
    ("multiclass_hinge-cs", lambda x, g, **k: flt.multiclass_hinge_loss(
        x, _labels(g), kind="crammer_singer", squared=True, weight=_w(g, (C,)), **k)),
    ("ce-strided-input", lambda x, g, **k: flt.cross_entropy(
        x.t().contiguous().t(), _labels(g), **k)),
]


def _run(call, reduction, dtype):
    g = _gen()
    x = _x(g, dtype=dtype).requires_grad_(True)
    loss = call(x, g, reduction=reduction)
    upstream = torch.rand(loss.shape, generator=g, dtype=loss.dtype) + 0.5
    loss.backward(upstream)
    return loss.detach(), x.grad


def _spy(monkeypatch):
    """The native entry, counting its calls and recording whether each one ran (or declined)."""
    seen = []

    def spy(*args):
        out = _core.run_tensors(*args)
        seen.append(out is not None)
        return out
    monkeypatch.setattr(flt, "_run_tensors", spy)
    return seen


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name,call", CALLS, ids=[c[0] for c in CALLS])
def test_native_path_equals_the_general_path(name, call, reduction, dtype, monkeypatch):
    seen = _spy(monkeypatch)
    native = _run(call, reduction, dtype)
    assert seen == [True], "the call did not run natively"
    monkeypatch.setattr(flt, "_run_tensors", lambda *args: None)  # every call declined
    general = _run(call, reduction, dtype)
    for got, want in zip(native, general):
        assert_same_tensor(got, want)


def test_in_place_gradients_run_natively(monkeypatch):
    seen = _spy(monkeypatch)
    z = torch.randn(6, C, dtype=torch.float64, requires_grad=True)
    logits = z * 2.0
    target = torch.randint(0, C, (6,))
    flt.cross_entropy(logits, target, inplace_backward=True).backward()
    assert seen == [True]
    reference = z.detach().clone().requires_grad_(True)
    torch.nn.functional.cross_entropy(reference * 2.0, target).backward()
    torch.testing.assert_close(z.grad, reference.grad)


DECLINED = [
    ("label out of range", ValueError, r"\[fastloss.cross_entropy\] target label 9 out of range",
     lambda: flt.cross_entropy(torch.randn(4, C), torch.tensor([0, 9, 1, 2]))),
    ("negative class weight", ValueError, r"class_weight must be finite and >= 0",
     lambda: flt.cross_entropy(torch.randn(4, C), torch.zeros(4, dtype=torch.long),
                               weight=-torch.ones(C))),
    ("nan sample weight", ValueError, r"sample_weight must be finite and >= 0",
     lambda: flt.mse_loss(torch.randn(4), torch.randn(4), weight=torch.tensor([1, 2, 3, 1e400]))),
    ("probability outside [0, 1]", ValueError, r"prob must be in \[0, 1\]",
     lambda: flt.binary_cross_entropy(torch.tensor([0.5, 1.5]), torch.tensor([0.0, 1.0]))),
    ("target of another shape", ValueError, r"target must have the shape",
     lambda: flt.mse_loss(torch.randn(4, 3), torch.randn(3))),
    ("weight that does not broadcast", ValueError, r"does not broadcast",
     lambda: flt.mse_loss(torch.randn(4, 3), torch.randn(4, 3), weight=torch.ones(4))),
    ("class weights of the wrong length", ValueError, r"class_weight must have shape \(5,\)",
     lambda: flt.cross_entropy(torch.randn(4, C), torch.zeros(4, dtype=torch.long),
                               weight=torch.ones(3))),
    ("integer target of a regression loss", TypeError, r"target must have the dtype of pred",
     lambda: flt.mse_loss(torch.randn(4), torch.ones(4, dtype=torch.long))),
]


@pytest.mark.parametrize("what,exc,message,call", DECLINED, ids=[c[0] for c in DECLINED])
def test_what_the_native_path_declines_raises_the_general_paths_error(what, exc, message, call,
                                                                      monkeypatch):
    seen = _spy(monkeypatch)
    with pytest.raises(exc, match=message):
        call()
    assert seen == [False]


def test_half_precision_takes_the_general_path(monkeypatch):
    seen = _spy(monkeypatch)
    x = torch.randn(4, C, dtype=torch.bfloat16, requires_grad=True)
    flt.cross_entropy(x, torch.zeros(4, dtype=torch.long)).backward()
    assert seen == [] and x.grad.dtype == torch.bfloat16


# ---- the native entry validates what it is given ------------------------------------------------

def _entry(x_desc, y_desc=None):
    y_desc = x_desc if y_desc is None else y_desc
    mse = _core.kernels()["mse"]["id"]
    return _core.run_tensors(mse, 1, [], None, 1.0, 0.0, -1, None, True, x_desc, y_desc, None,
                             None, None, None)


def test_the_native_entry_reads_a_described_tensor():
    x = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    loss, grad = _entry((x.data_ptr(), 1, (3,), (1,)), (torch.zeros(3, dtype=torch.float64).data_ptr(), 1, (3,), (1,)))
    assert float(loss) == pytest.approx(14 / 3) and grad.tolist() == pytest.approx([2 / 3, 4 / 3, 2])


@pytest.mark.parametrize("desc,exc,message", [
    ((1, 42, (3,), (1,)), TypeError, r"unknown dtype code 42"),
    ((0, 0, (3,), (1,)), ValueError, r"null data pointer"),
    ((1, 0, (3,), (1, 1)), ValueError, r"shape and strides differ in length"),
    ((1, 0, (-3,), (1,)), ValueError, r"negative dimension"),
    ((1, 0, [3], [1]), TypeError, r"shape and strides must be tuples"),
    ((1, 0, (3,)), TypeError, r"a tensor is \(data pointer, dtype code, shape, strides\)"),
    (("p", 0, (3,), (1,)), TypeError, r"data pointer must be a non-negative integer"),
], ids=["dtype-code", "null", "ndim", "negative", "lists", "short", "pointer-type"])
def test_the_native_entry_refuses_a_bad_description(desc, exc, message):
    with pytest.raises(exc, match=message):
        _entry(desc)


def test_the_native_entry_declines_what_it_does_not_read():
    x = torch.ones(3)
    assert _entry((x.data_ptr(), 2, (3,), (1,))) is None  # an int8 input
    assert _entry((x.data_ptr(), 0, (1,) * 17, (1,) * 17)) is None  # more dimensions than 16
