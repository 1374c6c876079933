"""Every compiled SIMD variant (baseline / AVX2 / AVX-512) that this CPU supports meets the
registry tolerance against the float64 reference, for every loss and hyper-parameter variant.

The variant is switched at run time with ``_core.select_isa`` (as ``FASTLOSS_ISA`` does at import)
and restored afterwards. Shapes have odd tails for every SIMD width (1000 = 62*16 + 8,
1001 = 62*16 + 9) and rows of 129 = 8*16 + 1 logits.
"""

import os

import numpy as np
import pytest

import fastloss
from fastloss import _core
from helpers import POINTWISE, REGISTRY, ROWS, assert_close, make_inputs, rng_for, to_reference, \
    variant_id

KNOWN_ISAS = ("baseline", "avx2", "avx512")
COMPILED = tuple(_core.compiled_isas())
POINT_SHAPES = [(1000,), (1001,), (13, 77)]
ROW_SHAPES = [(37, 129), (3, 4, 17)]


def _isa_params():
    out = []
    for isa in KNOWN_ISAS:
        marks = []
        if isa not in COMPILED:
            marks.append(pytest.mark.skip(reason=f"{isa} is not compiled into this build"))
        elif not _core.isa_supported(isa):
            marks.append(pytest.mark.skip(reason=f"this CPU lacks {isa}"))
        out.append(pytest.param(isa, marks=marks, id=isa))
    return out


@pytest.fixture
def isa(request, restore_isa):
    name = request.param
    assert restore_isa.select_isa(name) is not False
    assert restore_isa.active_isa() == name
    return name


def _cases():
    out = []
    for name in POINTWISE + ROWS:
        shapes = POINT_SHAPES if REGISTRY[name].kind == "pointwise" else ROW_SHAPES
        for variant in REGISTRY[name].variants:
            for shape in shapes:
                out.append(pytest.param(name, variant, shape,
                                        id=f"{name}[{variant_id(variant)}]-{shape}"))
    return out


def test_compiled_isas_are_known_and_baseline_is_always_there():
    assert "baseline" in COMPILED
    assert set(COMPILED) <= set(KNOWN_ISAS)
    assert _core.isa_supported("baseline")
    assert _core.active_isa() in COMPILED
    assert _core.isa_supported(_core.active_isa())
    assert fastloss.build_info()["isa_compiled"] == list(COMPILED)


def test_the_default_choice_is_the_best_supported_variant():
    supported = [i for i in KNOWN_ISAS if i in COMPILED and _core.isa_supported(i)]
    forced = os.environ.get("FASTLOSS_ISA")
    if forced:
        pytest.skip(f"FASTLOSS_ISA={forced} overrides the default choice")
    assert _core.active_isa() == supported[-1]


def test_select_isa_rejects_unknown_names(restore_isa):
    before = _core.active_isa()
    with pytest.raises(Exception, match="select_isa"):
        _core.select_isa("sse9000")
    assert _core.active_isa() == before
    assert not _core.isa_supported("sse9000")


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name,variant,shape", _cases())
@pytest.mark.parametrize("isa", _isa_params(), indirect=True)
def test_every_isa_matches_the_reference(isa, name, variant, shape, dtype, reduction):
    spec = REGISTRY[name]
    rng = rng_for("isa", name, variant_id(variant), shape, np.dtype(dtype).name, reduction)
    args, kwargs = make_inputs(spec, variant, rng, shape, dtype)
    loss_shape = shape if spec.kind == "pointwise" else shape[:-1]
    sw = rng.uniform(0.0, 2.0, loss_shape).astype(dtype)
    g = rng.uniform(-1.5, 1.5, loss_shape).astype(dtype) if reduction == "none" else -0.37
    value, grad = fastloss.value_and_grad(spec.fn)(*args, reduction=reduction, sample_weight=sw,
                                                   grad_output=g, **kwargs)
    plain = spec.fn(*args, reduction=reduction, sample_weight=sw, **kwargs)
    assert _core.active_isa() == isa
    ref_args = to_reference(args)
    sw64 = sw.astype(np.float64)
    g64 = np.asarray(g, dtype=np.float64) if reduction == "none" else g
    ref_value = spec.reference(*ref_args, reduction=reduction, sample_weight=sw64, **kwargs)
    ref_grad = spec.reference_grad(*ref_args, grad_output=g64, reduction=reduction,
                                   sample_weight=sw64, **kwargs)
    t = spec.tol(dtype)
    assert value.dtype == grad.dtype == np.dtype(dtype)
    assert_close(value, ref_value, t["rtol"], t["atol"], what=f"{isa} {name} loss ({reduction})")
    assert_close(plain, ref_value, t["rtol"], t["atol"], what=f"{isa} {name} plain ({reduction})")
    assert_close(grad, ref_grad, t["rtol"], t["atol"], what=f"{isa} {name} gradient ({reduction})")
