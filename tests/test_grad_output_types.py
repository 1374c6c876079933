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
