"""Short rows (C <= 32) run as transposed tiles of 16 rows, the per-row math vectorised across
rows (fastloss/row.h's RowTile), for every row loss whose functor has a tile (sparse
cross-entropy, softmax focal, both multiclass hinges). What must hold whichever rows share a tile: each row's loss and
gradient are those of the row alone, bit for bit, and they match the reference on both sides of
the tile threshold, with every option the tile path takes (smoothing, class weights, focal
gammas and alphas, ignored rows, +inf/NaN logits, strided and converted inputs)."""

from __future__ import annotations

import numpy as np
import pytest

import fastloss
import fastloss.reference as ref
from helpers import assert_bitwise, assert_close, rng_for, tol

CLASSES = [1, 2, 3, 10, 16, 31, 32, 33]
# (loss, options): every option that selects another variant of a tile.
CASES = [
    ("cross_entropy", {}),
    ("cross_entropy", {"label_smoothing": 0.2}),
    ("cross_entropy", {"class_weight": "classes"}),
    ("cross_entropy", {"class_weight": "classes", "label_smoothing": 0.1}),
    ("softmax_focal", {}),
    ("softmax_focal", {"gamma": 0.0}),
    ("softmax_focal", {"gamma": 1.0, "alpha": 0.25}),
    ("softmax_focal", {"gamma": 1.5}),
    ("softmax_focal", {"alpha": "classes"}),
    ("multiclass_hinge", {}),
    ("multiclass_hinge", {"squared": True, "class_weight": "classes"}),
    ("multiclass_hinge", {"kind": "crammer_singer"}),
    ("multiclass_hinge", {"kind": "crammer_singer", "squared": True, "margin": 0.5}),
]
# Each tiled kernel, with options that reach every term of its tile.
TILED = [
    ("cross_entropy", {"label_smoothing": 0.1}),
    ("softmax_focal", {"gamma": 1.5}),
    ("multiclass_hinge", {"squared": True}),
    ("multiclass_hinge", {"kind": "crammer_singer"}),
]
SOFTMAX = [case for case in TILED if case[0] != "multiclass_hinge"]


def _case_id(case) -> str:
    name, options = case
    return "-".join([name] + sorted(options))


def _kwargs(options: dict, classes: int, dtype, rng) -> dict:
    kw = dict(options)
    for key in ("class_weight", "alpha"):
        if kw.get(key) == "classes":
            kw[key] = rng.uniform(0.5, 2.0, classes).astype(dtype)
    return kw


def _inputs(rows: int, classes: int, dtype, rng, name: str):
    x = (rng.standard_normal((rows, classes)) * 3).astype(dtype)
    y = rng.integers(0, classes, rows)
    if name != "multiclass_hinge":  # the hinges have no ignore_index
        y[rng.random(rows) < 0.2] = -100  # ignored rows leave holes in the tiles
    return x, y


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("classes", CLASSES)
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_rows_match_reference(classes, dtype, case):
    name, options = case
    rng = rng_for("short-rows", name, classes, np.dtype(dtype).name, sorted(options))
    x, y = _inputs(53, classes, dtype, rng, name)
    kw = _kwargs(options, classes, dtype, rng)
    fn, reference, reference_grad = (getattr(fastloss, name), getattr(ref, name),
                                     getattr(ref, name + "_grad"))
    for reduction in ("none", "mean", "sum"):
        up = rng.uniform(0.5, 2.0, 53).astype(dtype) if reduction == "none" else 0.7
        loss, g = fastloss.value_and_grad(fn)(x, y, reduction=reduction, grad_output=up, **kw)
        ref_loss = reference(x, y, reduction=reduction, **kw)
        ref_g = reference_grad(x, y, reduction=reduction, grad_output=up, **kw)
        assert_close(loss, ref_loss, **tol(name, dtype), what=f"{reduction} loss")
        assert_close(g, ref_g, **tol(name, dtype), what=f"{reduction} gradient")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("classes", [2, 10, 32])
@pytest.mark.parametrize("case", TILED, ids=_case_id)
def test_each_row_is_computed_alone(case, classes, dtype):
    """A row's bits do not depend on its neighbours in the tile or on its lane."""
    name, kw = case
    rng = rng_for("short-rows-alone", name, classes, np.dtype(dtype).name, sorted(kw))
    x, y = _inputs(41, classes, dtype, rng, name)
    vg = fastloss.value_and_grad(getattr(fastloss, name))
    up = np.ones(41, dtype)
    losses, grads = vg(x, y, reduction="none", grad_output=up, **kw)
    for r in range(41):
        loss_r, grad_r = vg(x[r:r + 1], y[r:r + 1], reduction="none", grad_output=up[:1], **kw)
        assert_bitwise(losses[r:r + 1], loss_r)
        assert_bitwise(grads[r:r + 1], grad_r)
    # The same rows in another order land in other lanes and tiles.
    perm = rng.permutation(41)
    lp, gp = vg(x[perm], y[perm], reduction="none", grad_output=up, **kw)
    assert_bitwise(lp, losses[perm])
    assert_bitwise(gp, grads[perm])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", [name for name, _ in SOFTMAX])
def test_non_finite_softmax_rows_stay_in_their_lane(name, dtype):
    x = np.zeros((20, 5), dtype)
    y = np.arange(20) % 5
    x[3, 1] = np.inf  # a +inf logit: the row is NaN (as PyTorch)
    x[7, 2] = np.nan  # a NaN logit: the row is NaN
    x[11, :] = -np.inf  # no finite logit: NaN
    x[12, 0] = -np.inf  # one -inf logit among finite ones: finite
    loss, g = fastloss.value_and_grad(getattr(fastloss, name))(
        x, y, reduction="none", grad_output=np.ones(20, dtype))
    bad = [3, 7, 11]
    assert np.isnan(loss[bad]).all() and np.isnan(g[bad]).all()
    good = [r for r in range(20) if r not in bad]
    assert np.isfinite(loss[good]).all() and np.isfinite(g[good]).all()
    ref_loss = getattr(ref, name)(x[good], y[good], reduction="none")
    assert_close(loss[good], ref_loss, **tol(name, dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", [c for c in TILED if c[0] == "multiclass_hinge"], ids=_case_id)
def test_non_finite_hinge_rows_stay_in_their_lane(case, dtype):
    """A hinge row with NaN is NaN; +-inf scores give the reference's limits, lane by lane (and
    inf - inf a NaN loss with NaN in its gradient: the whole row for Weston-Watkins, the two
    entries of the competing pair for Crammer-Singer, as the row kernels)."""
    name, kw = case
    x = np.zeros((20, 5), dtype)
    y = np.arange(20) % 5
    x[3, 1] = np.inf  # a competitor at +inf: an infinite loss
    x[7, 2] = np.nan  # NaN: the row is NaN
    x[11, :] = -np.inf  # inf - inf: NaN
    x[12, 0] = -np.inf  # a competitor at -inf: no violation from it
    with np.errstate(invalid="ignore"):
        ref_loss = ref.multiclass_hinge(x, y, reduction="none", **kw)
    loss, g = fastloss.value_and_grad(fastloss.multiclass_hinge)(
        x, y, reduction="none", grad_output=np.ones(20, dtype), **kw)
    np.testing.assert_array_equal(np.isnan(loss), np.isnan(ref_loss))
    np.testing.assert_array_equal(np.isinf(loss), np.isinf(ref_loss))
    assert np.isnan(g[7]).all()  # a NaN score makes the whole gradient row NaN
    assert np.isnan(g[np.isnan(loss)]).any(axis=1).all()
    finite = np.isfinite(ref_loss)
    assert finite.sum() == 17
    assert_close(loss[finite], ref_loss[finite], **tol(name, dtype))
    assert np.isfinite(g[finite]).all()


@pytest.mark.parametrize("case", TILED, ids=_case_id)
def test_strided_and_converted_rows_match_contiguous(case):
    name, kw = case
    rng = rng_for("short-rows-layouts", name, sorted(kw))
    x, y = _inputs(37, 7, np.float32, rng, name)
    vg = fastloss.value_and_grad(getattr(fastloss, name))
    loss, g = vg(x, y, reduction="none", grad_output=np.ones(37, np.float32), **kw)
    wide = np.zeros((37, 14), np.float32)
    wide[:, ::2] = x
    loss_s, g_s = vg(wide[:, ::2], y.astype(np.int32), reduction="none",
                     grad_output=np.ones(37, np.float32), **kw)
    assert_bitwise(loss_s, loss)
    assert_bitwise(g_s, g)
    loss_f, g_f = vg(np.asfortranarray(x), y, reduction="none",
                     grad_output=np.ones(37, np.float32), **kw)
    assert_bitwise(loss_f, loss)
    assert_bitwise(g_f, g)
