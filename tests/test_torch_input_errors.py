"""fastloss.torch on inputs it cannot read as they are: sparse tensors and meta tensors get a
clear error naming the function and the argument (not torch's own), tensors with the lazy
negative bit are read as their values in every position, and hyper-parameters given as strings
(or bools) are a TypeError rather than a silent float("0.5")."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
import fastloss.torch as flt  # noqa: E402
from helpers import assert_same_tensor  # noqa: E402

F = torch.nn.functional


def _neg(values: torch.Tensor) -> torch.Tensor:
    """A tensor holding ``values`` through PyTorch's lazy negation (neg bit set)."""
    z = torch.complex(torch.zeros_like(values), -values)
    neg = z.conj().imag
    assert neg.is_neg() and torch.equal(neg.resolve_neg(), values)
    return neg


# ---- sparse tensors -------------------------------------------------------------------------------

# (torch warns that its CSR support is in beta when one is made)
@pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta:UserWarning")
@pytest.mark.parametrize("layout", ["sparse_coo", "sparse_csr"])
@pytest.mark.parametrize("position", ["input", "target", "weight"])
def test_sparse_tensors_are_refused_naming_the_argument(position, layout):
    x, y, w = torch.rand(4, 3), torch.rand(4, 3), torch.rand(4, 3)
    arguments = {"input": x, "target": y, "weight": w}
    arguments[position] = getattr(arguments[position], f"to_{layout}")()
    with pytest.raises(TypeError, match=rf"\[fastloss.torch.mse_loss\] {position} is a "
                                        rf"torch.{layout} tensor: .* pass {position}.to_dense\(\)"):
        flt.mse_loss(**arguments)


def test_sparse_class_weights_are_refused():
    with pytest.raises(TypeError, match=r"\[fastloss.torch.cross_entropy\] weight is a "
                                        r"torch.sparse_coo tensor"):
        flt.cross_entropy(torch.randn(4, 3), torch.zeros(4, dtype=torch.long),
                          weight=torch.ones(3).to_sparse())


# ---- the lazy negative bit, in every tensor argument ------------------------------------------

@pytest.mark.parametrize("call", [
    lambda w: flt.mse_loss(torch.arange(6.0), torch.zeros(6), weight=w),
    lambda w: flt.huber_loss(torch.arange(6.0), torch.zeros(6), weight=w),
    lambda w: flt.binary_cross_entropy_with_logits(torch.arange(6.0), torch.ones(6),
                                                   pos_weight=w),
    lambda w: flt.quantile_loss(torch.arange(6.0), torch.zeros(6), sample_weight=w),
    lambda w: flt.cross_entropy(torch.arange(36.0).reshape(6, 6) / 10, torch.arange(6),
                                weight=w),
    lambda w: flt.softmax_focal_loss(torch.arange(36.0).reshape(6, 6) / 10, torch.arange(6),
                                     alpha=w),
], ids=["mse-weight", "huber-weight", "pos_weight", "sample_weight", "class-weight", "alpha"])
def test_negated_weights_are_read_as_their_values(call):
    values = torch.linspace(0.5, 2.0, 6)
    assert_same_tensor(call(_neg(values)), call(values))


def test_a_negated_input_keeps_its_gradient():
    base = torch.randn(4, 3, requires_grad=True)
    neg = torch.complex(torch.zeros(4, 3), -base).conj().imag  # values: base, neg bit set
    assert neg.is_neg()
    flt.cross_entropy(neg, torch.tensor([0, 1, 2, 0])).backward()
    expected = torch.autograd.grad(F.cross_entropy(base, torch.tensor([0, 1, 2, 0])), base)[0]
    torch.testing.assert_close(base.grad, expected)


# ---- string (and bool) hyper-parameters ---------------------------------------------------------

STRINGS = [
    ("huber_loss", "delta", lambda v: flt.huber_loss(torch.randn(3), torch.randn(3), delta=v)),
    ("smooth_l1_loss", "beta",
     lambda v: flt.smooth_l1_loss(torch.randn(3), torch.randn(3), beta=v)),
    ("cross_entropy", "label_smoothing",
     lambda v: flt.cross_entropy(torch.randn(2, 3), torch.tensor([0, 1]), label_smoothing=v)),
    ("quantile_loss", "tau", lambda v: flt.quantile_loss(torch.randn(3), torch.randn(3), tau=v)),
    ("sigmoid_focal_loss", "alpha",
     lambda v: flt.sigmoid_focal_loss(torch.randn(3), torch.rand(3), alpha=v)),
    ("sigmoid_focal_loss", "gamma",
     lambda v: flt.sigmoid_focal_loss(torch.randn(3), torch.rand(3), gamma=v)),
    ("softmax_focal_loss", "alpha",
     lambda v: flt.softmax_focal_loss(torch.randn(2, 3), torch.tensor([0, 1]), alpha=v)),
    ("softmax_focal_loss", "gamma",
     lambda v: flt.softmax_focal_loss(torch.randn(2, 3), torch.tensor([0, 1]), gamma=v)),
    ("multi_margin_loss", "margin",
     lambda v: flt.multi_margin_loss(torch.randn(2, 3), torch.tensor([0, 1]), margin=v)),
    ("multiclass_hinge_loss", "margin",
     lambda v: flt.multiclass_hinge_loss(torch.randn(2, 3), torch.tensor([0, 1]), margin=v)),
]


@pytest.mark.parametrize("value", ["0.5", b"0.5", True])
@pytest.mark.parametrize("fn,argument,call", STRINGS, ids=[f"{c[0]}-{c[1]}" for c in STRINGS])
def test_string_hyper_parameters_are_a_type_error(fn, argument, call, value):
    with pytest.raises(TypeError, match=rf"\[fastloss.torch.{fn}\] {argument} must be a real "
                                        rf"number, got {value!r}"):
        call(value)


def test_the_modules_refuse_them_too():
    with pytest.raises(TypeError, match=r"\[fastloss.torch.huber_loss\] delta must be a real"):
        flt.HuberLoss(delta="0.5")(torch.randn(3), torch.randn(3))


def test_numbers_of_other_types_still_work():
    x, y = torch.randn(3), torch.randn(3)
    expected = flt.huber_loss(x, y, delta=0.5)
    for delta in (0.5, torch.tensor(0.5), __import__("numpy").float32(0.5)):
        assert_same_tensor(flt.huber_loss(x, y, delta=delta), expected)
    assert_same_tensor(flt.huber_loss(x, y, delta=2), flt.huber_loss(x, y, delta=2.0))


# ---- meta tensors ----------------------------------------------------------------------------------

@pytest.mark.parametrize("position", ["input", "target", "weight"])
def test_meta_tensors_are_refused_naming_the_argument(position):
    arguments = {"input": torch.rand(4, 3), "target": torch.rand(4, 3),
                 "weight": torch.rand(4, 3)}
    arguments[position] = arguments[position].to("meta")
    with pytest.raises(RuntimeError, match=rf"\[fastloss.torch.mse_loss\] {position} is on "
                                           r"device 'meta': fastloss reads CPU and CUDA tensors"):
        flt.mse_loss(**arguments)


@pytest.mark.parametrize("reduction,shape", [("mean", ()), ("none", (4,))])
def test_the_custom_op_propagates_meta_shapes(reduction, shape):
    """Called on meta tensors, the custom op runs its fake implementation (what torch.compile
    traces with): the output shapes and dtypes, no kernel."""
    x = torch.empty(4, 3, device="meta", dtype=torch.bfloat16)
    t = torch.empty(4, device="meta", dtype=torch.long)
    loss, grad = torch.ops.fastloss.cross_entropy(x, t, reduction, True, None, -100, 0.0)
    assert loss.device.type == "meta" and loss.shape == shape and loss.dtype == torch.float32
    assert grad.shape == x.shape and grad.dtype == x.dtype
