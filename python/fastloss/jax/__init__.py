"""JAX adapter: fastloss's fused kernels as differentiable JAX functions.

``import fastloss.jax as flj`` gives the losses of the NumPy API under the same names and
signatures (class axis ``axis``, default last; ``reduction``; ``sample_weight``), taking and
returning ``jax.Array``::

    import jax, jax.numpy as jnp, fastloss.jax as flj

    def loss_fn(w, x, y):
        return flj.cross_entropy(x @ w, y, label_smoothing=0.1)

    grads = jax.jit(jax.grad(loss_fn))(w, x, y)

Each call is a ``jax.custom_vjp`` whose forward is an XLA custom call (the FFI target
``fastloss_loss``, registered for the CPU platform; ``bindings/xla_ffi.cc``) that runs the native
kernel on XLA's own buffers, inside the compiled program: no host round trip, no Python at run
time. Under differentiation one kernel pass returns the loss and its gradient, and the backward
multiplies the saved gradient by the cotangent (broadcast over the class axis for
``reduction="none"`` of the multi-class losses); without differentiation the kernel computes the
loss alone. The functions work under ``jax.jit``, ``jax.grad``/``jax.vjp`` and ``jax.vmap``.

* Errors: every argument is checked when the function is called or traced, with the NumPy API's
  checks: a bad hyper-parameter (``delta=-1``, ``delta="0.5"``), shape or dtype is a
  ``ValueError``/``TypeError`` naming ``fastloss.jax.<loss>`` and the argument, raised at trace
  time. What only the data can tell is checked by the kernel when the program runs and raised
  as JAX's run-time error (``jax.errors.JaxRuntimeError``, ``INVALID_ARGUMENT``) carrying the
  NumPy API's message, e.g. ``[fastloss.jax.cross_entropy] target label 12 out of range [0, 10)
  at index (3,)``: a class index out of range, a ``binary_cross_entropy`` probability outside
  [0, 1], a hinge label other than -1/0/1, and traced weights that are negative or not finite
  (or a traced ``tau`` outside (0, 1)); weights that are concrete arrays are checked at trace
  time. Under ``jit`` the error surfaces where the result is read (JAX dispatches
  asynchronously); no loss value is returned.
* vmap: a reduced loss must not be reduced across the vmapped batch, so the call's
  ``vmap_method`` is ``"sequential"`` (one kernel call per batch element), except for
  ``reduction="none"`` without array operands (weights, per-class or per-position arrays), where
  one call over the whole batch (``"broadcast_all"``) gives the same per-element losses.
* dtypes: float32 and float64 (with ``jax_enable_x64``) natively; float16 and bfloat16 are
  computed in float32 (the loss is float32, the gradient comes back in the input's dtype through
  the cast). Float targets are cast to the input's compute dtype; class indices may be any
  integer dtype.
* Differentiation is with respect to the first argument; for the losses of ``pred - target``
  (mse, mae, huber, smooth_l1, quantile, log_cosh) also with respect to ``target``, and for the
  likelihoods (kl_div, poisson_nll, gaussian_nll) with respect to ``target`` and
  gaussian_nll's ``var`` too, from the same kernel pass. Asking for
  the gradient with respect to any other array argument (a target of another loss, weights) is a
  ``TypeError``, not a silent zero. Reverse mode only: second derivatives (``jax.grad`` of
  ``jax.grad``, ``jax.hessian``) raise JAX's "The FFI call to `fastloss_loss` cannot be
  differentiated" and forward mode (``jax.jvp``, ``jax.jacfwd``) raises "can't apply forward-mode
  autodiff (jvp) to a custom_vjp function" - errors, never a silently wrong derivative.
* Hyper-parameters (``delta``, ``margin``, a scalar ``tau`` or ``alpha``, ``ignore_index``, ...)
  are static attributes of the compiled call: Python numbers (or concrete 0-d arrays); a traced
  value is a ``TypeError``. Per-position/per-class arrays (``tau``, ``alpha``, ``pos_weight``,
  ``class_weight``) and ``sample_weight`` are operands and may be traced.
* The embedding losses (``contrastive``, ``cosine_embedding``, ``triplet``, ``info_nce``) run through
  ``jax.pure_callback`` for now, not the FFI custom call (``_metric.py``); ``sample_weight`` is
  not taken there yet. The listwise ranking losses (``listnet``, ``listmle``) take the same path
  (``_ranking.py``), with ``mask`` and ``sample_weight``, and so do ``structured_hinge``
  (``_structured.py``), with its costs and ``sample_weight``, and ``center`` and
  ``center_update`` (``_center.py``).
* CPU only: the custom call is registered for XLA's CPU platform (a CUDA handler is future work).
* The GAN losses (``gan_discriminator``, ``gan_generator``, ``_adversarial.py``) run one custom
  call per array; the discriminator is differentiable in ``real`` and ``fake`` and its
  ``reduction="none"`` is the pair of per-element terms.
* The loss combinations (``weighted_sum``, ``uncertainty_weighting``, ``curriculum_weights``,
  ``self_paced_weights``, ``self_paced_regularizer`` and the pytrees ``UncertaintyWeighting``,
  ``AdaptiveWeighting``, ``DynamicWeightAverage``) are plain ``jax.numpy`` code (``_combine.py``),
  on any platform, with forward mode and higher derivatives too.
"""

from __future__ import annotations

import numpy as np

from .._dispatch import KERNELS
from .._registry import REGISTRY
from .._validate import (choice, fail, in_open_unit_interval, in_unit_interval, non_negative,
                         positive, real_scalar, weights)
from . import _plan as P
from ._plan import Plan
from ._vjp import apply
# The divergences of two logits arrays, in a module of their own.
from ._divergence import distillation, js_divergence, kl_divergence  # noqa: F401
# The GAN losses: one pass per array, the discriminator's two passes added.
from ._adversarial import gan_discriminator, gan_generator  # noqa: F401
# The metric-learning losses: a jax.pure_callback path for now (see _metric.py).
from ._metric import contrastive, cosine_embedding, info_nce, triplet  # noqa: F401
# The listwise ranking losses: the same jax.pure_callback path (see _ranking.py).
from ._ranking import listmle, listnet  # noqa: F401
# The structured hinge: the same path (_structured.py).
from ._structured import structured_hinge  # noqa: F401
# The center loss and its centre update: the same path (_center.py).
from ._center import center, center_update  # noqa: F401

# One function per registered loss, under its fastloss name (tests/test_registry.py checks that
# every registry entry has one).
__all__ = [*REGISTRY, "center_update"]


def _pointwise(name: str, x_name: str, x, target, *, reduction, sample_weight, params=(),
               target_kind="float", aux0=None, aux0_name="", aux0_any=False, domain=""):
    """A pointwise loss: x and target of one shape; `aux0` a number (already checked) or an
    array operand broadcast to the shape (``tau``, ``pos_weight``: weights, checked >= 0;
    with `aux0_any` any real values, margin_ranking's preference)."""
    fn = P.qualified(name)
    code = P.reduction(fn, reduction)
    x = P.float_input(fn, x_name, x)
    y = (P.label_target(fn, x_name, x, target) if target_kind == "label"
         else P.float_target(fn, x_name, x, target))
    operands, aux0_value = {}, 0.0
    if isinstance(aux0, float):  # one number, already checked
        aux0_value = aux0
    elif aux0 is not None:
        check = P.real_operand if aux0_any else P.weight_array
        operands["aux0"] = check(fn, aux0_name, aux0, shape=x.shape).astype(x.dtype)
    if sample_weight is not None:
        operands["sample_weight"] = P.weight_array(fn, "sample_weight", sample_weight,
                                                   shape=x.shape)
    plan = Plan(name, name, code, tuple(params), aux_names=(aux0_name, ""),
                aux0_check=(P.AUX0_ANY if aux0_any else
                            P.AUX0_OPEN_UNIT if aux0_name == "tau" else P.AUX0_WEIGHT),
                aux0_value=aux0_value, domain=domain)
    return apply(plan, x, y, operands)


def _rows(name: str, kernel: str, logits, target, *, axis, reduction, sample_weight,
          params=(), dense_ok=False, class_weight=None, alpha=None, ignore_index=None):
    """A row loss over the class axis `axis`; `class_weight` (aux 0) and `alpha` (aux 1) are
    per-class array operands."""
    fn = P.qualified(name)
    code = P.reduction(fn, reduction)
    x = P.float_input(fn, "logits", logits)
    ax = P.class_axis(fn, x, axis)
    kind = _dispatch_kind(kernel, dense_ok)
    if kind in ("dense", "index_list"):
        y, dense = P.per_class_target(fn, x, target, kind), kind == "dense"
    else:
        y, dense = P.sparse_or_dense_target(fn, x, target, ax, dense_ok)
    classes = x.shape[ax]
    outer = tuple(s for d, s in enumerate(x.shape) if d != ax % x.ndim)
    operands = {}
    if class_weight is not None:
        operands["aux0"] = P.weight_array(fn, "class_weight", class_weight, length=classes)
    if alpha is not None:
        operands["aux1"] = P.weight_array(fn, "alpha", alpha, length=classes)
    if sample_weight is not None:
        operands["sample_weight"] = P.weight_array(fn, "sample_weight", sample_weight,
                                                   shape=outer)
    if dense_ok:
        kernel += "_dense" if dense else "_sparse"
    plan = Plan(name, kernel, code, tuple(params), axis=ax, ignore_index=ignore_index,
                aux_names=("class_weight" if class_weight is not None else "",
                           "alpha" if alpha is not None else ""))
    return apply(plan, x, y, operands)


def _dispatch_kind(kernel: str, dense_ok: bool) -> str:
    """The target kind of a row kernel's table entry (``sparse`` for the sparse/dense pairs)."""
    return "sparse" if dense_ok else KERNELS[kernel]["target"]


# ---- the losses (docs: the NumPy functions of the same name) ------------------------------------

def mse(pred, target, *, reduction="mean", sample_weight=None):
    """:func:`fastloss.mse` for JAX arrays (differentiable in ``pred`` and ``target``)."""
    return _pointwise("mse", "pred", pred, target, reduction=reduction,
                      sample_weight=sample_weight)


def mae(pred, target, *, reduction="mean", sample_weight=None):
    """:func:`fastloss.mae` for JAX arrays (differentiable in ``pred`` and ``target``)."""
    return _pointwise("mae", "pred", pred, target, reduction=reduction,
                      sample_weight=sample_weight)


def huber(pred, target, *, delta=1.0, reduction="mean", sample_weight=None):
    """:func:`fastloss.huber` for JAX arrays (differentiable in ``pred`` and ``target``)."""
    delta = P.number("jax.huber", "delta", delta, positive)
    return _pointwise("huber", "pred", pred, target, reduction=reduction,
                      sample_weight=sample_weight, params=(delta,))


def smooth_l1(pred, target, *, beta=1.0, reduction="mean", sample_weight=None):
    """:func:`fastloss.smooth_l1` for JAX arrays (differentiable in ``pred`` and ``target``)."""
    beta = P.number("jax.smooth_l1", "beta", beta, non_negative)
    return _pointwise("smooth_l1", "pred", pred, target, reduction=reduction,
                      sample_weight=sample_weight, params=(beta,))


def quantile(pred, target, *, tau=0.5, reduction="mean", sample_weight=None):
    """:func:`fastloss.quantile` for JAX arrays; ``tau`` a number or one per position of the
    last axis (differentiable in ``pred`` and ``target``)."""
    fn = "jax.quantile"
    if P.is_traced(tau) or np.ndim(tau) > 0:
        tau = P.weight_array(fn, "tau", tau)
        last = np.shape(pred)[-1] if np.ndim(pred) else None
        if tau.ndim != 1 or last is None or tau.shape[0] != last:
            fail(fn, f"tau array must be 1-D with one quantile per position of pred's last axis "
                     f"({last}), got shape {tau.shape}")
    else:
        tau = P.number(fn, "tau", tau, in_open_unit_interval)
    return _pointwise("quantile", "pred", pred, target, reduction=reduction,
                      sample_weight=sample_weight, aux0=tau, aux0_name="tau")


def log_cosh(pred, target, *, reduction="mean", sample_weight=None):
    """:func:`fastloss.log_cosh` for JAX arrays (differentiable in ``pred`` and ``target``)."""
    return _pointwise("log_cosh", "pred", pred, target, reduction=reduction,
                      sample_weight=sample_weight)


def binary_cross_entropy(prob, target, *, reduction="mean", sample_weight=None):
    """:func:`fastloss.binary_cross_entropy` for JAX arrays (a probability outside [0, 1] is a
    run-time error)."""
    return _pointwise("binary_cross_entropy", "prob", prob, target, reduction=reduction,
                      sample_weight=sample_weight, domain="prob must be in [0, 1], got {x}")


def binary_cross_entropy_with_logits(logits, target, *, pos_weight=None, reduction="mean",
                                     sample_weight=None):
    """:func:`fastloss.binary_cross_entropy_with_logits` for JAX arrays."""
    fn = "jax.binary_cross_entropy_with_logits"
    pw = 1.0 if pos_weight is None else pos_weight
    if not P.is_traced(pw) and np.ndim(pw) == 0:  # one number: a static attribute
        pw = float(weights(fn, "pos_weight", P.hyper_parameter(fn, "pos_weight", pw)))
    return _pointwise("binary_cross_entropy_with_logits", "logits", logits, target,
                      reduction=reduction, sample_weight=sample_weight, aux0=pw,
                      aux0_name="pos_weight")


def hinge(pred, target, *, reduction="mean", sample_weight=None):
    """:func:`fastloss.hinge` for JAX arrays (a label other than -1, 0, 1 is a run-time error)."""
    return _pointwise("hinge", "pred", pred, target, reduction=reduction,
                      sample_weight=sample_weight, target_kind="label",
                      domain="target must be -1, 0 or 1, got {y}")


def squared_hinge(pred, target, *, reduction="mean", sample_weight=None):
    """:func:`fastloss.squared_hinge` for JAX arrays."""
    return _pointwise("squared_hinge", "pred", pred, target, reduction=reduction,
                      sample_weight=sample_weight, target_kind="label",
                      domain="target must be -1, 0 or 1, got {y}")


def sigmoid_focal(logits, target, *, alpha=0.25, gamma=2.0, reduction="mean", sample_weight=None):
    """:func:`fastloss.sigmoid_focal` for JAX arrays (``alpha=None`` disables the weighting)."""
    fn = "jax.sigmoid_focal"
    a = -1.0 if alpha is None else P.number(fn, "alpha", alpha, in_unit_interval)
    g = P.number(fn, "gamma", gamma, non_negative)
    return _pointwise("sigmoid_focal", "logits", logits, target, reduction=reduction,
                      sample_weight=sample_weight, params=(a, g))


def soft_margin(input, target, *, reduction="mean", sample_weight=None):
    """:func:`fastloss.soft_margin` for JAX arrays (differentiable in ``input``)."""
    return _pointwise("soft_margin", "input", input, target, reduction=reduction,
                      sample_weight=sample_weight)


def poisson_nll(input, target, *, log_input=True, full=False, eps=1e-8, reduction="mean",
                sample_weight=None):
    """:func:`fastloss.poisson_nll` for JAX arrays (differentiable in ``input`` and
    ``target``)."""
    fn = "jax.poisson_nll"
    flags = []
    for name, value in (("log_input", log_input), ("full", full)):
        if not isinstance(value, (bool, np.bool_)):
            fail(fn, f"{name} must be a bool, got {value!r}", TypeError)
        flags.append(float(bool(value)))
    return _pointwise("poisson_nll", "input", input, target, reduction=reduction,
                      sample_weight=sample_weight,
                      params=(*flags, P.number(fn, "eps", eps, positive)))


def gaussian_nll(input, target, var, *, full=False, eps=1e-6, reduction="mean",
                 sample_weight=None):
    """:func:`fastloss.gaussian_nll` for JAX arrays (differentiable in ``input``, ``target`` and
    an array ``var``; ``var`` a number or an array in one of PyTorch's layouts, checked >= 0
    where it is concrete)."""
    fn = "jax.gaussian_nll"
    if not isinstance(full, (bool, np.bool_)):
        fail(fn, f"full must be a bool, got {full!r}", TypeError)
    e = P.number(fn, "eps", eps, positive)
    if not P.is_traced(var) and np.ndim(var) == 0:
        var = float(non_negative(fn, "var", P.hyper_parameter(fn, "var", var)))
    else:
        shape_x, shape_v = np.shape(input), np.shape(var)
        if shape_v == shape_x[:-1] and shape_v != shape_x:
            var = P.jnp.expand_dims(P.jnp.asarray(var), -1)
    return _pointwise("gaussian_nll", "input", input, target, reduction=reduction,
                      sample_weight=sample_weight, params=(float(bool(full)), e), aux0=var,
                      aux0_name="var")


def margin_ranking(x1, x2, y, *, margin=0.0, reduction="mean", sample_weight=None):
    """:func:`fastloss.margin_ranking` for JAX arrays (differentiable in ``x1`` and ``x2``; the
    preference ``y``, a number or an array broadcastable to the scores, has no gradient)."""
    fn = "jax.margin_ranking"
    m = P.number(fn, "margin", margin, non_negative)
    if not P.is_traced(y) and np.ndim(y) == 0:
        y = float(P.hyper_parameter(fn, "y", y))
    return _pointwise("margin_ranking", "x1", x1, x2, reduction=reduction,
                      sample_weight=sample_weight, params=(m,), aux0=y, aux0_name="y",
                      aux0_any=True)


def hinge_embedding(input, target, *, margin=1.0, reduction="mean", sample_weight=None):
    """:func:`fastloss.hinge_embedding` for JAX arrays (differentiable in ``input``; labels of
    any real dtype)."""
    m = P.number("jax.hinge_embedding", "margin", margin, real_scalar)
    return _pointwise("hinge_embedding", "input", input, target, reduction=reduction,
                      sample_weight=sample_weight, params=(m,), target_kind="label")


def kl_div(input, target, *, log_target=False, reduction="mean", sample_weight=None):
    """:func:`fastloss.kl_div` for JAX arrays (differentiable in ``input`` and ``target``), with
    PyTorch's
    ``"batchmean"`` (the sum divided by ``input.shape[0]``)."""
    fn = "jax.kl_div"
    if not isinstance(log_target, (bool, np.bool_)):
        fail(fn, f"log_target must be a bool, got {log_target!r}", TypeError)
    batch = None
    if isinstance(reduction, str) and reduction == "batchmean":
        reduction, batch = "sum", (np.shape(input)[0] if np.ndim(input) else 1)
    loss = _pointwise("kl_div", "input", input, target, reduction=reduction,
                      sample_weight=sample_weight, params=(float(bool(log_target)),))
    return loss if batch is None else loss / batch


def cross_entropy(logits, target, *, axis=-1, class_weight=None, ignore_index=-100,
                  label_smoothing=0.0, reduction="mean", sample_weight=None):
    """:func:`fastloss.cross_entropy` for JAX arrays (class indices or probabilities; a class
    index out of range is a run-time error)."""
    fn = "jax.cross_entropy"
    eps = P.number(fn, "label_smoothing", label_smoothing, in_unit_interval)
    return _rows("cross_entropy", "cross_entropy", logits, target, axis=axis,
                 reduction=reduction, sample_weight=sample_weight, params=(eps,),
                 dense_ok=True, class_weight=class_weight,
                 ignore_index=P.ignore_index_value(fn, ignore_index))


def multiclass_hinge(logits, target, *, margin=1.0, kind="weston_watkins", squared=False, axis=-1,
                     class_weight=None, reduction="mean", sample_weight=None):
    """:func:`fastloss.multiclass_hinge` for JAX arrays."""
    fn = "jax.multiclass_hinge"
    m = P.number(fn, "margin", margin, non_negative)
    kind = choice(fn, "kind", kind, ("weston_watkins", "crammer_singer"))
    if not isinstance(squared, (bool, np.bool_)):
        fail(fn, f"squared must be a bool, got {squared!r}", TypeError)
    return _rows("multiclass_hinge", f"multiclass_hinge_{kind}", logits, target, axis=axis,
                 reduction=reduction, sample_weight=sample_weight,
                 params=(m, float(bool(squared))), class_weight=class_weight)


def softmax_focal(logits, target, *, alpha=None, gamma=2.0, axis=-1, ignore_index=-100,
                  reduction="mean", sample_weight=None):
    """:func:`fastloss.softmax_focal` for JAX arrays; ``alpha`` None, a number or one per
    class."""
    fn = "jax.softmax_focal"
    g = P.number(fn, "gamma", gamma, non_negative)
    alpha_scalar, alpha_array = -1.0, None
    if alpha is not None and (P.is_traced(alpha) or np.ndim(alpha) > 0):
        alpha_array = alpha
    elif alpha is not None:
        alpha_scalar = P.number(fn, "alpha", alpha, non_negative)
    return _rows("softmax_focal", "softmax_focal", logits, target, axis=axis,
                 reduction=reduction, sample_weight=sample_weight, params=(g, alpha_scalar),
                 alpha=alpha_array, ignore_index=P.ignore_index_value(fn, ignore_index))


def nll(log_probs, target, *, axis=-1, class_weight=None, ignore_index=-100, reduction="mean",
        sample_weight=None):
    """:func:`fastloss.nll` for JAX arrays (a class index out of range is a run-time error)."""
    fn = "jax.nll"
    return _rows("nll", "nll", log_probs, target, axis=axis, reduction=reduction,
                 sample_weight=sample_weight, class_weight=class_weight,
                 ignore_index=P.ignore_index_value(fn, ignore_index))


def multilabel_soft_margin(logits, target, *, axis=-1, class_weight=None, reduction="mean",
                           sample_weight=None):
    """:func:`fastloss.multilabel_soft_margin` for JAX arrays (target of the logits' shape)."""
    return _rows("multilabel_soft_margin", "multilabel_soft_margin", logits, target, axis=axis,
                 reduction=reduction, sample_weight=sample_weight, class_weight=class_weight)


def multilabel_margin(logits, target, *, axis=-1, reduction="mean", sample_weight=None):
    """:func:`fastloss.multilabel_margin` for JAX arrays (an entry of ``target`` outside
    [-1, C) is a run-time error)."""
    return _rows("multilabel_margin", "multilabel_margin", logits, target, axis=axis,
                 reduction=reduction, sample_weight=sample_weight)


# The loss combinations (fastloss._combine), written with jax.numpy: not registered losses, so
# after the registry's names.
from . import _combine  # noqa: E402
from ._combine import *  # noqa: E402,F401,F403

__all__ += _combine.__all__
