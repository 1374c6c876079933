"""One entry per loss: the public function, its float64 reference and analytic gradient, an input
sampler, the hyper-parameter variants worth testing, its tolerances, and the facts about the loss
that tests need (which inputs are valid and differentiable, where the kinks are, what the mean
counts, what the lecture claims about it).

Each family module registers its losses beside their public functions (``register(LossSpec(...))``
at the end of ``_regression.py``, ``_classification.py``, ...), so a loss is added in one place;
the shared samplers and kink helpers are in ``_samplers``. ``import fastloss`` imports every family
module, so ``REGISTRY`` is complete wherever it can be imported. Tests and benchmarks iterate over
it; ``tests/test_registry.py`` fails when a loss lacks any layer (math header, kernel table entry,
reference, docstring, bench row).
"""

from __future__ import annotations

import inspect
import textwrap
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from . import _samplers, reference

# The tolerances of the kernel contract and of the tests' other checks: each number is chosen,
# and explained, once.
#
# Accuracy contract, per dtype: |kernel - reference| <= rtol * |reference| + atol * scale, where
# scale is the largest |reference| of the compared array (a gradient entry that is the difference
# of two O(1) numbers can only be as exact as that scale; float32 rounds it to ~6e-8 of it).
# A loss's tolerance entry may add an absolute floor, "abs_floor", where its value is small
# against the terms it is computed from, whatever the array's largest value: the divergences
# (see ABS_FLOOR_DIVERGENCE in _divergence.py).
TOLERANCE = {
    np.dtype(np.float32): {"rtol": 1e-5, "atol": 1e-6},
    np.dtype(np.float64): {"rtol": 1e-12, "atol": 1e-13},
    # Central differences in float64 with a step of 1e-6 relative: truncation error ~1e-12 and
    # rounding error ~1e-16 / 1e-6 = 1e-10 of the loss's scale, far inside these bounds.
    "finite_difference": {"rtol": 1e-6, "atol": 1e-7},
    # -- Named entries for the checks tests make besides the kernel contract above. Each is used
    # with the comparison its call site already made (tests/helpers.py's assert_close, which
    # scales atol by max|expected| as above, or np.testing.assert_allclose, whose atol is
    # absolute); tests/helpers.py's tolerance(name, dtype) reads them. An entry given in "ulps"
    # is rtol = ulps * eps of the compared dtype, with no atol.
    #
    # Float64 reference against float64 (tests/test_reference_semantics.py):
    # the 50-digit value (mpmath): the reference is correctly rounded to within 2 ulp (4.4e-16).
    "float64_exact": {"rtol": 4e-16, "atol": 0.0},
    # the same float64 arithmetic but for a few exact or once-rounded steps (a factor of 0.5 or
    # a weight, the -100 clamp of the log): about 4 ulp.
    "float64_rounding": {"rtol": 1e-15, "atol": 0.0},
    # the same terms summed or weighted in another order (sum vs sum of none, weighted means,
    # alpha_t vs class weights): tens of roundings that do not cancel.
    "float64_reordered": {"rtol": 1e-14, "atol": 0.0},
    # two float64 formulas of the same quantity (log-softmax vs log of softmax, the stable BCE
    # vs its textbook form, smoothed one-hot targets): each within ~1e-15, 100x margin.
    "float64_identity": {"rtol": 1e-13, "atol": 0.0},
    # the same for gradients: an entry that is the difference of O(1) terms (softmax - one-hot,
    # sigmoid - target) can cancel to near zero, keeping an absolute error of about half an ulp
    # of 1.
    "float64_gradient_identity": {"rtol": 1e-13, "atol": 1e-16},
    # a textbook formula that forms 1 - p by cancellation (BCE of sigmoid(x) for |x| up to ~15,
    # (1 - p_t)^gamma from softmax probabilities): relative error up to eps / (1 - p) ~ 1e-13.
    "float64_cancellation": {"rtol": 1e-10, "atol": 0.0},
    # a softmax gradient's row sums to zero: about one rounding per entry (|entry| <= 1), so the
    # call site scales atol by the number of classes.
    "float64_zero_sum": {"rtol": 0.0, "atol": 1e-15},
    # the minimiser found by golden-section search (bracket 1e-10) against the exact one: the
    # summed loss's rounding blurs comparisons near the minimum; 1e-8 leaves a wide margin.
    "minimiser_search": {"rtol": 1e-7, "atol": 1e-8},
    # the same search on a smooth objective: its minimum is flat, so rounding of the summed
    # loss (~1e-14 of it) moves the argmin by ~sqrt(1e-14 / curvature) ~ 1e-7 of the bracket.
    "minimiser_flat": {"rtol": 1e-6, "atol": 1e-6},
    #
    # tests/test_properties.py: the lecture's properties of a loss (fastloss.properties) against
    # the float64 kernels. A claimed inequality or identity (convexity, a gradient bound, a
    # Lipschitz quotient, a proper scoring rule, a normalised likelihood) may be violated by
    # the roundings of a few O(1..100) values: relative 1e-12 of the compared scale, or 1e-14.
    "property_float64": {"rtol": 1e-12, "atol": 1e-14},
    # a difference quotient of the gradient over a step h >= 1e-3 of s <= 12 (the Lipschitz
    # bound's check): the step carries a rounding of 2e-15 / h and the gradients one of
    # ~1e-16 |g| / h, both below 1e-11 of the quotient; 1e-9 leaves a margin.
    "lipschitz_quotient": {"rtol": 1e-9, "atol": 0.0},
    # a claim that a property fails is shown by a witness that violates it by far more than
    # those roundings: 1e-8 of the scale plus 1e-10.
    "property_witness": {"rtol": 1e-8, "atol": 1e-10},
    #
    # Float64 reference against PyTorch's float64 (np.testing.assert_allclose, absolute atol):
    # its fused kernels (mse_loss, cross_entropy, ...) and their backward: different but equally
    # accurate formulas (~1e-15), and an absolute floor for entries zero in one and ~1e-17 in
    # the other (subgradients at kinks, ignored rows).
    "torch_float64": {"rtol": 1e-12, "atol": 1e-14},
    # formulas written with torch ops and differentiated by autograd (the focal losses): the
    # (1 - p_t)^gamma factor is formed by cancellation in torch's formula, so a decade more.
    "torch_float64_autograd": {"rtol": 1e-11, "atol": 1e-14},
    # PyTorch floors p (1 - p) at float32(1e-12) = 9.99999996e-13 in binary_cross_entropy's
    # backward, the contract at the double 1e-12: the gradients there differ by 4e-9 relative.
    "torch_bce_gradient_floor": {"rtol": 5e-9, "atol": 0.0},
    #
    # fastloss.jax against formulas written inline with jax.numpy (np.testing.assert_allclose):
    # in float32 both sides are within the float32 contract (1e-5, 1e-6) of the exact value, so
    # twice that of each other.
    "jax_float32": {"rtol": 2e-5, "atol": 2e-6},
    # with jax.enable_x64: both sides float64, within the float64 contract's rtol of each other.
    "jax_float64": {"rtol": 1e-12, "atol": 0.0},
    #
    # A kernel's result against a closed form or against itself, in the kernel's own dtype:
    # the float64 value rounded to the dtype, against a closed form the kernel evaluates in that
    # dtype (|d| - log 2, (p - y) / max(p (1 - p), 1e-12)): one rounding on each side.
    "dtype_rounding": {"ulps": 2},
    # the same where the kernel calls libm (tanh) or sums a few values in its dtype.
    "dtype_libm_or_sum": {"ulps": 4},
    # float32 within a rounding of a closed form (softplus(0) = log 2, a saturated softmax).
    "float32_one_rounding": {"rtol": 1e-7, "atol": 0.0},
    # float32 within a few roundings (~8 ulp) of a closed form (a limit at infinity, log C,
    # (sigmoid(0) - 1) / n) or of itself on another memory layout.
    "float32_few_roundings": {"rtol": 1e-6, "atol": 0.0},
    # float32 sums of many terms: a softmax over 12000 classes (its normaliser) divided by rows.
    "float32_long_sum": {"rtol": 1e-5, "atol": 0.0},
    # float16 / bfloat16 gradients against the float32 result rounded to them: bfloat16 keeps 8
    # significant bits (eps 2^-7 = 7.8e-3), so about one of its ulps.
    "half_precision": {"rtol": 1e-2, "atol": 1e-3},
    # fastloss.torch's gradient in the input's dtype against the float64 gradient of the same
    # rounded input (the loss is compared with the dtype's own contract): one rounding of the
    # result to float16 (eps 9.8e-4) or bfloat16 (7.8e-3), twice the dtype's rounding apart;
    # float32 and float64 at their contract's rtol, also as an absolute bound for zero entries.
    "float16_gradient": {"rtol": 2e-3, "atol": 2e-3},
    "bfloat16_gradient": {"rtol": 1e-2, "atol": 1e-2},
    "float32_gradient": {"rtol": 1e-5, "atol": 1e-5},
    "float64_gradient": {"rtol": 1e-12, "atol": 1e-12},
    # fastloss.torch against torch.nn.functional in float64, over every case (weighted means,
    # smoothing, class weights, ignored rows), with an absolute bound for entries that are 0 on
    # one side: the two libraries sum and divide in other orders.
    "torch_adapter_float64": {"rtol": 1e-10, "atol": 1e-12},
    # Two results that must differ (a deliberate deviation from PyTorch shows): by more than this.
    "clearly_different": {"rtol": 1e-3, "atol": 0.0},
}

# How far (in the kink's own variable) a finite-difference point must stay from a kink: a
# hundred steps of 1e-6 relative, for inputs of magnitude up to 100.
KINK_CLEARANCE = 1e-2

MEAN_COUNTS = ("elements", "kept_rows", "kept_rows_class_weighted", "valid_lists")


@dataclass(frozen=True)
class LossSpec:
    name: str                        # the stem shared by every layer
    family: str                      # "regression" | "classification" | "likelihood" | "divergence"
                                     # | "ranking" | "metric" | "adversarial"
    kind: str                        # "pointwise" | "row" | "embedding" | "pair" (two arrays,
                                     # one pass each)
    fn: Callable
    sample: Callable                 # (rng, shape, dtype) -> (args, kwargs)
    variants: tuple = ({},)          # hyper-parameter sets the tests sweep
    tolerance: dict = field(default_factory=dict)  # per-dtype overrides of TOLERANCE
    # The array arguments that have a gradient (reference.NAME_grad's argnums, by name).
    differentiable: tuple = ()
    # Valid values of floating array arguments: name -> closed interval (lo, hi); absent: any
    # real. (Class indices and {-1, 0, 1} labels are checked by the loss itself.)
    domain: dict = field(default_factory=dict)
    # (args, full_kwargs) -> per unreduced loss element (an element, or a row), the distance of
    # the point to the nearest place where the loss is not twice differentiable in its
    # differentiable arguments (the gradient is undefined or its slope jumps); None: smooth.
    kinks: Optional[Callable] = None
    # What the mean divides by, one of MEAN_COUNTS: every loss element ("elements": rows, for
    # row losses), the rows whose target is not ignore_index ("kept_rows"), or those rows
    # weighted by the class weight of their target ("kept_rows_class_weighted"; probability
    # targets count every row), or the lists with a valid item ("valid_lists": the listwise
    # ranking losses' mask).  Times the sample weight in every case.
    mean_count: str = "elements"
    # How fast the loss can grow with the magnitude of its inputs: "linear" or "quadratic".
    growth: str = "linear"
    # The loss is convex in its first argument (the lecture says so for MSE, MAE, the hinge and
    # BCE in logit space; it holds for the others marked too).
    convex: bool = False
    # Lecture: (targets, full_kwargs) -> the constant prediction minimising the summed loss
    # over 1-D targets (the mean for MSE, ...); None where the lecture claims none.
    constant_minimiser: Optional[Callable] = None
    # The loss is >= 0 for every input (a likelihood's is not: log var < 0, p log p < p x).
    nonnegative: bool = True
    # A per-element accuracy the docstring promises beyond the tolerance table, in units in the
    # last place, per dtype name (checked by tests/test_registry.py); None: no such promise.
    elementwise_ulps: Optional[dict] = None
    # The keyword argument holding the class indices that decide the kept rows, where they are
    # not the second array (distillation's optional labels); None: the second array.
    labels_arg: Optional[str] = None

    @property
    def reference(self) -> Callable:
        return getattr(reference, self.name)

    @property
    def reference_grad(self) -> Callable:
        return getattr(reference, self.name + "_grad")

    @property
    def arrays(self) -> tuple:
        """The array arguments, in order (the positional parameters of the public function)."""
        params = inspect.signature(self.fn).parameters.values()
        return tuple(p.name for p in params if p.kind is p.POSITIONAL_OR_KEYWORD)

    @property
    def target_differentiable(self) -> bool:
        """Whether the second array has a gradient (every regression loss here is a function of
        pred - target, so d/d target is -d/d pred; the divergences differentiate both logits
        arrays); the framework adapters offer it. A pair loss's second array (the GAN
        discriminator's fake outputs) is no target: it has a pass and a gradient of its own."""
        return (self.kind != "pair" and len(self.arrays) > 1
                and self.arrays[1] in self.differentiable)

    @property
    def header(self) -> str:
        return f"cpp/include/fastloss/losses/{self.name}.h"

    def tol(self, dtype) -> dict:
        t = dict(TOLERANCE[np.dtype(dtype)])
        t.update(self.tolerance.get(np.dtype(dtype), {}))
        return t

    def full_kwargs(self, kwargs: dict) -> dict:
        """kwargs with every keyword-only default of the public function filled in."""
        params = inspect.signature(self.fn).parameters.values()
        defaults = {p.name: p.default for p in params if p.kind is p.KEYWORD_ONLY}
        return {**defaults, **kwargs}

    def loss_shape(self, args, kwargs) -> tuple:
        """The shape of the unreduced loss: the first array's, without the class axis for rows
        and the feature axis (the last) for embeddings."""
        shape = np.shape(args[0])
        if self.kind == "pointwise":
            return shape
        if self.kind == "embedding":
            return shape[:-1]
        axis = self.full_kwargs(kwargs)["axis"] % len(shape)
        return shape[:axis] + shape[axis + 1:]

    def kink_distance(self, args, kwargs):
        """Per unreduced loss element, the distance to the nearest kink (inf for smooth losses)."""
        if self.kinks is None:
            return np.full(self.loss_shape(args, kwargs), np.inf)
        return np.asarray(self.kinks(args, self.full_kwargs(kwargs)), dtype=np.float64)

    def mean_normaliser(self, args, kwargs):
        """n of ``mean = sum(s l) / sum(s n)``, per unreduced loss element, in float64."""
        kw = self.full_kwargs(kwargs)
        n = np.ones(self.loss_shape(args, kwargs))
        if self.mean_count == "elements":  # (also a loss of one array: the GAN generator)
            return n
        if self.mean_count == "valid_lists":
            if kw.get("mask") is None:
                return n
            return np.moveaxis(np.asarray(kw["mask"]), kw["axis"], -1).any(axis=-1).astype(
                np.float64)
        if self.labels_arg is None:
            target = np.asarray(args[1])
        else:  # given by keyword or by position
            position = self.arrays.index(self.labels_arg)
            target = np.asarray(args[position] if len(args) > position
                                else kw.get(self.labels_arg))
        if self.mean_count == "elements" or target.dtype.kind not in "iu":
            return n
        kept = target != kw["ignore_index"]
        if self.mean_count == "kept_rows_class_weighted" and kw.get("class_weight") is not None:
            c = np.asarray(kw["class_weight"], dtype=np.float64)
            return np.where(kept, c[np.where(kept, target, 0)], 0.0)
        return kept.astype(np.float64)


REGISTRY: dict[str, LossSpec] = {}


def _accuracy_line(spec: LossSpec) -> str:
    """The docstring's accuracy sentence, written from the tolerance table (never by hand)."""
    parts = []
    for dtype in (np.float32, np.float64):
        t = spec.tol(dtype)
        parts.append(f"{np.dtype(dtype).name} within {t['rtol']:g} relative "
                     f"(plus {t['atol']:g} of the largest value)")
    for i, dtype in enumerate((np.float32, np.float64)):
        floor = spec.tol(dtype).get("abs_floor")
        if floor:
            parts[i] += f", at least {floor:g} absolute"
    ulps = ""
    if spec.elementwise_ulps is not None:
        ulps = "; each unreduced element within " + " and ".join(
            f"{n} ulp in {dtype}" for dtype, n in spec.elementwise_ulps.items())
    return (f"Accuracy: {' and '.join(parts)}{ulps}, against the float64 reference "
            f"``fastloss.reference.{spec.name}``.")


def register(spec: LossSpec) -> LossSpec:
    """Add spec to REGISTRY and append its accuracy line to the public docstring (after a blank
    line, so that doctest does not read it as an example's output)."""
    REGISTRY[spec.name] = spec
    doc = spec.fn.__doc__.rstrip()
    indent = " " * (len(doc.splitlines()[-1]) - len(doc.splitlines()[-1].lstrip()))
    accuracy = textwrap.fill(_accuracy_line(spec), width=96, initial_indent=indent,
                             subsequent_indent=indent)
    spec.fn.__doc__ = f"{doc}\n\n{accuracy}\n{indent}"
    return spec


def make_inputs(spec: LossSpec, variant: dict, rng, shape, dtype):
    """Sample (args, kwargs) for one test case, resolving the symbolic variant values
    ("per_class", "per_last_axis", "dense", "per_element") into arrays of the right length."""
    kwargs = dict(variant)
    if isinstance(kwargs.get("target"), str) and kwargs["target"] == "dense":
        del kwargs["target"]
        args, extra = _samplers.cross_entropy_dense(rng, shape, dtype)
    else:
        args, extra = spec.sample(rng, shape, dtype)
    kwargs.update(extra)
    last = shape[-1] if len(shape) else 1
    for key, value in list(kwargs.items()):
        if not isinstance(value, str):
            continue
        if value == "per_class":
            kwargs[key] = _samplers.per_class(rng, last)
        elif key == "cost" and value in ("table", "per_sample"):
            cost = _samplers.structured_costs(rng, shape, value, args[1])
            kwargs[key] = cost if value == "table" else cost.astype(dtype)
        elif value == "per_element" and key == "mask":
            kwargs[key] = _samplers.list_mask(rng, shape)
        elif value == "per_last_axis":
            if key == "tau":
                kwargs[key] = rng.uniform(0.05, 0.95, last) if len(shape) else 0.3
            else:
                kwargs[key] = rng.uniform(0.5, 3.0, last) if len(shape) else 2.0
    return args, kwargs
