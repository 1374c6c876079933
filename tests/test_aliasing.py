"""Outputs that alias inputs: in-place gradients only into logits whose elements are distinct
memory (a broadcast or self-overlapping view would be read after it was overwritten)."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.lib.stride_tricks import as_strided

import fastloss
from fastloss._registry import REGISTRY
from helpers import ROWS, row_target_kind

LABELS = np.array([0, 1, 2, 3])
# The targets of the row losses whose target has one entry per class (4 rows of 4 classes).
PER_CLASS_TARGETS = {"dense": (np.arange(16).reshape(4, 4) % 3 == 0).astype(np.float64),
                     "index_list": np.array([[0, 2, -1, 0], [3, -1, 1, 1], [1, 2, 3, 0],
                                             [-1, 0, 0, 0]])}
PER_CLASS_TARGETS["relevance"] = PER_CLASS_TARGETS["relevance_order"] = 2 * PER_CLASS_TARGETS["dense"]
# The row losses with in-place gradients: not the divergences, whose kernels read both logits
# rows again after writing the gradients (tests/test_grad_into.py checks that they refuse).
IN_PLACE_ROWS = [name for name in ROWS if REGISTRY[name].family != "divergence"]


def _logits(strides):
    base = np.random.default_rng(0).standard_normal(64)
    return as_strided(base, (4, 4), strides)


def _row_call(name):
    kwargs = {"kind": "crammer_singer"} if name == "multiclass_hinge" else {}
    target = PER_CLASS_TARGETS.get(row_target_kind(name), LABELS)
    return lambda x, **kw: fastloss.value_and_grad(getattr(fastloss, name))(x, target, **kwargs,
                                                                          **kw)


@pytest.mark.parametrize("name", IN_PLACE_ROWS)
@pytest.mark.parametrize("strides", [(0, 8), (8, 8), (16, 0), (8, 16)], ids=str)
def test_in_place_into_overlapping_logits_is_refused(name, strides):
    x = _logits(strides)
    with pytest.raises(ValueError, match=rf"\[fastloss.{name}\] in-place gradients need logits "
                                         r"whose elements do not overlap"):
        _row_call(name)(x, grad_into=x)


@pytest.mark.parametrize("name", IN_PLACE_ROWS)
def test_in_place_into_distinct_logits_matches_out_of_place(name):
    x = np.random.default_rng(1).standard_normal((4, 4))
    loss, grad = _row_call(name)(x.copy())
    y = x.copy()
    loss_in_place, into = _row_call(name)(y, grad_into=y)
    assert into is y
    assert loss_in_place.tobytes() == loss.tobytes() and y.tobytes() == grad.tobytes()
    # A transposed view is distinct memory too.
    z = np.asfortranarray(x)
    loss_t, _ = _row_call(name)(z, grad_into=z)
    assert loss_t.tobytes() == loss.tobytes()
