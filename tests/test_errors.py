"""Every bad input gets the right exception type, with a message that starts with
``[fastloss.<function>]`` and names the argument and the offending value; inputs are never
modified, whether the call succeeds or raises.
"""

from __future__ import annotations

import copy
import re

import numpy as np
import pytest

import fastloss as fl
from fastloss._registry import REGISTRY
from helpers import row_target_kind

X = np.linspace(-1.0, 1.0, 6).reshape(2, 3)      # pred / logits, 2 rows of 3 classes
Y = np.array([[0.0, 1.0, 0.5], [1.0, 0.0, 0.25]])  # target / probabilities in [0, 1]
P = np.array([[0.1, 0.5, 0.9], [0.2, 0.7, 0.4]])   # probabilities
L = np.array([0, 2])                               # class labels
S = np.array([[1, -1, 1], [-1, 1, 1]])             # signed labels
M = np.array([[2, 0, -1], [1, -1, 7]])             # class-index lists, each ended by -1
NAN = float("nan")

# The (first, target) pointwise losses. The GAN generator (one array) and discriminator (kind
# pair) have their error cases in CASES below and in tests/test_gan.py::test_errors (non-float
# inputs, unknown reductions, bad weights, mismatched dtypes).
POINTWISE = tuple(name for name, spec in REGISTRY.items()
                  if spec.kind == "pointwise" and spec.family != "adversarial")
ROWS = tuple(name for name, spec in REGISTRY.items() if spec.kind == "row")
# The row losses of two logits arrays (distillation's labels are its third, keyword argument).
DIVERGENCE = tuple(name for name, spec in REGISTRY.items() if spec.family == "divergence")
# The row losses whose second argument holds class indices (one per row, or lists of them).
CLASS_INDEX_ROWS = tuple(name for name in ROWS if name not in DIVERGENCE
                         and row_target_kind(name) != "dense")
# Row losses with one class index per row (the others take a target per class).
SPARSE_ROWS = tuple(name for name in ROWS if row_target_kind(name) == "sparse")
# Losses whose target holds integer labels, not floats of the first argument's dtype.
INTEGER_LABELS = {"hinge", "squared_hinge", "hinge_embedding"} | set(CLASS_INDEX_ROWS)
IGNORABLE = tuple(name for name, spec in REGISTRY.items()
                  if spec.mean_count not in ("elements", "valid_lists") and name not in DIVERGENCE)
X2 = X[::-1].copy()                               # a second logits array of X's shape


def _first_arg(name):
    return REGISTRY[name].arrays[0]


def _good_inputs(name, dtype=np.float64):
    """(first, target) valid for `name`, the first argument in dtype."""
    if name in DIVERGENCE:
        return X.astype(dtype), X2.astype(dtype)
    if name in ROWS:
        target = {"sparse": L, "dense": Y, "index_list": np.where(M > 2, 0, M),
                  "relevance": Y, "relevance_order": Y}
        return X.astype(dtype), target[row_target_kind(name)].copy()
    if name in ("hinge", "squared_hinge"):
        return X.astype(dtype), S.copy()
    if _first_arg(name) == "prob":
        return P.astype(dtype), Y.astype(dtype)
    return X.astype(dtype), Y.astype(dtype)


def _extra(name, first):
    """The array arguments after the target, valid for `first`: gaussian_nll's var, or
    distillation's labels (one class index per row)."""
    extra = REGISTRY[name].arrays[2:]
    if extra == ("labels",):
        return (np.zeros(first.shape[:-1], np.int64),)
    dtype = first.dtype if first.dtype in (np.float32, np.float64) else np.float64
    return tuple(np.ones(first.shape, dtype) for _ in extra)


def _pattern(fn, *parts):
    """[fastloss.fn] ... part1 ... part2 ... (literal parts, in order)."""
    return "^" + re.escape(f"[fastloss.{fn}]") + "".join(".*" + re.escape(p) for p in parts)


def _case(fn, exc, parts, *args, call=None, id=None, **kwargs):
    """One error case: call fastloss.<fn>(*args, **kwargs) (or call(*args, **kwargs))."""
    return pytest.param(fn, call, args, kwargs, exc, _pattern(fn, *parts), id=id)


_BUF = np.empty((2, 3))  # a gradient buffer of X's shape and dtype


def _vg(name):
    return lambda *a, **k: fl.value_and_grad(getattr(fl, name))(*a, **k)


CASES = [
    # --- shapes --------------------------------------------------------------------------------
    _case("mse", ValueError, ["target", "(2, 3)", "(1, 3)"], X, Y[:1], id="shape-mse"),
    _case("mae", ValueError, ["target", "(2, 3)", "(2, 1)"], X, Y[:, :1].copy(), id="shape-mae"),
    _case("huber", ValueError, ["target", "(2, 3)", "(3,)"], X, Y[0], id="shape-no-broadcast"),
    _case("binary_cross_entropy", ValueError, ["target", "(2, 3)", "(3, 2)"], P, Y.T.copy(),
          id="shape-bce"),
    _case("hinge", ValueError, ["target", "(2, 3)", "(2,)"], X, np.array([1, -1]),
          id="shape-hinge"),
    _case("cross_entropy", ValueError, ["target", "(2,)", "(3,)"], X, np.array([0, 1, 2]),
          id="shape-ce-labels"),
    _case("cross_entropy", ValueError, ["target", "(2, 3)", "(2, 2)"], X, Y[:, :2].copy(),
          id="shape-ce-dense"),
    _case("multiclass_hinge", ValueError, ["target", "(2,)", "(2, 1)"], X, L[:, None].copy(),
          id="shape-mch"),
    _case("softmax_focal", ValueError, ["target", "(2,)", "(1,)"], X, L[:1], id="shape-sfocal"),
    _case("nll", ValueError, ["target", "log_probs", "(2,)", "(2, 1)"], X, L[:, None].copy(),
          id="shape-nll"),
    _case("multilabel_soft_margin", ValueError, ["target", "(2, 3)", "(2, 2)"], X,
          Y[:, :2].copy(), id="shape-mlsm"),
    _case("multilabel_margin", ValueError, ["target", "(2, 3)", "(2,)"], X, L,
          id="shape-mlm-class-indices"),
    # --- dtypes --------------------------------------------------------------------------------
    _case("mse", TypeError, ["target", "float32", "float64"], X.astype(np.float32), Y,
          id="dtype-mse"),
    _case("log_cosh", TypeError, ["target", "float64", "float32"], X, Y.astype(np.float32),
          id="dtype-log-cosh"),
    _case("sigmoid_focal", TypeError, ["target", "float64", "float32"], X, Y.astype(np.float32),
          id="dtype-sfocal"),
    _case("binary_cross_entropy_with_logits", TypeError, ["target", "float32", "float64"],
          X.astype(np.float32), Y, id="dtype-bcel"),
    _case("cross_entropy", TypeError, ["target", "float64", "float32"], X, Y.astype(np.float32),
          id="dtype-ce-dense"),
    _case("poisson_nll", TypeError, ["target", "float64", "float32"], X, Y.astype(np.float32),
          id="dtype-poisson-nll"),
    _case("poisson_nll", ValueError, ["eps", "> 0", "0"], X, Y, eps=0.0, id="poisson-nll-eps"),
    _case("poisson_nll", TypeError, ["log_input", "bool", "1"], X, Y, log_input=1,
          id="poisson-nll-flag"),
    _case("kl_div", ValueError, ["reduction", "batchmean", "'avg'"], X, P, reduction="avg",
          id="kl-div-reduction"),
    _case("kl_div", ValueError, ["target", "(2, 3)", "(3,)"], X, P[0], id="shape-kl-div"),
    _case("gaussian_nll", ValueError, ["var", ">= 0"], X, Y, -P, id="gaussian-nll-negative-var"),
    _case("gaussian_nll", ValueError, ["var", ">= 0"], X, Y, -1.0, id="gaussian-nll-negative-number"),
    _case("gaussian_nll", ValueError, ["var of shape (3,)", "(2, 3)"], X, Y, P[0],
          id="gaussian-nll-var-shape"),
    _case("gaussian_nll", TypeError, ["var", "float64", "float32"], X, Y, P.astype(np.float32),
          id="gaussian-nll-var-dtype"),
    _case("soft_margin", TypeError, ["target", "float64", "float32"], X, S.astype(np.float32),
          id="dtype-soft-margin"),
    _case("multiclass_hinge", TypeError, ["target", "float64"], X, L.astype(np.float64),
          id="dtype-mch-float-labels"),
    _case("softmax_focal", TypeError, ["target", "float64"], X, L.astype(np.float64),
          id="dtype-sfocal-float-labels"),
    _case("hinge", TypeError, ["target", "bool"], X, S > 0, id="dtype-hinge-bool-labels"),
    _case("nll", TypeError, ["target", "float64"], X, L.astype(np.float64), id="dtype-nll"),
    _case("nll", TypeError, ["log_probs", "float32 or float64", "int64"], L[:, None], L,
          id="dtype-nll-input"),
    _case("multilabel_soft_margin", TypeError, ["target", "float64", "float32"], X,
          Y.astype(np.float32), id="dtype-mlsm"),
    _case("multilabel_soft_margin", TypeError, ["target", "int64"], X, S, id="dtype-mlsm-int"),
    _case("multilabel_margin", TypeError, ["target", "integer", "float64"], X,
          M.astype(np.float64), id="dtype-mlm-float"),
    _case("mse", TypeError, ["sample_weight", "complex128"], X, Y,
          sample_weight=np.ones(3, np.complex128), id="dtype-sample-weight-complex"),
    _case("mse", TypeError, ["sample_weight", "float16"], X, Y,
          sample_weight=np.ones(3, np.float16), id="dtype-sample-weight-f16"),
    # --- labels out of range -------------------------------------------------------------------
    _case("cross_entropy", ValueError, ["label 3", "[0, 3)", "index (1,)"], X, np.array([0, 3]),
          id="label-ce-high"),
    _case("cross_entropy", ValueError, ["label -1", "[0, 3)", "index (1,)"], X, np.array([0, -1]),
          id="label-ce-negative"),
    _case("cross_entropy", ValueError, ["label -100", "index (0,)"], X, np.array([-100, 0]),
          ignore_index=-1, id="label-ce-default-ignore-not-ignored"),
    _case("cross_entropy", ValueError, ["label 7", "[0, 3)", "index (1, 0)"],
          np.zeros((2, 2, 3)), np.array([[0, 1], [7, 2]]), id="label-ce-2d-index"),
    _case("softmax_focal", ValueError, ["label 5", "[0, 3)", "index (0,)"], X, np.array([5, 0]),
          id="label-sfocal"),
    _case("multiclass_hinge", ValueError, ["label -100", "[0, 3)", "index (1,)"], X,
          np.array([0, -100]), id="label-mch-no-ignore-index"),
    _case("multiclass_hinge", ValueError, ["label 3", "[0, 3)", "index (0,)"], X, np.array([3, 0]),
          id="label-mch"),
    _case("cross_entropy", ValueError, ["label 4", "[0, 3)", "index (1,)"], X.T.copy(),
          np.array([0, 4]),
          axis=0, id="label-ce-axis0"),
    _case("nll", ValueError, ["label 3", "[0, 3)", "index (1,)"], X, np.array([0, 3]),
          id="label-nll"),
    _case("nll", ValueError, ["label -100", "[0, 3)", "index (1,)"], X, np.array([0, -100]),
          ignore_index=1, id="label-nll-default-ignore-not-ignored"),
    _case("multilabel_margin", ValueError, ["label 7", "[-1, 3)", "index (1, 2)"], X, M,
          id="label-mlm-after-the-end"),
    _case("multilabel_margin", ValueError, ["label -2", "[-1, 3)", "index (0, 1)"], X,
          np.array([[0, -2, -1], [0, 1, 2]]), id="label-mlm-negative"),
    _case("multilabel_margin", ValueError, ["label 3", "[-1, 3)", "index (2, 1)"],
          X.T.copy(), np.array([[0, 1], [1, -1], [-1, 3]]), axis=0, id="label-mlm-axis0"),
    # --- hyper-parameters ----------------------------------------------------------------------
    _case("huber", ValueError, ["delta", "> 0", "got 0"], X, Y, delta=0.0, id="huber-delta-0"),
    _case("huber", ValueError, ["delta", "> 0", "got -1"], X, Y, delta=-1.0, id="huber-delta-neg"),
    _case("huber", ValueError, ["delta", "finite", "nan"], X, Y, delta=NAN, id="huber-delta-nan"),
    _case("huber", ValueError, ["delta", "finite", "inf"], X, Y, delta=np.inf,
          id="huber-delta-inf"),
    _case("huber", TypeError, ["delta", "'1'"], X, Y, delta="1", id="huber-delta-str"),
    _case("huber", TypeError, ["delta", "True"], X, Y, delta=True, id="huber-delta-bool"),
    _case("smooth_l1", ValueError, ["beta", ">= 0", "-0.5"], X, Y, beta=-0.5, id="smooth-l1-beta"),
    _case("smooth_l1", ValueError, ["beta", "inf"], X, Y, beta=np.inf, id="smooth-l1-beta-inf"),
    _case("quantile", ValueError, ["tau", "(0, 1)", "0.0"], X, Y, tau=0.0, id="tau-0"),
    _case("quantile", ValueError, ["tau", "(0, 1)", "1"], X, Y, tau=1, id="tau-1"),
    _case("quantile", ValueError, ["tau", "(0, 1)", "-0.1"], X, Y, tau=-0.1, id="tau-neg"),
    _case("quantile", ValueError, ["tau", "(0, 1)", "1.5"], X, Y, tau=1.5, id="tau-big"),
    _case("quantile", ValueError, ["tau", "nan"], X, Y, tau=NAN, id="tau-nan"),
    _case("quantile", ValueError, ["tau", "(3)", "(2,)"], X, Y, tau=[0.1, 0.5],
          id="tau-array-length"),
    _case("quantile", ValueError, ["tau", "(2, 3)"], X, Y, tau=np.full((2, 3), 0.5),
          id="tau-array-2d"),
    _case("quantile", ValueError, ["tau", "(0, 1)", "1.0"], X, Y, tau=[0.1, 0.5, 1.0],
          id="tau-array-one"),
    _case("quantile", ValueError, ["tau", "0.0"], X, Y, tau=[0.0, 0.5, 0.5], id="tau-array-zero"),
    _case("quantile", ValueError, ["tau", "nan"], X, Y, tau=[0.1, NAN, 0.5], id="tau-array-nan"),
    _case("cross_entropy", ValueError, ["label_smoothing", "[0, 1]", "1.5"], X, L,
          label_smoothing=1.5, id="label-smoothing-big"),
    _case("cross_entropy", ValueError, ["label_smoothing", "[0, 1]", "-0.1"], X, L,
          label_smoothing=-0.1, id="label-smoothing-neg"),
    _case("cross_entropy", ValueError, ["label_smoothing", "nan"], X, L,
          label_smoothing=NAN, id="label-smoothing-nan"),
    _case("cross_entropy", TypeError, ["ignore_index", "1.5"], X, L, ignore_index=1.5,
          id="ignore-index-float"),
    _case("sigmoid_focal", ValueError, ["gamma", ">= 0", "-1"], X, Y, gamma=-1.0,
          id="sigmoid-focal-gamma"),
    _case("softmax_focal", ValueError, ["gamma", ">= 0", "-0.5"], X, L, gamma=-0.5,
          id="softmax-focal-gamma"),
    _case("sigmoid_focal", ValueError, ["gamma", "inf"], X, Y, gamma=np.inf,
          id="sigmoid-focal-gamma-inf"),
    _case("sigmoid_focal", ValueError, ["alpha", "[0, 1]", "1.5"], X, Y, alpha=1.5,
          id="sigmoid-focal-alpha-big"),
    _case("sigmoid_focal", ValueError, ["alpha", "[0, 1]", "-0.1"], X, Y, alpha=-0.1,
          id="sigmoid-focal-alpha-neg"),
    _case("softmax_focal", ValueError, ["alpha", ">= 0", "-1"], X, L,
          alpha=np.array([1.0, -1.0, 1.0]),
          id="softmax-focal-alpha-array-neg"),
    _case("softmax_focal", ValueError, ["alpha", "(3,)", "(2,)"], X, L, alpha=[1.0, 1.0],
          id="softmax-focal-alpha-array-length"),
    _case("softmax_focal", ValueError, ["alpha", ">= 0", "-0.5"], X, L, alpha=-0.5,
          id="softmax-focal-alpha-scalar-neg"),
    _case("multiclass_hinge", ValueError, ["margin", ">= 0", "-1"], X, L, margin=-1.0,
          id="margin-neg"),
    _case("multiclass_hinge", ValueError, ["margin", "nan"], X, L, margin=NAN, id="margin-nan"),
    _case("multiclass_hinge", ValueError, ["kind", "'foo'"], X, L, kind="foo", id="kind"),
    _case("multiclass_hinge", TypeError, ["squared", "bool", "1"], X, L, squared=1,
          id="squared-int"),
    _case("multiclass_hinge", TypeError, ["squared", "'yes'"], X, L, squared="yes",
          id="squared-str"),
    _case("mse", ValueError, ["sample_weight", ">= 0", "-1.0"], X, Y,
          sample_weight=-np.ones(3), id="sample-weight-neg"),
    _case("mse", ValueError, ["sample_weight", "nan"], X, Y,
          sample_weight=np.array([1.0, NAN, 1.0]), id="sample-weight-nan"),
    _case("mse", ValueError, ["sample_weight", "inf"], X, Y,
          sample_weight=np.array([1.0, np.inf, 1.0]), id="sample-weight-inf"),
    _case("cross_entropy", ValueError, ["sample_weight", "-2"], X, L,
          sample_weight=np.array([1.0, -2.0]), id="sample-weight-neg-rows"),
    _case("cross_entropy", ValueError, ["class_weight", ">= 0", "-1"], X, L,
          class_weight=[1.0, -1.0, 1.0], id="class-weight-neg"),
    _case("cross_entropy", ValueError, ["class_weight", "(3,)", "(2,)"], X, L,
          class_weight=[1.0, 1.0], id="class-weight-length"),
    _case("multiclass_hinge", ValueError, ["class_weight", "(3,)", "(4,)"], X, L,
          class_weight=np.ones(4), id="class-weight-length-mch"),
    _case("multiclass_hinge", ValueError, ["class_weight", "nan"], X, L,
          class_weight=[1.0, NAN, 1.0], id="class-weight-nan-mch"),
    _case("nll", ValueError, ["class_weight", ">= 0", "-1"], X, L, class_weight=[1.0, -1.0, 1.0],
          id="class-weight-neg-nll"),
    _case("multilabel_soft_margin", ValueError, ["class_weight", "(3,)", "(2,)"], X, Y,
          class_weight=[1.0, 1.0], id="class-weight-length-mlsm"),
    _case("binary_cross_entropy_with_logits", ValueError, ["pos_weight", ">= 0", "-1.0"], X, Y,
          pos_weight=-1.0, id="pos-weight-neg"),
    _case("binary_cross_entropy_with_logits", ValueError, ["pos_weight", "-0.5"], X, Y,
          pos_weight=np.array([1.0, -0.5, 1.0]), id="pos-weight-array-neg"),
    _case("binary_cross_entropy_with_logits", ValueError, ["pos_weight", "(2,)", "(2, 3)"], X, Y,
          pos_weight=np.ones(2), id="pos-weight-broadcast"),
    # --- reduction, broadcasting ---------------------------------------------------------------
    _case("mse", ValueError, ["reduction", "'avg'"], X, Y, reduction="avg", id="reduction-avg"),
    _case("mse", ValueError, ["reduction", "None"], X, Y, reduction=None, id="reduction-none-obj"),
    _case("mse", ValueError, ["reduction", "'MEAN'"], X, Y, reduction="MEAN", id="reduction-case"),
    _case("cross_entropy", ValueError, ["reduction", "'max'"], X, L, reduction="max",
          id="reduction-rows"),
    _case("mse", ValueError, ["sample_weight", "(2,)", "(2, 3)"], X, Y, sample_weight=np.ones(2),
          id="sample-weight-broadcast"),
    _case("cross_entropy", ValueError, ["sample_weight", "(3,)", "(2,)"], X, L,
          sample_weight=np.ones(3), id="sample-weight-broadcast-rows"),
    # --- domains -------------------------------------------------------------------------------
    _case("binary_cross_entropy", ValueError, ["prob", "[0, 1]", "1.5", "index (1,)"],
          np.array([0.5, 1.5]), np.array([1.0, 0.0]), id="prob-above-one"),
    _case("binary_cross_entropy", ValueError, ["prob", "[0, 1]", "-0.1", "index (0, 1)"],
          np.array([[0.5, -0.1]]), np.array([[1.0, 0.0]]), id="prob-negative"),
    _case("binary_cross_entropy", ValueError, ["prob", "inf"],
          np.array([0.5, np.inf], np.float32), np.array([1.0, 0.0], np.float32), id="prob-inf"),
    _case("hinge", ValueError, ["target", "-1, 0 or 1", "2", "index (1,)"], X[0],
          np.array([1, 2, -1]),
          id="hinge-label-2"),
    _case("squared_hinge", ValueError, ["target", "-1, 0 or 1", "0.5", "index (1,)"], X[0],
          np.array([1.0, 0.5, -1.0]), id="squared-hinge-label-half"),
    _case("hinge", ValueError, ["target", "-2"], X[0], np.array([1, -2, -1], np.int8),
          id="hinge-label-int8"),
    # --- axes ----------------------------------------------------------------------------------
    _case("cross_entropy", ValueError, ["axis 2", "2 dimensions"], X, L, axis=2, id="axis-2"),
    _case("cross_entropy", ValueError, ["axis -3", "2 dimensions"], X, L, axis=-3, id="axis-neg"),
    _case("softmax_focal", ValueError, ["axis 5"], X, L, axis=5, id="axis-sfocal"),
    _case("multiclass_hinge", ValueError, ["axis 2"], X, L, axis=2, id="axis-mch"),
    _case("cross_entropy", TypeError, ["axis", "1.0"], X, L, axis=1.0, id="axis-float"),
    _case("cross_entropy", ValueError, ["logits", "0-d"], np.float64(1.0), np.int64(0),
          id="logits-0d"),
    # --- value_and_grad --------------------------------------------------------------------------
    _case("mse", ValueError, ["grad_output", "(4,)", "(2, 3)"], X, Y, reduction="none",
          grad_output=np.ones(4), call=_vg("mse"), id="grad-output-shape-none"),
    _case("mse", ValueError, ["grad_output", "scalar", "(3,)"], X, Y,
          grad_output=np.ones(3), call=_vg("mse"), id="grad-output-shape-mean"),
    _case("cross_entropy", ValueError, ["grad_output", "(3,)", "(2,)"], X, L, reduction="none",
          grad_output=np.ones(3), call=_vg("cross_entropy"), id="grad-output-shape-rows"),
    _case("cross_entropy", ValueError, ["grad_output", "scalar", "(2,)"], X, L, reduction="sum",
          grad_output=np.ones(2), call=_vg("cross_entropy"), id="grad-output-shape-rows-sum"),
    _case("mse", TypeError, ["grad_output", "complex"], X, Y, reduction="none",
          grad_output=np.ones(3, np.complex128), call=_vg("mse"), id="grad-output-complex"),
    _case("cross_entropy", ValueError, ["label 3"], X, np.array([3, 0]), call=_vg("cross_entropy"),
          id="label-under-value-and-grad"),
    _case("value_and_grad", TypeError, ["fastloss loss function", "sum"], np.sum,
          call=fl.value_and_grad, id="value-and-grad-numpy-fn"),
    _case("value_and_grad", TypeError, ["fastloss loss function", "<lambda>"],
          lambda a, b: fl.mse(a, b), call=fl.value_and_grad, id="value-and-grad-lambda"),
    _case("value_and_grad", TypeError, ["fastloss loss function"], fl.reference.mse,
          call=fl.value_and_grad, id="value-and-grad-reference"),
    _case("value_and_grad", TypeError, ["argnums", "'0'"], fl.mse, argnums="0",
          call=fl.value_and_grad, id="argnums-string"),
    _case("value_and_grad", TypeError, ["argnums", "()"], fl.mse, argnums=(),
          call=fl.value_and_grad, id="argnums-empty"),
    _case("value_and_grad", ValueError, ["argnums", "(0, 0)"], fl.mse, argnums=(0, 0),
          call=fl.value_and_grad, id="argnums-repeated"),
    _case("grad", TypeError, ["argnums", "True"], fl.mse, argnums=True, call=fl.grad,
          id="grad-argnums-bool"),
    _case("mse", ValueError, ["argnums 2", "pred, target"], X, Y,
          call=lambda *a: fl.value_and_grad(fl.mse, argnums=2)(*a), id="argnums-out-of-range"),
    _case("cross_entropy", ValueError, ["target has no gradient"], X, np.array([1, 0]),
          call=lambda *a: fl.grad(fl.cross_entropy, argnums=1)(*a), id="argnums-labels"),
    _case("binary_cross_entropy", ValueError, ["target has no gradient"], P, P,
          call=lambda *a: fl.grad(fl.binary_cross_entropy, argnums=(0, 1))(*a),
          id="argnums-soft-target"),
    _case("mse", TypeError, ["grad_into", "tuple of 2"], X, Y, grad_into=np.empty_like(X),
          call=lambda *a, **k: fl.value_and_grad(fl.mse, argnums=(0, 1))(*a, **k),
          id="argnums-grad-into-not-tuple"),
    _case("mse", ValueError, ["grad_into[1]", "overlaps the gradient of pred"], X, Y,
          call=lambda *a: fl.value_and_grad(fl.mse, argnums=(0, 1))(
              *a, grad_into=(_BUF, _BUF)), id="argnums-grad-into-same"),
    _case("grad", TypeError, ["fastloss loss function"], np.mean, call=fl.grad,
          id="grad-numpy-fn"),
    # --- the divergences and distillation -------------------------------------------------------
    _case("kl_divergence", ValueError, ["q_logits", "(2, 3)", "(2, 2)"], X, X2[:, :2],
          id="shape-kl"),
    _case("js_divergence", TypeError, ["q_logits", "float64", "float32"], X,
          X2.astype(np.float32), id="dtype-js"),
    _case("kl_divergence", ValueError, ["temperature", "> 0", "0"], X, X2, temperature=0.0,
          id="temperature-0-kl"),
    _case("js_divergence", ValueError, ["temperature", "> 0", "-1"], X, X2, temperature=-1.0,
          id="temperature-neg-js"),
    _case("js_divergence", ValueError, ["beta", "[0, 1]", "1.5"], X, X2, beta=1.5,
          id="beta-js"),
    _case("distillation", ValueError, ["temperature", "> 0", "0"], X, X2, L, temperature=0,
          id="temperature-distillation"),
    _case("distillation", ValueError, ["alpha", ">= 0", "-0.5"], X, X2, L, alpha=-0.5,
          id="alpha-distillation"),
    _case("distillation", ValueError, ["beta", ">= 0", "-1"], X, X2, L, beta=-1.0,
          id="beta-distillation"),
    _case("distillation", TypeError, ["t2_scale", "bool"], X, X2, t2_scale=1,
          id="t2-scale-distillation"),
    _case("distillation", ValueError, ["teacher_logits", "(2, 3)", "(3, 3)"], X,
          np.zeros((3, 3)), id="shape-distillation"),
    _case("distillation", ValueError, ["labels", "(2,)", "(3,)"], X, X2, np.array([0, 1, 2]),
          id="labels-shape-distillation"),
    _case("distillation", TypeError, ["labels", "integer", "float64"], X, X2,
          np.array([0.0, 1.0]), id="labels-dtype-distillation"),
    _case("distillation", ValueError, ["label 3", "[0, 3)", "index (0,)"], X, X2,
          np.array([3, 0]), id="labels-range-distillation"),
    _case("distillation", ValueError, ["labels has no gradient"], X, X2, L,
          call=lambda *a: fl.grad(fl.distillation, argnums=2)(*a), id="argnums-labels-distill"),
    _case("kl_divergence", ValueError, ["grad_into", "must not be the input itself"], X.copy(),
          X2, call=lambda x, y: fl.value_and_grad(fl.kl_divergence)(x, y, grad_into=x),
          id="kl-no-in-place-gradient"),
    # --- margin_ranking ---------------------------------------------------------------------------
    _case("margin_ranking", ValueError, ["x2", "(2, 3)", "(3,)"], X, Y[0], S[0],
          id="shape-margin-ranking"),
    _case("margin_ranking", ValueError, ["y of shape (2,)", "(2, 3)"], X, Y, np.array([1, -1]),
          id="y-shape-margin-ranking"),
    _case("margin_ranking", TypeError, ["x2", "float64", "float32"], X, Y.astype(np.float32), S,
          id="dtype-margin-ranking"),
    _case("margin_ranking", TypeError, ["y", "real", "bool"], X, Y, S > 0,
          id="y-dtype-margin-ranking"),
    _case("margin_ranking", ValueError, ["margin", ">= 0", "-1"], X, Y, S, margin=-1.0,
          id="margin-negative-ranking"),
    _case("margin_ranking", ValueError, ["margin", "finite", "inf"], X, Y, S, margin=np.inf,
          id="margin-inf-ranking"),
    _case("margin_ranking", ValueError, ["y has no gradient"], X, Y, S,
          call=lambda *a: fl.grad(fl.margin_ranking, argnums=2)(*a), id="argnums-y-ranking"),
    # --- hinge_embedding ------------------------------------------------------------------------
    _case("hinge_embedding", ValueError, ["target", "(2, 3)", "(3,)"], X, S[0],
          id="shape-hinge-embedding"),
    _case("hinge_embedding", TypeError, ["target", "real", "bool"], X, S > 0,
          id="dtype-hinge-embedding"),
    _case("hinge_embedding", ValueError, ["margin", "finite", "nan"], X, S, margin=NAN,
          id="margin-nan-hinge-embedding"),
    _case("hinge_embedding", TypeError, ["margin", "real number"], X, S, margin="1",
          id="margin-str-hinge-embedding"),
    _case("hinge_embedding", ValueError, ["target has no gradient"], X, S,
          call=lambda *a: fl.grad(fl.hinge_embedding, argnums=1)(*a),
          id="argnums-target-hinge-embedding"),
    # --- GAN losses ----------------------------------------------------------------------------
    _case("gan_discriminator", ValueError, ["kind", "'wgan'"], X, X[0], kind="wgan",
          id="gan-d-kind"),
    _case("gan_discriminator", ValueError, ["real_label", "(0, 1]", "1.5"], X, X,
          real_label=1.5, id="gan-d-real-label"),
    _case("gan_discriminator", ValueError, ["real_label", "'bce' and 'least_squares'"], X, X,
          kind="wasserstein", real_label=0.9, id="gan-d-label-without-kind"),
    _case("gan_discriminator", TypeError, ["fake", "dtype of real", "float32"], X,
          X.astype(np.float32), id="gan-d-dtypes"),
    _case("gan_discriminator", ValueError, ["argnums position 2"], X, X,
          call=lambda *a: fl.grad(fl.gan_discriminator, argnums=2)(*a), id="gan-d-argnums"),
    _case("gan_generator", ValueError, ["kind", "'ns'"], X, kind="ns", id="gan-g-kind"),
    _case("gan_generator", TypeError, ["fake", "float32 or float64", "int64"], L,
          id="gan-g-dtype"),
    # --- metric learning -----------------------------------------------------------------------
    _case("contrastive", ValueError, ["x2", "number of features", "(2, 3)", "(2, 2)"], X,
          X2[:, :2], L % 2, id="features-contrastive"),
    _case("contrastive", ValueError, ["similar", "row shape", "(2,)", "(3,)"], X, X2,
          np.array([0, 1, 1]), id="label-shape-contrastive"),
    _case("contrastive", ValueError, ["similar", "0 or 1", "2", "index (1,)"], X, X2, L,
          id="label-value-contrastive"),
    _case("contrastive", ValueError, ["margin", ">= 0", "-1"], X, X2, L % 2, margin=-1.0,
          id="margin-contrastive"),
    _case("contrastive", TypeError, ["x1", "float32 or float64", "int64"], L[:, None], L[:, None],
          L % 2, id="dtype-contrastive"),
    _case("contrastive", ValueError, ["grad_into", "must not be the input itself"], X.copy(),
          X2, L % 2, call=lambda x, y, t: fl.value_and_grad(fl.contrastive)(x, y, t, grad_into=x),
          id="contrastive-no-in-place-gradient"),
    _case("cosine_embedding", ValueError, ["target", "1 or -1", "0", "index (0,)"], X, X2, L,
          id="label-value-cosine-embedding"),
    _case("cosine_embedding", ValueError, ["target", "row shape", "(2,)", "(3,)"], X, X2,
          np.array([1, -1, 1]), id="label-shape-cosine-embedding"),
    _case("cosine_embedding", ValueError, ["margin", "finite", "inf"], X, X2, S[0, :2],
          margin=np.inf, id="margin-cosine-embedding"),
    _case("cosine_embedding", TypeError, ["x2", "dtype of x1", "float32"], X,
          X2.astype(np.float32), S[0, :2], id="dtype-cosine-embedding"),
    _case("cosine_embedding", ValueError, ["target has no gradient"], X, X2, S[0, :2],
          call=lambda *a: fl.grad(fl.cosine_embedding, argnums=2)(*a),
          id="argnums-target-cosine-embedding"),
    _case("triplet", ValueError, ["negative", "number of features", "(2, 3)", "(2, 2)"], X, X2,
          X2[:, :2], id="features-triplet"),
    _case("triplet", ValueError, ["p", ">= 1", "0.5"], X, X2, X, p=0.5, id="p-triplet"),
    _case("triplet", ValueError, ["margin", ">= 0", "-1"], X, X2, X, margin=-1.0,
          id="margin-triplet"),
    _case("triplet", TypeError, ["positive", "dtype of anchor", "float32"], X,
          X2.astype(np.float32), X, id="dtype-triplet"),
    _case("info_nce", ValueError, ["temperature", "> 0", "0"], X, X2, temperature=0.0,
          id="temperature-info_nce"),
    _case("info_nce", ValueError, ["query", "(N, D)", "(6,)"], X.ravel(), X2.ravel(),
          id="ndim-info_nce"),
    _case("info_nce", ValueError, ["key", "number of features", "(2, 3)", "(2, 2)"], X,
          X2[:, :2], id="features-info_nce"),
    _case("info_nce", TypeError, ["key", "dtype of query", "float32"], X, X2.astype(np.float32),
          id="dtype-info_nce"),
    _case("info_nce", TypeError, ["symmetric", "True or False"], X, X2, symmetric=1,
          id="symmetric-info_nce"),
    _case("center", ValueError, ["labels", "class 5", "[0, 3)", "index 1"], X, np.array([0, 5]),
          X2[:1].repeat(3, axis=0), id="label-range-center"),
    _case("center", ValueError, ["centers", "(C, 3)", "(3, 2)"], X, L, np.ones((3, 2)),
          id="centers-shape-center"),
    _case("center", TypeError, ["centers", "dtype of features", "float32"], X, L,
          np.ones((3, 3), np.float32), id="dtype-center"),
    _case("center", ValueError, ["labels has no gradient"], X, L, np.ones((3, 3)),
          call=lambda *a: fl.grad(fl.center, argnums=1)(*a), id="argnums-labels-center"),
    # --- listwise ranking ----------------------------------------------------------------------
    _case("listnet", ValueError, ["relevance", "(2, 3)", "(2, 2)"], X, Y[:, :2],
          id="shape-listnet"),
    _case("listnet", TypeError, ["relevance", "float64", "float32"], X, Y.astype(np.float32),
          id="dtype-listnet"),
    _case("listnet", TypeError, ["relevance", "float relevance", "int64"], X, S,
          id="int-relevance-listnet"),
    _case("listnet", ValueError, ["relevance has no gradient"], X, Y,
          call=lambda *a: fl.grad(fl.listnet, argnums=1)(*a), id="argnums-listnet"),
    _case("listmle", ValueError, ["mask", "(2, 3)", "(2, 2)"], X, Y, mask=np.ones((2, 2), bool),
          id="mask-shape-listmle"),
    _case("listmle", TypeError, ["mask", "boolean", "float64"], X, Y, mask=np.ones((2, 3)),
          id="mask-dtype-listmle"),
    _case("listmle", ValueError, ["axis 2", "out of range"], X, Y, axis=2, id="axis-listmle"),
    # --- structured ----------------------------------------------------------------------------
    _case("structured_hinge", ValueError, ["cost", "(3, 3)", "(2, 3)", "(2, 2)"], X, L,
          cost=np.zeros((2, 2)), id="cost-shape-structured"),
    _case("structured_hinge", ValueError, ["cost", "finite", ">= 0"], X, L,
          cost=-np.ones((3, 3)), id="cost-negative-structured"),
    _case("structured_hinge", ValueError, ["cost", "finite"], X, L,
          cost=np.full((2, 3), np.inf), id="cost-inf-structured"),
    _case("structured_hinge", ValueError, ["cost", "finite"], X, L,
          cost=np.full((3, 3), NAN), id="cost-nan-structured"),
    _case("structured_hinge", TypeError, ["per-sample cost", "float64", "float32"], X, L,
          cost=np.ones((2, 3), np.float32), id="cost-dtype-structured"),
    _case("structured_hinge", TypeError, ["cost", "real array", "bool"], X, L,
          cost=np.ones((3, 3), bool), id="cost-bool-structured"),
    _case("structured_hinge", ValueError, ["ambiguous", "cost_per_sample"], X[:, :2].copy(),
          np.array([0, 1]), cost=np.ones((2, 2)), id="cost-ambiguous-structured"),
    _case("structured_hinge", ValueError, ["cost", "(3, 3)"], X, L, cost=np.ones((2, 3)),
          cost_per_sample=False, id="cost-table-structured"),
    _case("structured_hinge", TypeError, ["cost_per_sample", "bool"], X, L,
          cost=np.ones((2, 3)), cost_per_sample=1, id="cost-per-sample-structured"),
    _case("structured_hinge", ValueError, ["rescaling", "'both'"], X, L, rescaling="both",
          id="rescaling-structured"),
    _case("structured_hinge", ValueError, ["label 3", "[0, 3)"], X, np.array([0, 3]),
          cost=np.ones((3, 3)), id="label-structured"),
    # --- threads -------------------------------------------------------------------------------
    _case("set_num_threads", ValueError, ["n", ">= 1", "0"], 0, call=fl.set_num_threads,
          id="threads-0"),
    _case("set_num_threads", ValueError, ["n", ">= 1", "-2"], -2, call=fl.set_num_threads,
          id="threads-neg"),
    _case("set_num_threads", TypeError, ["n", "integer", "1.5"], 1.5, call=fl.set_num_threads,
          id="threads-float"),
]

# Every registered loss has at least one error case of its own (none is excluded).
assert {p.values[0] for p in CASES} >= set(REGISTRY), \
    sorted(set(REGISTRY) - {p.values[0] for p in CASES})


def _arrays(obj):
    """Every ndarray reachable in obj's args/kwargs (one level deep)."""
    if isinstance(obj, np.ndarray):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [a for o in obj for a in _arrays(o)]
    if isinstance(obj, dict):
        return [a for o in obj.values() for a in _arrays(o)]
    return []


@pytest.mark.parametrize("fn, call, args, kwargs, exc, match", CASES)
def test_error(fn, call, args, kwargs, exc, match):
    args = copy.deepcopy(args)
    kwargs = copy.deepcopy(kwargs)
    arrays = _arrays((args, kwargs))
    before = [a.copy() for a in arrays]
    threads = fl.get_num_threads()
    target = call if call is not None else getattr(fl, fn)
    with pytest.raises(exc, match=match) as info:
        target(*args, **kwargs)
    assert type(info.value) is exc, \
        f"expected exactly {exc.__name__}, got {type(info.value).__name__}"
    assert str(info.value).startswith(f"[fastloss.{fn}] ")
    for a, b in zip(arrays, before):
        np.testing.assert_array_equal(a, b, err_msg="an input was modified by a failing call")
    assert fl.get_num_threads() == threads


@pytest.mark.parametrize("name", POINTWISE + ROWS)
# float16 is accepted (computed in float32; see tests/test_interop.py).
@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint8, np.bool_,
                                   np.complex64, np.complex128, np.longdouble, object],
                         ids=lambda d: np.dtype(d).name)
def test_non_float_first_argument_is_a_type_error(name, dtype):
    first, target = _good_inputs(name)
    bad = first.astype(dtype)
    arg = _first_arg(name)
    with pytest.raises(TypeError, match=_pattern(name, arg, "float32 or float64",
                                                 str(np.dtype(dtype)))):
        getattr(fl, name)(bad, target, *_extra(name, bad))
    with pytest.raises(TypeError, match=_pattern(name, arg)):
        fl.value_and_grad(getattr(fl, name))(bad, target, *_extra(name, bad))


@pytest.mark.parametrize("name", POINTWISE)
def test_pointwise_shape_mismatch_names_both_shapes(name):
    first, target = _good_inputs(name)
    arg, second = REGISTRY[name].arrays[:2]  # (margin_ranking's second array is x2)
    with pytest.raises(ValueError, match=_pattern(name, second, arg, "(2, 3)", "(2, 2)")):
        getattr(fl, name)(first, target[:, :2], *_extra(name, first))


@pytest.mark.parametrize("name", [n for n in POINTWISE if n not in INTEGER_LABELS])
def test_pointwise_dtype_mismatch(name):
    first, target = _good_inputs(name, np.float32)
    second = REGISTRY[name].arrays[1]
    with pytest.raises(TypeError, match=_pattern(name, second, "float32", "float64")):
        getattr(fl, name)(first, target.astype(np.float64), *_extra(name, first))


@pytest.mark.parametrize("name", POINTWISE + ROWS)
@pytest.mark.parametrize("reduction", ["avg", "", "Mean", None, 1])
def test_unknown_reduction_every_loss(name, reduction):
    first, target = _good_inputs(name)
    with pytest.raises(ValueError, match=_pattern(name, "reduction", repr(reduction))):
        getattr(fl, name)(first, target, *_extra(name, first), reduction=reduction)


@pytest.mark.parametrize("name", POINTWISE + ROWS)
@pytest.mark.parametrize("bad", [-1.0, NAN, np.inf, -np.inf])
def test_bad_sample_weight_every_loss(name, bad):
    first, target = _good_inputs(name)
    shape = first.shape if name in POINTWISE else first.shape[:-1]
    w = np.ones(shape)
    w.flat[-1] = bad
    shown = repr(bad).lstrip("-")[:3]  # "1.0", "nan", "inf"
    with pytest.raises(ValueError, match=_pattern(name, "sample_weight", shown)):
        getattr(fl, name)(first, target, *_extra(name, first), sample_weight=w)


@pytest.mark.parametrize("name", SPARSE_ROWS + ("distillation",))
@pytest.mark.parametrize("label", [3, 4, 1000, -2, np.iinfo(np.int64).min, np.iinfo(np.int64).max])
def test_label_out_of_range_rows(name, label):
    t = np.array([1, label], dtype=np.int64)
    with pytest.raises(ValueError, match=_pattern(name, f"label {label}", "[0, 3)", "index (1,)")):
        getattr(fl, name)(X, *((X2,) if name in DIVERGENCE else ()), t)


@pytest.mark.parametrize("name", IGNORABLE)
@pytest.mark.parametrize("ignore_index", [-100, -1, 7, 2])
def test_ignore_index_is_allowed_anywhere(name, ignore_index):
    t = np.array([0, ignore_index])
    value = getattr(fl, name)(X, t, ignore_index=ignore_index, reduction="none")
    assert value[1] == 0.0
    assert np.isfinite(value[0])


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint64])
def test_label_dtypes_and_range(dtype):
    t = np.array([0, 2], dtype=dtype)
    assert np.isfinite(fl.cross_entropy(X, t))
    with pytest.raises(ValueError, match=_pattern("cross_entropy", "label 3")):
        fl.cross_entropy(X, np.array([0, 3], dtype=dtype))


def test_error_leaves_value_and_grad_usable():
    vg = fl.value_and_grad(fl.cross_entropy)
    with pytest.raises(ValueError):
        vg(X, np.array([0, 3]))
    # no request leaks into the next plain call or the next value_and_grad call
    plain = fl.cross_entropy(X, L)
    loss, g = vg(X, L)
    assert float(loss) == float(plain)
    assert g.shape == X.shape
    with pytest.raises(ValueError):
        vg(X, L, reduction="bad")
    loss2, g2 = fl.value_and_grad(fl.mse)(X, Y)
    assert g2.shape == X.shape


def test_set_num_threads_rejects_and_keeps_the_setting():
    n = fl.get_num_threads()
    for bad in (0, -1):
        with pytest.raises(ValueError, match=_pattern("set_num_threads", "n", str(bad))):
            fl.set_num_threads(bad)
    for bad in (True, 2.0, "2", None):
        with pytest.raises(TypeError, match=_pattern("set_num_threads", "n")):
            fl.set_num_threads(bad)
    assert fl.get_num_threads() == n


def _successful_calls():
    """(name, args, kwargs) that succeed, with every optional array operand in use."""
    w = np.array([1.0, 2.0, 0.5])
    return [
        ("mse", (X, Y), {"sample_weight": w}),
        ("mae", (X, Y), {"reduction": "sum"}),
        ("smooth_l1", (X, Y), {"beta": 0.5, "sample_weight": w}),
        ("log_cosh", (X, Y), {"reduction": "none"}),
        ("huber", (X, Y), {"delta": 0.3, "reduction": "none"}),
        ("quantile", (X, Y), {"tau": np.array([0.1, 0.5, 0.9])}),
        ("binary_cross_entropy", (P, Y), {"reduction": "sum"}),
        ("binary_cross_entropy_with_logits", (X, Y), {"pos_weight": np.array([1.0, 2.0, 3.0])}),
        ("hinge", (X, S), {}),
        ("squared_hinge", (X, S), {"sample_weight": w}),
        ("sigmoid_focal", (X, Y), {"sample_weight": w}),
        ("soft_margin", (X, S.astype(np.float64)), {"sample_weight": w}),
        ("poisson_nll", (P, Y * 3), {"log_input": False, "full": True, "sample_weight": w}),
        ("kl_div", (np.log(P), P), {"reduction": "batchmean", "sample_weight": w}),
        ("gaussian_nll", (X, Y, P), {"full": True, "sample_weight": w}),
        ("gaussian_nll", (X, Y, P[:, :1].copy()), {"reduction": "none"}),
        ("cross_entropy", (X, L), {"class_weight": w, "label_smoothing": 0.1}),
        ("cross_entropy", (X, P / P.sum(1, keepdims=True)), {"axis": 1}),
        ("cross_entropy", (X.T.copy(), L), {"axis": 0}),
        ("multiclass_hinge", (X, L), {"class_weight": w, "squared": True}),
        ("softmax_focal", (X, L), {"alpha": w, "sample_weight": np.array([1.0, 3.0])}),
        ("nll", (X, L), {"class_weight": w, "sample_weight": np.array([1.0, 3.0])}),
        ("multilabel_soft_margin", (X, Y), {"class_weight": w, "reduction": "none"}),
        ("multilabel_margin", (X.T.copy(), np.array([[0, 1], [1, -1], [-1, 0]])), {"axis": 0}),
        ("kl_divergence", (X, X2), {"temperature": 2.0, "sample_weight": np.array([1.0, 3.0])}),
        ("js_divergence", (X.T.copy(), X2.T.copy()), {"axis": 0, "beta": 0.3}),
        ("distillation", (X, X2, L), {"reduction": "none"}),
        ("distillation", (X, X2), {"sample_weight": np.array([1.0, 3.0])}),
        ("margin_ranking", (X, Y, S), {"margin": 0.5, "sample_weight": w}),
        ("margin_ranking", (X, Y, 1.0), {"reduction": "none"}),
        ("hinge_embedding", (np.abs(X), S), {"margin": 0.5, "sample_weight": w}),
        ("gan_discriminator", (X, X2[0]), {"kind": "least_squares", "real_label": 0.9}),
        ("gan_generator", (X,), {"kind": "minimax", "sample_weight": w}),
        ("contrastive", (X, X2, L % 2), {"margin": 2.0, "sample_weight": np.array([1.0, 3.0])}),
        ("cosine_embedding", (X, X2, S[0, :2]), {"margin": 0.2, "reduction": "none"}),
        ("info_nce", (X, X2), {"symmetric": True, "sample_weight": np.array([1.0, 3.0])}),
        ("center", (X, L, X2.repeat(2, axis=0)), {"sample_weight": np.array([1.0, 3.0])}),
        ("contrastive", (X.T.copy(), X2.T.copy(), np.array([1.0, 0.0, 1.0])), {"reduction": "none"}),
        ("triplet", (X, X2, X[:, ::-1].copy()), {"p": 1.0, "swap": True}),
        ("triplet", (X.T.copy(), X2.T.copy(), X.T[::-1].copy()), {"reduction": "none"}),
        ("listnet", (X, Y), {"mask": P > 0.3, "sample_weight": np.array([1.0, 3.0])}),
        ("structured_hinge", (X, L), {"cost": P, "rescaling": "slack"}),
        ("structured_hinge", (X.T.copy(), np.array([1, 2])), {"cost": np.ones((3, 3)),
                                                              "axis": 0, "reduction": "none"}),
        ("listmle", (X.T.copy(), Y.T.copy()), {"axis": 0, "reduction": "none"}),
    ]


# Every registered loss has a successful call (none is excluded).
assert {name for name, _, _ in _successful_calls()} == set(REGISTRY)


@pytest.mark.parametrize("name, args, kwargs", _successful_calls(),
                         ids=[c[0] + str(i) for i, c in enumerate(_successful_calls())])
def test_successful_calls_do_not_modify_inputs(name, args, kwargs):
    args = copy.deepcopy(args)
    kwargs = copy.deepcopy(kwargs)
    arrays = _arrays((args, kwargs))
    before = [a.copy() for a in arrays]
    fn = getattr(fl, name)
    fn(*args, **kwargs)
    go = np.full((), 2.0) if kwargs.get("reduction", "mean") != "none" else None
    fl.value_and_grad(fn)(*args, grad_output=go, **kwargs)
    for a, b in zip(arrays, before):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", POINTWISE + ROWS)
def test_read_only_inputs_are_accepted(name):
    first, target = _good_inputs(name)
    first.flags.writeable = False
    target.flags.writeable = False
    loss, g = fl.value_and_grad(getattr(fl, name))(first, target, *_extra(name, first))
    assert np.isfinite(loss) and g.shape == first.shape
    with pytest.raises(ValueError, match=_pattern(name, "reduction")):
        getattr(fl, name)(first, target, *_extra(name, first), reduction="bad")


def test_non_native_byte_order_labels_are_a_type_error_and_weights_are_normalised():
    logits = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    labels = np.array([1, 2, 3, 4])
    with pytest.raises(TypeError, match=r"^\[fastloss\.cross_entropy\] target .*native byte order"):
        fl.cross_entropy(logits, labels.astype(">i8"))
    with pytest.raises(TypeError, match=r"^\[fastloss\.hinge\] target .*native byte order"):
        fl.hinge(np.zeros(3), np.ones(3, dtype=">f8"))
    with pytest.raises(TypeError, match=r"^\[fastloss\.mse\] pred must be float32 or float64"):
        fl.mse(np.zeros(3, dtype=">f8"), np.zeros(3))
    swapped = np.array([1.0, 2.0, 0.5, 1.0], dtype=">f8")
    assert fl.cross_entropy(logits, labels, sample_weight=swapped) == \
        fl.cross_entropy(logits, labels, sample_weight=swapped.astype("<f8"))


# Messages name what the caller passed ------------------------------------------------------------

@pytest.mark.parametrize("pred, target, passed, got", [
    (np.float16, np.float64, "float16", "float64"), (np.float16, np.float32, "float16", "float32"),
    (np.float32, np.float16, "float32", "float16")])
def test_a_dtype_mismatch_names_the_dtypes_passed_not_the_compute_dtype(pred, target, passed, got):
    # float16 is computed in a float32 copy; the message named that float32 (and float16 with
    # float32 was silently accepted).
    with pytest.raises(TypeError, match=rf"^\[fastloss.mse\] target must have the dtype of pred "
                                        rf"\({passed}\), got {got}$"):
        fl.mse(np.ones(3, pred), np.ones(3, target))
    with pytest.raises(TypeError, match=rf"^\[fastloss.cross_entropy\] probability target must "
                                        rf"have the dtype of logits \({passed}\), got {got}$"):
        fl.cross_entropy(np.ones((2, 3), pred), np.ones((2, 3), target))


def test_a_huge_uint64_label_is_reported_as_itself():
    with pytest.raises(ValueError, match=r"^\[fastloss.cross_entropy\] target label "
                                         r"18446744073709551615 out of range \[0, 3\) at index \(1,\)$"):
        fl.cross_entropy(np.zeros((2, 3)), np.array([0, 2**64 - 1], np.uint64))


def test_a_torch_grad_into_with_numpy_inputs_is_written_and_returned():
    """Decision: grad_into may be any writable DLPack array of the right shape and dtype on the
    CPU; it is written in place and returned itself (it was "grad_into must be an array")."""
    torch = pytest.importorskip("torch")
    x, y = np.array([1.0, -2.0, 3.0]), np.zeros(3)
    buf = torch.zeros(3, dtype=torch.float64)
    _, g = fl.value_and_grad(fl.mse)(x, y, grad_into=buf)
    assert g is buf
    np.testing.assert_array_equal(buf.numpy(), fl.grad(fl.mse)(x, y))
    with pytest.raises(ValueError, match=r"^\[fastloss.mse\] grad_into must have the input's "
                                         r"shape \(3,\) and dtype float64"):
        fl.value_and_grad(fl.mse)(x, y, grad_into=torch.zeros(3))


@pytest.mark.parametrize("where", ["pred", "target", "grad_into"])
def test_meta_tensors_are_a_value_error_naming_the_argument(where):
    torch = pytest.importorskip("torch")
    meta = torch.empty(3, dtype=torch.float64, device="meta")
    args = {"pred": np.zeros(3), "target": np.zeros(3), "grad_into": None}
    args[where] = meta
    with pytest.raises(ValueError, match=rf"^\[fastloss.mse\] {where} is a meta tensor"):
        fl.value_and_grad(fl.mse)(args["pred"], args["target"], grad_into=args["grad_into"])
