"""The reference's analytic gradients against central finite differences, in float64, for every
registered loss, every registry variant and every differentiable input (``spec.differentiable``).

Inputs come from the registry's sampler; the loss elements (elements, or rows) that lie within
``KINK_CLEARANCE`` of a kink (``spec.kink_distance``) are left out of the comparison, since a
finite difference across a kink is not a derivative, and at least half of them must remain.
Every reduction, three weightings and an upstream gradient that is never all ones.
"""

import numpy as np
import pytest

from fastloss._registry import KINK_CLEARANCE, REGISTRY, TOLERANCE, make_inputs
from finite_differences import grad_output_for, numerical_gradient, sample_weight_for
from helpers import rng_for, variant_id

REDUCTIONS = ("mean", "sum", "none")
WEIGHTINGS = ("unweighted", "weighted", "broadcast_weight")
SCALAR_GRAD_OUTPUT = -0.7  # not 1, and negative so that a dropped sign shows
# rows: 12 rows of 5 classes; embeddings: 12 rows of 5 features
SHAPE = {"pointwise": (4, 5), "row": (12, 5), "pair": (4, 5), "embedding": (12, 5)}

CASES = [pytest.param(spec, variant, argument,
                      id=f"{spec.name}[{variant_id(variant)}]-{argument}")
         for spec in REGISTRY.values() for variant in spec.variants
         for argument in spec.differentiable
         # kind "pair" (the GAN discriminator): "none" is a pair and there is no sample_weight;
         # tests/test_gan.py differences both arrays for every kind and reduction
         if spec.kind != "pair"]


def _comparable(spec, args, kwargs, argnums):
    """Mask of the entries of args[argnums] whose loss element is clear of every kink."""
    if spec.kinks is None:  # smooth: every entry (also of an argument not shaped like the
        return np.ones(np.shape(args[argnums]), bool)  # loss's rows: center's centres)
    clear = spec.kink_distance(args, kwargs) > KINK_CLEARANCE
    if spec.kind == "row":  # a row's mask holds for each of its classes
        axis = spec.full_kwargs(kwargs)["axis"]
        clear = np.expand_dims(clear, axis)
    elif spec.kind == "embedding":  # a row's mask holds for each of its features
        clear = clear[..., None]
    return np.broadcast_to(clear, np.shape(args[argnums]))


def _assert_inside_domain(spec, args):
    """The finite-difference points must not step out of the loss's domain."""
    for argument, (lo, hi) in spec.domain.items():
        a = np.asarray(args[spec.arrays.index(argument)], dtype=np.float64)
        if argument in spec.differentiable:
            assert np.all((a > lo + KINK_CLEARANCE) & (a < hi - KINK_CLEARANCE)), argument
        else:
            assert np.all((a >= lo) & (a <= hi)), argument


@pytest.mark.parametrize("weighting", WEIGHTINGS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("spec,variant,argument", CASES)
def test_grad_matches_central_differences(spec, variant, argument, reduction, weighting):
    rng = rng_for("fd", spec.name, variant_id(variant), argument, reduction, weighting)
    args, kwargs = make_inputs(spec, variant, rng, SHAPE[spec.kind], np.float64)
    _assert_inside_domain(spec, args)
    argnums = spec.arrays.index(argument)
    loss_shape = spec.loss_shape(args, kwargs)
    kwargs = {**kwargs, "reduction": reduction,
              "sample_weight": sample_weight_for(rng, weighting, loss_shape)}
    grad_output = grad_output_for(rng, reduction, loss_shape, SCALAR_GRAD_OUTPUT)

    analytic = spec.reference_grad(*args, grad_output=grad_output, argnums=argnums, **kwargs)
    numeric = numerical_gradient(spec.reference, args, argnums, kwargs, grad_output)

    assert analytic.shape == np.shape(args[argnums]) and analytic.dtype == np.float64
    comparable = _comparable(spec, args, kwargs, argnums)
    assert np.count_nonzero(comparable) >= comparable.size / 2, "most entries sit at kinks"
    analytic, numeric = analytic[comparable], numeric[comparable]
    assert np.all(np.isfinite(analytic))
    assert np.any(analytic != 0.0)  # the sampled point exercises a non-trivial gradient
    tol = TOLERANCE["finite_difference"]
    scale = max(1.0, float(np.max(np.abs(numeric))))
    np.testing.assert_allclose(analytic, numeric, rtol=tol["rtol"], atol=tol["atol"] * scale)


@pytest.mark.parametrize("spec", REGISTRY.values(), ids=list(REGISTRY))
def test_argnums_selects_gradients_and_rejects_the_rest(spec):
    """An int gives one gradient, a tuple a tuple in its order; default 0 is the first input;
    an argument without a gradient is a ValueError naming the function and the argument."""
    rng = rng_for("argnums", spec.name)
    args, kwargs = make_inputs(spec, spec.variants[0], rng, SHAPE[spec.kind], np.float64)
    grad = spec.reference_grad
    by_index = {i: grad(*args, argnums=i, **kwargs)
                for i, a in enumerate(spec.arrays) if a in spec.differentiable}
    np.testing.assert_array_equal(grad(*args, **kwargs), by_index[0])
    order = tuple(reversed(sorted(by_index)))
    picked = grad(*args, argnums=order, **kwargs)
    assert isinstance(picked, tuple) and len(picked) == len(order)
    for i, g in zip(order, picked):
        np.testing.assert_array_equal(g, by_index[i])
    for i, argument in enumerate(spec.arrays):
        if argument in spec.differentiable:
            continue
        for argnums in (i, (0, i)):
            with pytest.raises(ValueError, match=rf"^\[fastloss\.{spec.name}\] {argument} "):
                grad(*args, argnums=argnums, **kwargs)
    for bad in (len(spec.arrays), -1, True, 0.0, [0]):
        with pytest.raises(ValueError, match=rf"^\[fastloss\.{spec.name}\] argnums"):
            grad(*args, argnums=bad, **kwargs)


@pytest.mark.parametrize("spec", [s for s in REGISTRY.values()
                                  if s.target_differentiable and s.family == "regression"],
                         ids=lambda s: s.name)
def test_target_gradient_is_minus_the_pred_gradient(spec):
    """Each differentiable-in-target loss is a function of pred - target."""
    for variant in spec.variants:
        args, kwargs = make_inputs(spec, variant, rng_for("target", spec.name), (3, 4),
                                   np.float64)
        d_pred, d_target = spec.reference_grad(*args, argnums=(0, 1), **kwargs)
        np.testing.assert_array_equal(d_target, -d_pred)
