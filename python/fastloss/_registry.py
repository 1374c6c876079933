"""One entry per loss: the public function, its float64 reference and analytic gradient, an input
sampler, the hyper-parameter variants worth testing, and its tolerances.

Tests and benchmarks iterate over ``REGISTRY``; ``tests/test_registry.py`` fails when a loss lacks
any layer (math header, reference, docstring, bench row).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

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
}


@dataclass(frozen=True)
class LossSpec:
    name: str                        # the stem shared by every layer
    family: str                      # "regression" | "classification"
    kind: str                        # "pointwise" | "row"
    fn: Callable
    sample: Callable                 # (rng, shape, dtype) -> (args, kwargs)
    variants: tuple = ({},)          # hyper-parameter sets the tests sweep
    tolerance: dict = field(default_factory=dict)  # per-dtype overrides of TOLERANCE

    @property
    def reference(self) -> Callable:
        return getattr(reference, self.name)

    @property
    def reference_grad(self) -> Callable:
        return getattr(reference, self.name + "_grad")

    @property
    def target_differentiable(self) -> bool:
        """Every regression loss here is a function of pred - target, so d/d target is
        -d/d pred; the framework adapters offer that gradient, and no other."""
        return self.family == "regression"

    @property
    def header(self) -> str:
        return f"cpp/include/fastloss/losses/{self.name}.h"

    def tol(self, dtype) -> dict:
        t = dict(TOLERANCE[np.dtype(dtype)])
        t.update(self.tolerance.get(np.dtype(dtype), {}))
        return t


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


def _register(spec: LossSpec):
    REGISTRY[spec.name] = spec


_register(LossSpec("mse", "regression", "pointwise", reg.mse, _regression))
_register(LossSpec("mae", "regression", "pointwise", reg.mae, _regression))
_register(LossSpec("huber", "regression", "pointwise", reg.huber, _regression,
                   variants=({}, {"delta": 0.5}, {"delta": 3.0})))
_register(LossSpec("smooth_l1", "regression", "pointwise", reg.smooth_l1, _regression,
                   variants=({}, {"beta": 0.5}, {"beta": 0.0})))
_register(LossSpec("quantile", "regression", "pointwise", reg.quantile, _quantile,
                   variants=({}, {"tau": 0.1}, {"tau": 0.9}, {"tau": "per_last_axis"})))
_register(LossSpec("log_cosh", "regression", "pointwise", reg.log_cosh, _regression))
_register(LossSpec("binary_cross_entropy", "classification", "pointwise",
                   cls.binary_cross_entropy, _probabilities))
_register(LossSpec("binary_cross_entropy_with_logits", "classification", "pointwise",
                   cls.binary_cross_entropy_with_logits, _logits_binary,
                   variants=({}, {"pos_weight": "per_last_axis"})))
_register(LossSpec("hinge", "classification", "pointwise", cls.hinge, _binary_labels))
_register(LossSpec("squared_hinge", "classification", "pointwise", cls.squared_hinge,
                   _binary_labels))
_register(LossSpec("sigmoid_focal", "classification", "pointwise", cls.sigmoid_focal,
                   _logits_binary,
                   variants=({}, {"alpha": None, "gamma": 0.0}, {"gamma": 1.0},
                             {"alpha": 0.5, "gamma": 1.5})))
_register(LossSpec("cross_entropy", "classification", "row", cls.cross_entropy, _cross_entropy,
                   variants=({}, {"label_smoothing": 0.1}, {"class_weight": "per_class"},
                             {"class_weight": "per_class", "label_smoothing": 0.2},
                             {"target": "dense"},
                             {"target": "dense", "class_weight": "per_class",
                              "label_smoothing": 0.1})))
_register(LossSpec("multiclass_hinge", "classification", "row", cls.multiclass_hinge,
                   _multiclass_hinge,
                   variants=({}, {"squared": True}, {"kind": "crammer_singer"},
                             {"kind": "crammer_singer", "squared": True, "margin": 0.5},
                             {"class_weight": "per_class"})))
_register(LossSpec("softmax_focal", "classification", "row", cls.softmax_focal, _softmax_focal,
                   variants=({}, {"gamma": 0.0}, {"gamma": 0.5, "alpha": 0.25},
                             {"alpha": "per_class"})))


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
