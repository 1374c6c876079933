"""PyTorch adapter: fastloss's fused kernels as autograd-aware ``torch`` functions and modules.

``import fastloss.torch as flt`` gives drop-in replacements for the losses of
``torch.nn.functional`` (same names, argument names, defaults and layouts, the class dimension
at 1) and ``torch.nn`` modules mirroring theirs::

    import torch, fastloss.torch as flt

    logits = torch.randn(64, 1000, requires_grad=True)
    labels = torch.randint(0, 1000, (64,))
    loss = flt.cross_entropy(logits, labels, label_smoothing=0.1)   # one fused kernel pass
    loss.backward()                                                 # reuses its gradient

| function | semantics |
|---|---|
| ``mse_loss``, ``l1_loss``, ``huber_loss``, ``smooth_l1_loss`` | as ``torch.nn.functional`` |
| ``binary_cross_entropy``, ``binary_cross_entropy_with_logits`` | as ``torch.nn.functional`` |
| ``cross_entropy``, ``multi_margin_loss``, ``nll_loss`` | as ``torch.nn.functional`` (class dim 1) |
| ``multilabel_soft_margin_loss``, ``multilabel_margin_loss`` | as ``torch.nn.functional`` |
| ``quantile_loss``, ``log_cosh_loss``, ``hinge_loss``, ``squared_hinge_loss`` | fastloss |
| ``sigmoid_focal_loss`` | ``torchvision.ops.sigmoid_focal_loss``'s signature |
| ``softmax_focal_loss``, ``multiclass_hinge_loss`` | fastloss, class dim 1 |
| ``gan_discriminator_loss``, ``gan_generator_loss``; ``GANDiscriminatorLoss``, ``GANGeneratorLoss`` (modules) | fastloss's GAN losses (``_adversarial.py``: the NumPy API's passes under an ``autograd.Function``; gradients to ``real`` and ``fake``; eager only) |
| ``triplet_margin_loss`` (``TripletMarginLoss``), ``cosine_embedding_loss`` (``CosineEmbeddingLoss``) | as ``torch.nn.functional``, eager CPU (``_metric.py``) |
| ``triplet_margin_with_distance_loss`` (``TripletMarginWithDistanceLoss``) | as ``torch.nn.functional``: the fused triplet kernel for PyTorch's default distance, else the caller's distance in torch and the ``margin_ranking_loss`` kernel (``_triplet_distance.py``) |
| ``contrastive`` (``ContrastiveLoss``), ``info_nce`` (``InfoNCELoss``), ``center`` and ``center_update`` (``CenterLoss``) | fastloss, eager CPU (``_metric.py``) |
| ``listnet`` (``ListNetLoss``), ``listmle`` (``ListMLELoss``), ``structured_hinge`` (``StructuredHingeLoss``) | fastloss, eager CPU (``_ranking.py``) |
| ``weighted_sum``, ``uncertainty_weighting``, ``curriculum_weights``, ``self_paced_weights``, ``self_paced_regularizer``; ``UncertaintyWeighting``, ``AdaptiveWeighting``, ``DynamicWeightAverage`` (modules) | fastloss's loss combinations (``_combine.py``: torch operations, no kernel) |

Where PyTorch has the loss, the values follow PyTorch, including its ``weight`` conventions:
a weighted ``mean`` divides by the sum of the weights for ``mse_loss``/``l1_loss`` and by the
number of elements for ``huber_loss``, ``binary_cross_entropy`` and
``binary_cross_entropy_with_logits``; ``multi_margin_loss`` divides by the number of classes.
The fastloss-named functions take fastloss's ``sample_weight`` (``mean = sum(w*l)/sum(w)``).
The remaining deviations are those of the NumPy API (README, "Deliberate deviations"): finite
limits for infinite logits, weights must be finite and >= 0, and a target whose float dtype
differs from the input's is cast to the input's compute dtype (PyTorch would promote).

How it works. Each loss is a ``torch.library.custom_op`` named ``fastloss::<function>`` whose
forward runs the fused kernel once and returns ``(loss, gradient)``; the gradient is computed
only when autograd will need it (``need_grad``). ``register_autograd`` saves that gradient and
the backward multiplies it by the upstream gradient (a scalar for ``mean``/``sum``, the
per-sample cotangent for ``none``, broadcast over the class dimension for the multi-class
losses). ``register_fake`` gives the output shapes, so the functions trace under
``torch.compile(fullgraph=True)`` without graph breaks. In eager mode the same op body runs
through a plain ``torch.autograd.Function`` with the same backward (a single multiply, or the
saved gradient itself when the upstream gradient is 1), which skips the dispatcher's per-call
cost.

* Tensors: CPU tensors are read in place, zero-copy (strided views included): the op body hands
  each tensor's data pointer, dtype, shape and strides to one native call
  (``_core.run_tensors``, ``_native``), which checks and broadcasts the weights, allocates the
  outputs and runs the fused kernel. What that call does not take (half precision, integer
  weights, per-position ``tau``, any invalid argument) goes through the NumPy API on NumPy views
  instead, with the same results and that API's errors. float32 and float64 are computed
  natively; float16 and bfloat16 are computed in float32 (one converted copy of the input),
  the loss is returned in float32 and the gradient in the input's dtype. Class indices may be of any integer dtype. CUDA tensors go through
  the NumPy API's device path (DLPack views on the current stream, outputs allocated by torch
  on the device) to the native dispatch, which raises ``ValueError`` while fastloss has no CUDA
  kernels; tensors on other devices (or on a device other than ``input``'s) raise
  ``RuntimeError``.
* Gradients: with respect to ``input``; for the losses of ``input - target`` (mse, l1, huber,
  smooth_l1, quantile, log_cosh) also with respect to ``target`` (its negative). Any other
  tensor argument that requires grad is a ``RuntimeError`` rather than a silently missing
  gradient.
* Double backward (``create_graph=True`` through a fastloss loss) raises a ``RuntimeError``:
  the second derivative is not implemented, and treating the saved gradient as a constant would
  silently give a wrong one.
* The gradient is written into fresh memory, never into the caller's input, unless the user
  opts in: the row losses (``cross_entropy``, ``multi_margin_loss``, ``softmax_focal_loss``,
  ``multiclass_hinge_loss``, ``nll_loss``, the multi-label losses, and ``CrossEntropyLoss``)
  take ``inplace_backward=True``, which
  overwrites ``input`` (an intermediate float32/float64 result such as the logits of the last
  layer, not a leaf) with its gradient and saves a logits-sized buffer. The row kernels read
  each row before writing its gradient, so this is exact (tested bit for bit against the
  out-of-place path). Under ``torch.compile`` the op computes the gradient out of place
  instead (same values, no graph break).
* Not supported: ``torch.func`` transforms (``torch.func.grad`` raises PyTorch's error about
  ``setup_context``; ``torch.func.vmap`` runs PyTorch's per-sample fallback with a performance
  warning).
* Refused: sparse tensors (a ``TypeError`` naming the argument: pass ``.to_dense()``);
  meta tensors and other devices (a ``RuntimeError``), except through the custom op itself,
  whose fake implementation gives meta outputs of the right shapes. Hyper-parameters must be
  numbers (a string or a bool is a ``TypeError``); tensors with PyTorch's lazy negation
  (``z.conj().imag``) are read as their values, in every argument.
"""


# The package, by role:
#   _losses      the loss table: one entry per function (the only place a loss is described)
#   _spec        what an entry holds;  _prepare  the entries whose arguments need mapping
#   _ops         the custom ops, made from the entries;  _kernel  their body's kernel call
#   _autograd    the saved-gradient backward, for the custom ops and the eager carriers
#   _call        a public call: argument checks, then the eager carrier or the custom op
#   _functional, _modules   the public functions and nn.Module classes, made from the entries
#   _native      the CPU path of the op bodies: one native call on the tensors' pointers
#   _tensors     tensors to NumPy views and device operands (the general path); _codegen, _errors

from ._adversarial import ADVERSARIAL as _ADVERSARIAL
from ._adversarial import FOR_REGISTRY as _ADVERSARIAL_FOR_REGISTRY
from ._call import eager as _eager
from ._combine import COMBINATIONS as _COMBINATIONS
from ._functional import FUNCTIONS as _FUNCTIONS
from ._kernel import value_and_grad_of as _value_and_grad
from ._losses import LOSSES as _LOSSES
from ._modules import MODULES as _MODULES
from . import _metric as _metric_losses
from . import _ranking as _ranking_losses
from . import _triplet_distance as _triplet_distance
from ._tensors import as_numpy as _as_numpy
from ._tensors import through_device_path as _through_device_path
from .._core import run_tensors as _run_tensors

# _eager, _as_numpy, _through_device_path, _value_and_grad and _run_tensors are looked up here,
# on the package, by the submodules at every call: tests replace them to force the custom-op path
# or the device route, to forbid computing the gradient, or to see what reaches the native entry.
__all__ = [  # torch.nn.functional names, then fastloss names, then modules
    *sorted(loss.name for loss in _LOSSES if loss.mirrors_torch), "cosine_embedding_loss",
    "triplet_margin_loss", *_triplet_distance.FUNCTIONS,
    *sorted(loss.name for loss in _LOSSES if not loss.mirrors_torch), "contrastive", "info_nce",
    "center", "center_update", *sorted(_ranking_losses.FUNCTIONS),
    *sorted(_MODULES), *sorted(_metric_losses.MODULES), *sorted(_ranking_losses.MODULES),
    *_triplet_distance.MODULES,
    *_COMBINATIONS,  # the loss combinations (fastloss._combine), written with torch operations
    *_ADVERSARIAL,  # the GAN losses (_adversarial.py: the NumPy API's passes, an autograd.Function)
]
# The functions and modules, made from the loss table, become this package's names.
globals().update(_FUNCTIONS)
globals().update(_MODULES)
globals().update(_COMBINATIONS)
globals().update(_ADVERSARIAL)
# The metric-learning losses of embeddings (two or three differentiable tensors): their own
# autograd.Function.
globals().update(_metric_losses.FUNCTIONS)
globals().update(_metric_losses.MODULES)
# The listwise ranking and structured losses: the same autograd.Function (_ranking.py).
globals().update(_ranking_losses.FUNCTIONS)
globals().update(_ranking_losses.MODULES)
# triplet_margin_with_distance_loss: the fused triplet kernel, or a caller's distance in torch
# and the margin_ranking_loss kernel (_triplet_distance.py).
globals().update(_triplet_distance.FUNCTIONS)
globals().update(_triplet_distance.MODULES)

# The adapter of each registered loss (tests/test_registry.py checks that every registry entry
# has one): registry name -> function name here.
FOR_REGISTRY = {**{loss.kernel: loss.name for loss in _LOSSES if loss.registry_adapter},
                **_ADVERSARIAL_FOR_REGISTRY, **_metric_losses.FOR_REGISTRY,
                **_ranking_losses.FOR_REGISTRY}
