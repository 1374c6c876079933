"""The loss table: one entry per function of fastloss.torch, holding what is torch-specific about
it. Its custom op, its function and its module are made from the entry (``_ops``,
``_functional``, ``_modules``); adding a loss is one entry here, plus a ``prepare`` function in
``_prepare`` when its torch arguments do not map one to one onto its op's.

An op's arguments (``args``) are typed as its schema wants them; the function's parameters
(``signature``) are PyTorch's, in PyTorch's order, with its defaults. Unless the entry has a
``prepare``, every op argument is the function's parameter of the same name: float ones pass
through ``float()``, tensor ones may also be arrays or sequences, ints and bools are checked.
"""

from typing import Optional

from torch import Tensor

from ._prepare import (margin_ranking_arguments, multi_margin_arguments,
                       multilabel_margin_arguments, multilabel_soft_margin_arguments,
                       quantile_arguments, softmax_focal_arguments)
from ._spec import Arg, TorchLoss

_TENSOR = Optional[Tensor]

# The weights of a loss with PyTorch's semantics are called weight here and fastloss's keyword.
_WEIGHT = Arg("weight", _TENSOR, kernel="sample_weight")
_CLASS_WEIGHT = Arg("weight", _TENSOR, kernel="class_weight")
_SAMPLE_WEIGHT = Arg("sample_weight", _TENSOR)
_LEGACY = "size_average=None, reduce=None, reduction='mean'"


def _negative_is_none(alpha: float):
    """torchvision's ``alpha < 0`` (no class weighting) is fastloss's ``alpha=None``."""
    return None if alpha < 0 else alpha


LOSSES = (
    # ---- regression: losses of input - target, differentiable in both -------------------------
    TorchLoss(
        "mse_loss", "mse", (_WEIGHT,), f"input, target, {_LEGACY}, weight=None",
        r"""Mean squared error, as ``torch.nn.functional.mse_loss``: :math:`(x - y)^2`.

    ``weight`` (broadcastable to ``input``) multiplies each element; a weighted ``mean`` is
    ``sum(w*l)/sum(w)`` as in PyTorch. Differentiable with respect to ``input`` and ``target``.
    """, "MSELoss", _LEGACY, mirrors_torch=True, target_grad=True),
    TorchLoss(
        "l1_loss", "mae", (_WEIGHT,), f"input, target, {_LEGACY}, weight=None",
        r"""Mean absolute error, as ``torch.nn.functional.l1_loss``: :math:`|x - y|` (subgradient 0
    at 0). A weighted ``mean`` is ``sum(w*l)/sum(w)`` as in PyTorch.""",
        "L1Loss", _LEGACY, mirrors_torch=True, target_grad=True),
    TorchLoss(
        "huber_loss", "huber", (Arg("delta", float), _WEIGHT),
        "input, target, reduction='mean', delta=1.0, weight=None",
        r"""Huber loss, as ``torch.nn.functional.huber_loss`` (``delta`` > 0). A weighted ``mean``
    divides by the number of elements, as in PyTorch.""",
        "HuberLoss", "reduction='mean', delta=1.0", mirrors_torch=True, target_grad=True,
        mean_by_count=True),
    TorchLoss(
        "smooth_l1_loss", "smooth_l1", (Arg("beta", float),),
        f"input, target, {_LEGACY}, beta=1.0",
        r"""Smooth L1 loss, as ``torch.nn.functional.smooth_l1_loss`` (``beta`` >= 0).""",
        "SmoothL1Loss", f"{_LEGACY}, beta=1.0", mirrors_torch=True, target_grad=True),
    TorchLoss(
        "quantile_loss", "quantile",
        (Arg("tau", float), Arg("tau_per_last_dim", _TENSOR, kernel="tau", source="tau"),
         _SAMPLE_WEIGHT),
        "input, target, tau=0.5, reduction='mean', sample_weight=None",
        r"""Quantile (pinball) loss :math:`\max(\tau u, (\tau - 1)u)`, :math:`u = y - x`, as
    :func:`fastloss.quantile`. ``tau`` is a number in (0, 1) or a 1-D tensor with one quantile
    per position of the last dimension. ``sample_weight``: fastloss semantics
    (``mean = sum(w*l)/sum(w)``). Differentiable with respect to ``input`` and ``target``.""",
        "QuantileLoss", "tau=0.5, reduction='mean'", target_grad=True,
        prepare=quantile_arguments),
    TorchLoss(
        "log_cosh_loss", "log_cosh", (_SAMPLE_WEIGHT,),
        "input, target, reduction='mean', sample_weight=None",
        r"""Log-cosh loss :math:`\log\cosh(x - y)`, as :func:`fastloss.log_cosh` (fastloss
    ``sample_weight`` semantics). Differentiable with respect to ``input`` and ``target``.""",
        "LogCoshLoss", "reduction='mean'", target_grad=True),

    # ---- binary classification ------------------------------------------------------------------
    TorchLoss(
        "binary_cross_entropy", "binary_cross_entropy", (_WEIGHT,),
        f"input, target, weight=None, {_LEGACY}",
        r"""Binary cross-entropy on probabilities, as ``torch.nn.functional.binary_cross_entropy``
    (log terms clamped at -100). ``weight`` broadcasts to ``input``; a weighted ``mean`` divides
    by the number of elements, as in PyTorch. Differentiable with respect to ``input`` only.""",
        "BCELoss", f"weight=None, {_LEGACY}", mirrors_torch=True, mean_by_count=True),
    TorchLoss(
        "binary_cross_entropy_with_logits", "binary_cross_entropy_with_logits",
        (_WEIGHT, Arg("pos_weight", _TENSOR)),
        f"input, target, weight=None, {_LEGACY}, pos_weight=None",
        r"""Binary cross-entropy on logits, as
    ``torch.nn.functional.binary_cross_entropy_with_logits``, stable for any logit (infinite
    logits give the finite limits). ``weight`` and ``pos_weight`` (>= 0) broadcast to ``input``;
    a weighted ``mean`` divides by the number of elements, as in PyTorch.""",
        "BCEWithLogitsLoss", f"weight=None, {_LEGACY}, pos_weight=None", mirrors_torch=True,
        mean_by_count=True),
    TorchLoss(
        "hinge_loss", "hinge", (_SAMPLE_WEIGHT,),
        "input, target, reduction='mean', sample_weight=None",
        r"""Hinge loss :math:`\max(0, 1 - y x)` for labels in {-1, 1} (or {0, 1}), as
    :func:`fastloss.hinge` (fastloss ``sample_weight`` semantics).""",
        "HingeLoss", "reduction='mean'"),
    TorchLoss(
        "squared_hinge_loss", "squared_hinge", (_SAMPLE_WEIGHT,),
        "input, target, reduction='mean', sample_weight=None",
        r"""Squared hinge loss :math:`\max(0, 1 - y x)^2`, labels as :func:`hinge_loss`.""",
        "SquaredHingeLoss", "reduction='mean'"),
    TorchLoss(
        "sigmoid_focal_loss", "sigmoid_focal",
        (Arg("alpha", float, to_kernel=_negative_is_none), Arg("gamma", float), _SAMPLE_WEIGHT),
        # torchvision's signature: its argument names and its default reduction, "none"
        "inputs, targets, alpha=0.25, gamma=2, reduction='none', *, sample_weight=None",
        r"""Binary focal loss on logits with ``torchvision.ops.sigmoid_focal_loss``'s signature and
    semantics: ``alpha`` in [0, 1] weights the positives (``alpha < 0`` disables the weighting),
    ``gamma >= 0``, default reduction ``"none"``. ``sample_weight`` (keyword-only, fastloss
    semantics) is an extension.""",
        "SigmoidFocalLoss", "alpha=0.25, gamma=2.0, reduction='none'",
        module_doc="""Module form of :func:`sigmoid_focal_loss` (default reduction ``"none"``, as
    torchvision's function)."""),
    TorchLoss(
        "soft_margin_loss", "soft_margin", (), f"input, target, {_LEGACY}",
        r"""Soft margin loss :math:`\log(1 + e^{-y x})`, as ``torch.nn.functional.soft_margin_loss``
    (labels in {-1, 1}, any real target accepted), written as a softplus so that it stays exact
    where PyTorch's formula overflows to inf (:math:`-yx` beyond ~709 in float64, ~88 in
    float32). Differentiable with respect to ``input`` only, as in PyTorch.""",
        "SoftMarginLoss", _LEGACY, mirrors_torch=True),

    # ---- ranking --------------------------------------------------------------------------------
    TorchLoss(
        "margin_ranking_loss", "margin_ranking",
        (Arg("preference", _TENSOR, kernel="y", source="target"), Arg("margin", float)),
        f"input1, input2, target, margin=0.0, {_LEGACY}",
        r"""Margin ranking loss :math:`\max(0, -y (x_1 - x_2) + m)`, as
    ``torch.nn.functional.margin_ranking_loss`` (``target`` :math:`y`: 1 where ``input1`` should
    rank higher, -1 where ``input2`` should; any real value accepted, as PyTorch). Differentiable
    with respect to ``input1`` and ``input2`` (:math:`\partial/\partial x_2 =
    -\partial/\partial x_1`); the subgradient at the kink is 0, where PyTorch's is :math:`-y`.
    ``input1`` and ``input2`` must have one shape (PyTorch also broadcasts them when their
    dimensions agree); ``target`` broadcasts to it.""",
        "MarginRankingLoss", mirrors_torch=True, target_grad=True,  # (its module by hand)
        prepare=margin_ranking_arguments),
    # ---- metric learning ------------------------------------------------------------------------
    TorchLoss(
        "hinge_embedding_loss", "hinge_embedding", (Arg("margin", float),),
        f"input, target, margin=1.0, {_LEGACY}",
        r"""Hinge embedding loss, as ``torch.nn.functional.hinge_embedding_loss``: :math:`x` where
    the label is 1, :math:`\max(0, m - x)` where it is -1 (both for other labels, as PyTorch's
    formula), on an input that is usually a pairwise distance. Differentiable with respect to
    ``input``; the subgradient at the kink is 0, where PyTorch's is -1.""",
        "HingeEmbeddingLoss", f"margin=1.0, {_LEGACY}", mirrors_torch=True),

    # ---- negative log-likelihoods and divergences ---------------------------------------------
    TorchLoss(
        "poisson_nll_loss", "poisson_nll",
        (Arg("log_input", bool), Arg("full", bool), Arg("eps", float)),
        "input, target, log_input=True, full=False, size_average=None, eps=1e-08, reduce=None, "
        "reduction='mean'",
        r"""Poisson negative log-likelihood, as ``torch.nn.functional.poisson_nll_loss``:
    :math:`e^x - yx` (``log_input``) or :math:`x - y\log(x + \varepsilon)`, plus Stirling's
    approximation of :math:`\log y!` where :math:`y > 1` with ``full``. ``eps`` must be > 0.
    Differentiable with respect to ``input`` and ``target`` (under torch.compile ``input``
    only).""",
        "PoissonNLLLoss",
        "log_input=True, full=False, size_average=None, eps=1e-08, reduce=None, reduction='mean'",
        mirrors_torch=True, all_gradients=True),
    TorchLoss(
        "gaussian_nll_loss", "gaussian_nll",
        (Arg("var", _TENSOR), Arg("full", bool), Arg("eps", float)),
        "input, target, var, full=False, eps=1e-06, reduction='mean'",
        r"""Gaussian negative log-likelihood, as ``torch.nn.functional.gaussian_nll_loss``:
    :math:`\tfrac12(\log v + (x - y)^2 / v)`, :math:`v = \max(\mathrm{var}, \varepsilon)`
    (+ :math:`\tfrac12\log 2\pi` with ``full``). ``var`` (>= 0, else a ValueError) has the
    input's shape, that shape without the last dimension, or one dimension of size 1 where it
    differs, or is a number. Differentiable with respect to ``input``, ``target`` and ``var``, as
    in PyTorch (the var gradient also below eps, as PyTorch's). Under torch.compile only
    ``input``: a ``target`` or ``var`` that requires grad is a RuntimeError there.""",
        "GaussianNLLLoss", mirrors_torch=True, all_gradients=True),  # (its module by hand: var is forward's)
    TorchLoss(
        "kl_div", "kl_div", (Arg("log_target", bool),),
        f"input, target, {_LEGACY}, log_target=False",
        r"""Pointwise KL divergence, as ``torch.nn.functional.kl_div``: ``input`` log-probabilities,
    ``target`` probabilities (log-probabilities with ``log_target``);
    :math:`p(\log p - x)`, 0 where :math:`p = 0` (also for :math:`x = -\infty`, where PyTorch
    gives nan). ``reduction='batchmean'`` (sum / ``input.size(0)``) is the KL divergence per
    sample; ``'mean'`` divides by the number of elements (PyTorch's trap). Differentiable with
    respect to ``input`` and ``target`` (under torch.compile ``input`` only).""",
        "KLDivLoss", f"{_LEGACY}, log_target=False", mirrors_torch=True, batchmean=True,
        all_gradients=True),

    # ---- multi-class: classes at dimension 1, one loss per row --------------------------------
    TorchLoss(
        "cross_entropy", "cross_entropy",
        (_CLASS_WEIGHT, Arg("ignore_index", int), Arg("label_smoothing", float)),
        "input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, "
        "reduction='mean', label_smoothing=0.0, *, inplace_backward=False",
        r"""Softmax cross-entropy, as ``torch.nn.functional.cross_entropy``, in one online-softmax
    pass.

    ``input`` is ``(C,)``, ``(N, C)`` or ``(N, C, d1, ...)`` (classes at dimension 1);
    ``target`` holds class indices of the input's shape without the class dimension (any
    integer dtype), or probabilities of the input's shape. ``weight`` (``(C,)``, >= 0),
    ``ignore_index`` and ``label_smoothing`` follow PyTorch, including its ``mean`` (divided by
    the summed weights of the non-ignored targets for class indices, by the number of samples
    for probabilities). Differentiable with respect to ``input`` only.

    ``inplace_backward=True`` (keyword-only, a fastloss extension; also on the other row losses)
    writes the gradient into ``input`` instead of a new tensor, saving one logits-sized buffer
    (for a language model's logits, gigabytes): ``input`` must be an intermediate float32/float64
    result that nothing else reads afterwards, such as the output of the last linear layer. Its
    values are gone after the call (an op that saved it for its own backward raises PyTorch's
    in-place modification error). Under ``torch.compile`` the gradient is computed out of place.
    """,
        "CrossEntropyLoss",
        "weight=None, size_average=None, ignore_index=-100, reduce=None, reduction='mean', "
        "label_smoothing=0.0, *, inplace_backward=False", mirrors_torch=True, row=True),
    TorchLoss(
        "multi_margin_loss", "multiclass_hinge",
        (Arg("p", int, kernel="squared", to_kernel=lambda p: p == 2), Arg("margin", float),
         _CLASS_WEIGHT),
        f"input, target, p=1, margin=1.0, weight=None, {_LEGACY}, *, inplace_backward=False",
        r"""Multi-class margin loss, as ``torch.nn.functional.multi_margin_loss``:
    :math:`\frac{1}{C}\sum_{j\ne y} w_y \max(0, \text{margin} - x_y + x_j)^p` for ``p`` in
    {1, 2}, on ``(C,)`` or ``(N, C)`` input. (:func:`multiclass_hinge_loss` is the same without
    the division by C.)""",
        "MultiMarginLoss", mirrors_torch=True, row=True, divide_by_classes=True,
        prepare=multi_margin_arguments,
        registry_adapter=False),  # PyTorch's variant; multiclass_hinge_loss is fastloss's
    TorchLoss(
        "nll_loss", "nll", (_CLASS_WEIGHT, Arg("ignore_index", int)),
        "input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, "
        "reduction='mean', *, inplace_backward=False",
        r"""Negative log-likelihood, as ``torch.nn.functional.nll_loss``: :math:`-w_y x_y` for
    log-probabilities ``input`` (``(C,)``, ``(N, C)`` or ``(N, C, d1, ...)``, classes at dimension
    1) and class indices ``target``. ``weight`` (``(C,)``, >= 0) and ``ignore_index`` follow
    PyTorch, including its ``mean`` (divided by the summed weights of the non-ignored targets).
    The gradient is :math:`-w_y` at the target class. (Deviation: a NaN anywhere in a row makes
    the row's loss and gradient NaN; PyTorch reads only the target's entry.)""",
        "NLLLoss",
        "weight=None, size_average=None, ignore_index=-100, reduce=None, reduction='mean', *, "
        "inplace_backward=False", mirrors_torch=True, row=True),
    TorchLoss(
        "multilabel_soft_margin_loss", "multilabel_soft_margin", (_CLASS_WEIGHT,),
        f"input, target, weight=None, {_LEGACY}, *, inplace_backward=False",
        r"""Multi-label soft margin loss, as ``torch.nn.functional.multilabel_soft_margin_loss``:
    :math:`-\frac{1}{C}\sum_j w_j [y_j \log\sigma(x_j) + (1 - y_j)\log\sigma(-x_j)]` over the
    classes, the last dimension of ``input`` (``(C,)``, ``(N, C)``, ``(N, d1, ..., C)``, as
    PyTorch), ``target`` of the input's shape, ``weight`` one per class (>= 0); ``mean`` over the
    rows. Stable for any logit (infinite logits give the finite limits where PyTorch gives nan);
    ``target`` may also hold integers (cast to the input's dtype).""",
        "MultiLabelSoftMarginLoss", f"weight=None, {_LEGACY}, *, inplace_backward=False",
        mirrors_torch=True, row=True, classes_last=True, float_target=True,
        prepare=multilabel_soft_margin_arguments),
    TorchLoss(
        "multilabel_margin_loss", "multilabel_margin", (),
        f"input, target, {_LEGACY}, *, inplace_backward=False",
        r"""Multi-label margin loss, as ``torch.nn.functional.multilabel_margin_loss``:
    :math:`\frac{1}{C}\sum_{j \in y}\sum_{i \notin y}\max(0, 1 - (x_j - x_i))` per row of ``(C,)``
    or ``(N, C)`` input, ``target`` of the input's shape listing each row's classes before its
    first -1 (every entry in [-1, C); a duplicate counts twice). Any integer dtype of ``target``
    (PyTorch: int64 only). (Deviation: a NaN in a row makes its loss and gradient NaN; PyTorch
    drops the NaN terms.)""",
        "MultiLabelMarginLoss", f"{_LEGACY}, *, inplace_backward=False", mirrors_torch=True,
        row=True, prepare=multilabel_margin_arguments),
    TorchLoss(
        "softmax_focal_loss", "softmax_focal",
        (Arg("alpha", Optional[float]), Arg("alpha_per_class", _TENSOR, kernel="alpha",
                                            source="alpha"),
         Arg("gamma", float), Arg("ignore_index", int), _SAMPLE_WEIGHT),
        "input, target, alpha=None, gamma=2.0, ignore_index=-100, reduction='mean', "
        "sample_weight=None, *, inplace_backward=False",
        r"""Multi-class focal loss :math:`-\alpha_t (1 - p_t)^\gamma \log p_t`, as
    :func:`fastloss.softmax_focal` with the classes at dimension 1 (``(C,)``, ``(N, C)`` or
    ``(N, C, d1, ...)`` input). ``alpha``: None, a number >= 0, or one weight per class.
    ``mean`` divides by the number of non-ignored samples (or their sample weights).""",
        "SoftmaxFocalLoss", "alpha=None, gamma=2.0, ignore_index=-100, reduction='mean'",
        row=True, prepare=softmax_focal_arguments),
    TorchLoss(
        "multiclass_hinge_loss", "multiclass_hinge",
        (Arg("margin", float), Arg("kind", str, choices=("weston_watkins", "crammer_singer")),
         Arg("squared", bool), _CLASS_WEIGHT, _SAMPLE_WEIGHT),
        "input, target, margin=1.0, kind='weston_watkins', squared=False, weight=None, "
        "reduction='mean', sample_weight=None, *, inplace_backward=False",
        r"""Multi-class hinge loss, as :func:`fastloss.multiclass_hinge` with the classes at
    dimension 1: Weston-Watkins :math:`w_y\sum_{j\ne y}\max(0, m + x_j - x_y)^p` (not divided
    by C, unlike :func:`multi_margin_loss`) or Crammer-Singer (the max instead of the sum).
    ``weight``: one factor per class (of the target class), as PyTorch's ``weight``.""",
        "MulticlassHingeLoss",
        "margin=1.0, kind='weston_watkins', squared=False, weight=None, reduction='mean'",
        row=True),

    # ---- divergences of two logits tensors: classes at dimension 1, both differentiable -------
    TorchLoss(
        "kl_divergence", "kl_divergence", (Arg("temperature", float), _SAMPLE_WEIGHT),
        "p_logits, q_logits, temperature=1.0, reduction='mean', sample_weight=None",
        r"""Kullback-Leibler divergence :math:`\mathrm{KL}(p \| q)` per row between
    :math:`p = \operatorname{softmax}(z_p / T)` and :math:`q = \operatorname{softmax}(z_q / T)`,
    as :func:`fastloss.kl_divergence` with the classes at dimension 1 (``(C,)``, ``(N, C)`` or
    ``(N, C, d1, ...)``). Differentiable with respect to both logits tensors. ``mean`` divides by
    the number of rows: for ``(N, C)`` logits it is
    ``torch.nn.functional.kl_div(log_softmax(q_logits / T, 1), log_softmax(p_logits / T, 1),
    reduction="batchmean", log_target=True)`` (note PyTorch's argument order).""",
        "KLDivergenceLoss", "temperature=1.0, reduction='mean'", row=True,
        logits_target=True),
    TorchLoss(
        "js_divergence", "js_divergence",
        (Arg("beta", float), Arg("temperature", float), _SAMPLE_WEIGHT),
        "p_logits, q_logits, beta=0.5, temperature=1.0, reduction='mean', sample_weight=None",
        r"""Generalised Jensen-Shannon divergence
    :math:`\beta\,\mathrm{KL}(p \| m) + (1 - \beta)\,\mathrm{KL}(q \| m)`,
    :math:`m = \beta p + (1 - \beta) q`, as :func:`fastloss.js_divergence` with the classes at
    dimension 1 (0 at ``beta`` 0 and 1; symmetric at 1/2). Differentiable with respect to both
    logits tensors.""",
        "JSDivergenceLoss", "beta=0.5, temperature=1.0, reduction='mean'", row=True,
        logits_target=True),
    TorchLoss(
        "distillation", "distillation",
        (Arg("labels", _TENSOR), Arg("temperature", float), Arg("alpha", float),
         Arg("beta", float), Arg("t2_scale", bool), Arg("ignore_index", int), _SAMPLE_WEIGHT),
        "student_logits, teacher_logits, labels=None, temperature=2.0, alpha=0.5, beta=0.5, "
        "t2_scale=True, ignore_index=-100, reduction='mean', sample_weight=None",
        r"""Knowledge distillation :math:`\alpha\,\mathrm{CE}(t, \sigma(z_s)) +
    \beta T^2 \mathrm{KL}(\sigma(z_t/T) \| \sigma(z_s/T))` (Hinton et al. 2015), as
    :func:`fastloss.distillation` with the classes at dimension 1: ``labels`` (optional) are
    class indices of the logits' shape without dimension 1; rows whose label is
    ``ignore_index`` give 0 and are left out of the mean. Differentiable with respect to the
    student's logits and, when it requires grad, the teacher's.""",
        "DistillationLoss", row=True, logits_target=True),
)

BY_NAME = {loss.name: loss for loss in LOSSES}
