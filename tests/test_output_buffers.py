"""Large outputs come from recycled blocks (bindings/output_buffers.cc)."""

from __future__ import annotations

import gc
import tracemalloc

import numpy as np
import pytest

import fastloss as fl
from fastloss import _core

N = 1 << 20  # 4 MiB of float32: above the 1 MiB threshold


@pytest.fixture(autouse=True)
def _fresh_cache():
    fl.empty_output_cache()
    yield
    fl.set_output_cache_limit(2 << 30)
    fl.empty_output_cache()


def _inputs():
    rng = np.random.default_rng(0)
    return rng.standard_normal(N, dtype=np.float32), rng.standard_normal(N, dtype=np.float32)


def test_a_dropped_gradient_is_reused_by_the_next_call():
    x, y = _inputs()
    vg = fl.value_and_grad(fl.mse)
    _, g1 = vg(x, y)
    address = g1.__array_interface__["data"][0]
    want = g1.copy()
    del g1
    before = _core.output_cache_stats()["reused"]
    _, g2 = vg(x, y)
    assert _core.output_cache_stats()["reused"] == before + 1
    assert g2.__array_interface__["data"][0] == address
    np.testing.assert_array_equal(g2, want)
    assert g2.flags.writeable and g2.flags.c_contiguous and g2.dtype == np.float32


def test_a_block_is_not_reused_while_a_view_of_it_lives():
    x, y = _inputs()
    vg = fl.value_and_grad(fl.mse)
    _, g1 = vg(x, y)
    view = g1[::2]
    kept = view.copy()
    del g1
    _, g2 = vg(x * 2, y)
    assert not np.shares_memory(view, g2)
    np.testing.assert_array_equal(view, kept)


def test_unreduced_losses_and_rows_use_it_too():
    x, y = _inputs()
    first = fl.mse(x, y, reduction="none")
    address = first.__array_interface__["data"][0]
    del first
    assert fl.mse(x, y, reduction="none").__array_interface__["data"][0] == address
    logits = np.zeros((1024, 512), np.float32)
    g = fl.grad(fl.cross_entropy)(logits, np.zeros(1024, int))
    assert isinstance(g.base, type(_core.new_output((N,), "float32").base))


def test_small_outputs_are_plain_numpy_arrays():
    a = _core.new_output((100,), "float64")
    assert a.flags.owndata and a.dtype == np.float64


def test_the_limit_and_the_release():
    x, y = _inputs()
    fl.set_output_cache_limit(0)
    _, g = fl.value_and_grad(fl.mse)(x, y)
    del g
    assert _core.output_cache_stats()["idle_bytes"] == 0
    fl.set_output_cache_limit(1 << 30)
    _, g = fl.value_and_grad(fl.mse)(x, y)
    del g
    assert _core.output_cache_stats()["idle_bytes"] >= 4 * N
    fl.empty_output_cache()
    assert _core.output_cache_stats()["idle_bytes"] == 0
    with pytest.raises(ValueError, match=r"\[fastloss.set_output_cache_limit\] nbytes must be >= 0"):
        fl.set_output_cache_limit(-1)
    with pytest.raises(TypeError, match="nbytes must be an integer"):
        fl.set_output_cache_limit(1.5)


def test_tracemalloc_sees_live_outputs_only():
    x, y = _inputs()
    vg = fl.value_and_grad(fl.mse)
    vg(x, y)  # the gradient is dropped at once: an idle block in the cache
    gc.collect()
    tracemalloc.start()
    try:
        _, g = vg(x, y)
        current, peak = tracemalloc.get_traced_memory()
        del g
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert 4 * N <= peak < 4 * N + (1 << 20)
    assert after < current - 4 * N + (1 << 20)
