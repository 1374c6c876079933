"""One entry per loss: the public function, its float64 reference and analytic gradient, an input
sampler, the hyper-parameter variants worth testing, its tolerances, and the facts about the loss
that tests need (which inputs are valid and differentiable, where the kinks are, what the mean
counts, what the lecture claims about it).

Tests and benchmarks iterate over ``REGISTRY``; ``tests/test_registry.py`` fails when a loss lacks
any layer (math header, reference, docstring, bench row).
"""

from __future__ import annotations

import inspect
import textwrap
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from . import _classification as cls
from . import _regression as reg
from . import reference

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


# ---- kinks: distances to where a loss is not twice differentiable ---------------------------

def _abs_error_kinks(points):
    """Kinks where |pred - target| is one of points(kwargs)."""
    def distance(args, kwargs):
        z = np.abs(np.asarray(args[0], np.float64) - np.asarray(args[1], np.float64))
        return np.min([np.abs(z - k) for k in points(kwargs)], axis=0)
    return distance


def _smooth_l1_points(kwargs):
    # beta > 0: the quadratic piece meets the linear one at |d| = beta; beta == 0 is |d|
    return (kwargs["beta"],) if kwargs["beta"] > 0 else (0.0,)


def _margin_kinks(args, kwargs):
    """Hinge losses: the kink at y f = 1 (labels 0 mean -1)."""
    f, y = np.asarray(args[0], np.float64), np.asarray(args[1], np.float64)
    return np.abs(1.0 - np.where(y == 0, -1.0, y) * f)


def _multiclass_margin_kinks(args, kwargs):
    """z_j = margin + x_j - x_t (j != t) at 0, and for crammer_singer a tie for the largest z."""
    x = np.moveaxis(np.asarray(args[0], np.float64), kwargs["axis"], -1)
    t = np.asarray(args[1])[..., None]
    z = kwargs["margin"] + x - np.take_along_axis(x, t, axis=-1)
    others = np.where(np.arange(x.shape[-1]) == t, -np.inf, z)
    distance = np.min(np.where(np.isinf(others), np.inf, np.abs(others)), axis=-1)
    if kwargs["kind"] == "crammer_singer" and x.shape[-1] > 2:
        top = -np.sort(-others, axis=-1)
        tie = np.where(top[..., 0] > 0, top[..., 0] - top[..., 1], np.inf)
        distance = np.minimum(distance, tie)
    return distance


def _tau_quantile(y, kwargs):
    return np.quantile(y, kwargs["tau"], method="inverted_cdf")


# ---- samplers: realistic inputs, drawn in the requested dtype --------------------------------

def _pair(rng, shape, dtype, scale=2.0):
    return (rng.standard_normal(shape) * scale).astype(dtype), rng.standard_normal(shape).astype(dtype)


def _regression(rng, shape, dtype):
    return _pair(rng, shape, dtype), {}


def _quantile(rng, shape, dtype):
    return _pair(rng, shape, dtype), {}


def _probabilities(rng, shape, dtype):
    p = rng.uniform(0.02, 0.98, shape).astype(dtype)
    y = (rng.random(shape) < 0.5).astype(dtype)
    return (p, y), {}


def _logits_binary(rng, shape, dtype):
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    y = rng.random(shape)
    y = np.where(rng.random(shape) < 0.8, np.round(y), y).astype(dtype)  # mostly hard labels
    return (x, y), {}


def _binary_labels(rng, shape, dtype):
    # Scores on a 1/8 grid: 1 - y f is then exact in every dtype, so float32 and the float64
    # reference agree on which side of the hinge's kink each element falls.
    f = (rng.integers(-24, 25, shape) / 8).astype(dtype)
    y = rng.choice(np.array([-1, 1], dtype=np.int64), shape)
    return (f, y), {}


def _class_logits(rng, shape, dtype):
    return (rng.standard_normal(shape) * 2).astype(dtype)


def _labels(rng, shape, classes, ignore=False):
    t = rng.integers(0, classes, shape[:-1] if shape else ())
    if ignore and t.size:
        t = np.where(rng.random(t.shape) < 0.2, -100, t)
    return t


def _cross_entropy(rng, shape, dtype):
    return (_class_logits(rng, shape, dtype), _labels(rng, shape, shape[-1], ignore=True)), {}


def _cross_entropy_dense(rng, shape, dtype):
    x = _class_logits(rng, shape, dtype)
    y = rng.random(shape)
    y = (y / np.maximum(y.sum(-1, keepdims=True), 1e-12)).astype(dtype)
    return (x, y), {}


def _grid_logits(rng, shape, dtype):
    # A 1/8 grid keeps margin + x_j - x_t exact, as for the binary hinge.
    return (rng.integers(-16, 17, shape) / 8).astype(dtype)


def _multiclass_hinge(rng, shape, dtype):
    return (_grid_logits(rng, shape, dtype), _labels(rng, shape, shape[-1])), {}


def _softmax_focal(rng, shape, dtype):
    return (_class_logits(rng, shape, dtype), _labels(rng, shape, shape[-1], ignore=True)), {}


def _per_class(rng, classes):
    return rng.uniform(0.2, 2.0, classes)


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


def _register(spec: LossSpec):
    """Add spec to REGISTRY and append its accuracy line to the public docstring (after a blank
    line, so that doctest does not read it as an example's output)."""
    REGISTRY[spec.name] = spec
    doc = spec.fn.__doc__.rstrip()
    indent = " " * (len(doc.splitlines()[-1]) - len(doc.splitlines()[-1].lstrip()))
    accuracy = textwrap.fill(_accuracy_line(spec), width=96, initial_indent=indent,
                             subsequent_indent=indent)
    spec.fn.__doc__ = f"{doc}\n\n{accuracy}\n{indent}"


_PRED_AND_TARGET = ("pred", "target")  # functions of pred - target: d/dtarget = -d/dpred

_register(LossSpec("mse", "regression", "pointwise", reg.mse, _regression,
                   differentiable=_PRED_AND_TARGET, growth="quadratic", convex=True,
                   # float32: d and d^2 each rounded once, (1 + u)^3 with u = 2^-24: at most
                   # 3 ulp of the result; float64 evaluates the reference's own formula
                   elementwise_ulps={"float32": 3, "float64": 1},
                   constant_minimiser=lambda y, kw: np.mean(y)))
_register(LossSpec("mae", "regression", "pointwise", reg.mae, _regression,
                   differentiable=_PRED_AND_TARGET, convex=True,
                   kinks=_abs_error_kinks(lambda kw: (0.0,)),
                   constant_minimiser=lambda y, kw: np.median(y)))
_register(LossSpec("huber", "regression", "pointwise", reg.huber, _regression,
                   variants=({}, {"delta": 0.5}, {"delta": 3.0}),
                   differentiable=_PRED_AND_TARGET, convex=True,
                   kinks=_abs_error_kinks(lambda kw: (kw["delta"],))))
_register(LossSpec("smooth_l1", "regression", "pointwise", reg.smooth_l1, _regression,
                   variants=({}, {"beta": 0.5}, {"beta": 0.0}),
                   differentiable=_PRED_AND_TARGET, convex=True,
                   kinks=_abs_error_kinks(_smooth_l1_points)))
_register(LossSpec("quantile", "regression", "pointwise", reg.quantile, _quantile,
                   variants=({}, {"tau": 0.1}, {"tau": 0.9}, {"tau": "per_last_axis"}),
                   differentiable=_PRED_AND_TARGET, convex=True,
                   kinks=_abs_error_kinks(lambda kw: (0.0,)),
                   constant_minimiser=_tau_quantile))
_register(LossSpec("log_cosh", "regression", "pointwise", reg.log_cosh, _regression,
                   differentiable=_PRED_AND_TARGET, convex=True))
_register(LossSpec("binary_cross_entropy", "classification", "pointwise",
                   cls.binary_cross_entropy, _probabilities,
                   differentiable=("prob",), domain={"prob": (0.0, 1.0), "target": (0.0, 1.0)},
                   convex=False))  # -log p is, but PyTorch's clamp at -100 flattens it near 0
_register(LossSpec("binary_cross_entropy_with_logits", "classification", "pointwise",
                   cls.binary_cross_entropy_with_logits, _logits_binary,
                   variants=({}, {"pos_weight": "per_last_axis"}),
                   differentiable=("logits",), domain={"target": (0.0, 1.0)}, convex=True))
_register(LossSpec("hinge", "classification", "pointwise", cls.hinge, _binary_labels,
                   differentiable=("pred",), kinks=_margin_kinks, convex=True))
_register(LossSpec("squared_hinge", "classification", "pointwise", cls.squared_hinge,
                   _binary_labels,
                   differentiable=("pred",), kinks=_margin_kinks, growth="quadratic",
                   convex=True))
_register(LossSpec("sigmoid_focal", "classification", "pointwise", cls.sigmoid_focal,
                   _logits_binary,
                   variants=({}, {"alpha": None, "gamma": 0.0}, {"gamma": 1.0},
                             {"alpha": 0.5, "gamma": 1.5}),
                   differentiable=("logits",), domain={"target": (0.0, 1.0)}))
_register(LossSpec("cross_entropy", "classification", "row", cls.cross_entropy, _cross_entropy,
                   variants=({}, {"label_smoothing": 0.1}, {"class_weight": "per_class"},
                             {"class_weight": "per_class", "label_smoothing": 0.2},
                             {"target": "dense"},
                             {"target": "dense", "class_weight": "per_class",
                              "label_smoothing": 0.1}),
                   differentiable=("logits",), mean_count="kept_rows_class_weighted",
                   convex=True))
_register(LossSpec("multiclass_hinge", "classification", "row", cls.multiclass_hinge,
                   _multiclass_hinge,
                   variants=({}, {"squared": True}, {"kind": "crammer_singer"},
                             {"kind": "crammer_singer", "squared": True, "margin": 0.5},
                             {"class_weight": "per_class"}),
                   differentiable=("logits",), kinks=_multiclass_margin_kinks,
                   growth="quadratic",  # when squared
                   convex=True))
_register(LossSpec("softmax_focal", "classification", "row", cls.softmax_focal, _softmax_focal,
                   variants=({}, {"gamma": 0.0}, {"gamma": 0.5, "alpha": 0.25},
                             {"alpha": "per_class"}),
                   differentiable=("logits",), mean_count="kept_rows"))


def make_inputs(spec: LossSpec, variant: dict, rng, shape, dtype):
    """Sample (args, kwargs) for one test case, resolving the symbolic variant values
    ("per_class", "per_last_axis", "dense") into arrays of the right length."""
    kwargs = dict(variant)
    if isinstance(kwargs.get("target"), str) and kwargs["target"] == "dense":
        del kwargs["target"]
        args, extra = _cross_entropy_dense(rng, shape, dtype)
    else:
        args, extra = spec.sample(rng, shape, dtype)
    kwargs.update(extra)
    last = shape[-1] if len(shape) else 1
    for key, value in list(kwargs.items()):
        if not isinstance(value, str):
            continue
        if value == "per_class":
            kwargs[key] = _per_class(rng, last)
        elif value == "per_last_axis":
            if key == "tau":
                kwargs[key] = rng.uniform(0.05, 0.95, last) if len(shape) else 0.3
            else:
                kwargs[key] = rng.uniform(0.5, 3.0, last) if len(shape) else 2.0
    return args, kwargs
