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

# Accuracy contract, per dtype: |kernel - reference| <= rtol * |reference| + atol * scale, where
# scale is the largest |reference| of the compared array (a gradient entry that is the difference
# of two O(1) numbers can only be as exact as that scale; float32 rounds it to ~6e-8 of it).
TOLERANCE = {
    np.dtype(np.float32): {"rtol": 1e-5, "atol": 1e-6},
    np.dtype(np.float64): {"rtol": 1e-12, "atol": 1e-13},
    # Central differences in float64 with a step of 1e-6 relative: truncation error ~1e-12 and
    # rounding error ~1e-16 / 1e-6 = 1e-10 of the loss's scale, far inside these bounds.
    "finite_difference": {"rtol": 1e-6, "atol": 1e-7},
}

# How far (in the kink's own variable) a finite-difference point must stay from a kink: a
# hundred steps of 1e-6 relative, for inputs of magnitude up to 100.
KINK_CLEARANCE = 1e-2

MEAN_COUNTS = ("elements", "kept_rows", "kept_rows_class_weighted")


@dataclass(frozen=True)
class LossSpec:
    name: str                        # the stem shared by every layer
    family: str                      # "regression" | "classification"
    kind: str                        # "pointwise" | "row"
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
    # targets count every row).  Times the sample weight in every case.
    mean_count: str = "elements"
    # How fast the loss can grow with the magnitude of its inputs: "linear" or "quadratic".
    growth: str = "linear"
    # The loss is convex in its first argument (the lecture says so for MSE, MAE, the hinge and
    # BCE in logit space; it holds for the others marked too).
    convex: bool = False
    # Lecture: (targets, full_kwargs) -> the constant prediction minimising the summed loss
    # over 1-D targets (the mean for MSE, ...); None where the lecture claims none.
    constant_minimiser: Optional[Callable] = None
    # A per-element accuracy the docstring promises beyond the tolerance table, in units in the
    # last place, per dtype name (checked by tests/test_registry.py); None: no such promise.
    elementwise_ulps: Optional[dict] = None

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
        """Whether target has a gradient (every regression loss here is a function of
        pred - target, so d/d target is -d/d pred); the framework adapters offer it."""
        return "target" in self.differentiable

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
        """The shape of the unreduced loss: the first array's, without the class axis for rows."""
        shape = np.shape(args[0])
        if self.kind == "pointwise":
            return shape
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
        target = np.asarray(args[1])
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
    ("per_class", "per_last_axis", "dense") into arrays of the right length."""
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
        elif value == "per_last_axis":
            if key == "tau":
                kwargs[key] = rng.uniform(0.05, 0.95, last) if len(shape) else 0.3
            else:
                kwargs[key] = rng.uniform(0.5, 3.0, last) if len(shape) else 2.0
    return args, kwargs
