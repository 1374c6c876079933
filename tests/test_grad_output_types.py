"""grad_output of a reduced loss must be a real scalar: strings, bools, complex numbers and
objects are a TypeError naming grad_output (they were accepted, or failed inside float())."""

from __future__ import annotations

import numpy as np
import pytest

import fastloss

X, Y = np.array([1.0, 2.0]), np.array([0.0, 1.0])


@pytest.mark.parametrize("grad_output", ["1.0", True, np.bool_(True), 1 + 2j, object(),
                                         np.array(["a"])], ids=repr)
def test_a_scalar_grad_output_must_be_real(grad_output):
    with pytest.raises(TypeError, match=r"\[fastloss.mse\] grad_output must be real"):
        fastloss.value_and_grad(fastloss.mse)(X, Y, grad_output=grad_output)


@pytest.mark.parametrize("grad_output", [2, 2.0, np.float32(2), np.array(2.0), np.array([2])])
def test_real_scalars_are_taken(grad_output):
    _, g = fastloss.value_and_grad(fastloss.mse)(X, Y, grad_output=grad_output)
    assert g.tolist() == [2.0, 2.0]


def test_an_unreduced_grad_output_in_foreign_byte_order_is_named():
    with pytest.raises(TypeError, match=r"^\[fastloss.mse\] grad_output must be in native byte "
                                        r"order, got dtype >f8$"):
        fastloss.value_and_grad(fastloss.mse)(X, Y, reduction="none",
                                              grad_output=np.ones(2, ">f8"))


@pytest.mark.parametrize("grad_output", [np.array([2.0, 3.0], np.float16), np.float16(2)],
                         ids=["array", "scalar"])
def test_a_float16_unreduced_grad_output_is_computed_in_float32(grad_output):
    # As float16 inputs are (it was "unsupported dtype float16", naming no argument).
    _, g = fastloss.value_and_grad(fastloss.mse)(X, Y, reduction="none",
                                                 grad_output=grad_output)
    _, want = fastloss.value_and_grad(fastloss.mse)(X, Y, reduction="none",
                                                    grad_output=np.float32(grad_output))
    np.testing.assert_array_equal(g, want)


def test_a_torch_grad_output_with_numpy_inputs_is_read_through_dlpack():
    torch = pytest.importorskip("torch")
    for dtype in (torch.float64, torch.bfloat16):
        _, g = fastloss.value_and_grad(fastloss.mse)(X, Y, reduction="none",
                                                     grad_output=torch.tensor([2.0, 3.0], dtype=dtype))
        assert g.tolist() == [4.0, 6.0], dtype
