"""The ``torch.nn.Module`` form of every loss in the table: the constructor takes the entry's
``module_signature`` and keeps the hyper-parameters (tensors as buffers, so that they follow
``.to()`` and ``state_dict``); ``forward`` calls the function with them."""

import torch

from ._call import legacy_reduction
from ._codegen import PUBLIC_MODULE, define
from ._errors import fail
from ._functional import FUNCTIONS
from ._losses import BY_NAME, LOSSES
from ._spec import TorchLoss
from ._tensors import is_tensor_like

_LEGACY = ("size_average", "reduce")


class _Loss(torch.nn.Module):
    """What every loss module shares: its reduction, shown in its repr."""

    def __init__(self, reduction):
        super().__init__()
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"

    def _keep_tensor(self, name, value):
        self.register_buffer(name, None if value is None else torch.as_tensor(value))

    def _keep_number_or_tensor(self, name, value):
        if is_tensor_like(value):
            self.register_buffer(name, torch.as_tensor(value))
        else:
            setattr(self, name, value)


def _keeping(loss: TorchLoss, name: str) -> str:
    """The constructor's line that keeps the hyper-parameter ``name``."""
    tensors = {arg.is_tensor for arg in loss.args if arg.parameter == name}
    if tensors == {True}:
        return f"self._keep_tensor({name!r}, {name})"
    if tensors == {True, False}:  # a number or one value per position/class (see Arg)
        return f"self._keep_number_or_tensor({name!r}, {name})"
    return f"self.{name} = {name}"


def _module(loss: TorchLoss):
    names = list(loss.module_parameters)
    hyper = [n for n in names if n not in _LEGACY and n != "reduction"]
    reduction = ("legacy_reduction(size_average, reduce, reduction)" if "size_average" in names
                 else "reduction")
    # fastloss's per-sample weights are data, so forward takes them rather than the constructor
    weighted_call = "sample_weight" in loss.parameters
    doc = loss.module_doc or (f"Module form of :func:`{loss.name}`"
                              + (f" (``torch.nn.{loss.module}``)" if loss.mirrors_torch else "")
                              + ".")
    keep = "".join(f"\n        {_keeping(loss, n)}" for n in hyper)
    passed = "".join(f", {n}=self.{n}" for n in hyper)
    sample_weight = (", sample_weight=None", ", sample_weight=sample_weight") if weighted_call \
        else ("", "")
    source = (
        f"class {loss.module}(_Loss):\n"
        f"    def __init__(self, {loss.module_signature}):\n"
        f"        super().__init__({reduction}){keep}\n\n"
        f"    def forward(self, input, target{sample_weight[0]}):\n"
        f"        return function(input, target, reduction=self.reduction{passed}"
        f"{sample_weight[1]})\n")
    cls = define(source, loss.module, {"_Loss": _Loss, "legacy_reduction": legacy_reduction,
                                        "function": FUNCTIONS[loss.name]})
    cls.__doc__ = doc
    return cls


class MultiMarginLoss(_Loss):
    """Module form of :func:`multi_margin_loss` (``torch.nn.MultiMarginLoss``)."""

    # Written by hand: it checks p when constructed, as torch.nn.MultiMarginLoss does.
    def __init__(self, p=1, margin=1.0, weight=None, size_average=None, reduce=None,
                 reduction="mean"):
        super().__init__(legacy_reduction(size_average, reduce, reduction))
        self._keep_tensor("weight", weight)
        if p not in (1, 2):
            fail("MultiMarginLoss", f"only p == 1 and p == 2 are supported, got {p!r}")
        self.p = p
        self.margin = margin

    def forward(self, input, target):
        return FUNCTIONS["multi_margin_loss"](input, target, p=self.p, margin=self.margin,
                                              weight=self.weight, reduction=self.reduction)


class GaussianNLLLoss(_Loss):
    """Module form of :func:`gaussian_nll_loss` (``torch.nn.GaussianNLLLoss``)."""

    # Written by hand: var is an argument of forward, as in torch.nn.GaussianNLLLoss.
    def __init__(self, *, full=False, eps=1e-6, reduction="mean"):
        super().__init__(reduction)
        self.full = full
        self.eps = eps

    def forward(self, input, target, var):
        return FUNCTIONS["gaussian_nll_loss"](input, target, var, full=self.full, eps=self.eps,
                                              reduction=self.reduction)


MultiMarginLoss.__module__ = PUBLIC_MODULE
GaussianNLLLoss.__module__ = PUBLIC_MODULE


class DistillationLoss(_Loss):
    """Module form of :func:`distillation`."""

    # Written by hand: its labels are data, taken by forward with the two logits tensors.
    def __init__(self, temperature=2.0, alpha=0.5, beta=0.5, t2_scale=True, ignore_index=-100,
                 reduction="mean"):
        super().__init__(reduction)
        self.temperature, self.alpha, self.beta = temperature, alpha, beta
        self.t2_scale, self.ignore_index = t2_scale, ignore_index

    def forward(self, student_logits, teacher_logits, labels=None, sample_weight=None):
        return FUNCTIONS["distillation"](
            student_logits, teacher_logits, labels, temperature=self.temperature,
            alpha=self.alpha, beta=self.beta, t2_scale=self.t2_scale,
            ignore_index=self.ignore_index, reduction=self.reduction,
            sample_weight=sample_weight)


DistillationLoss.__module__ = PUBLIC_MODULE


class MarginRankingLoss(_Loss):
    """Module form of :func:`margin_ranking_loss` (``torch.nn.MarginRankingLoss``)."""

    # Written by hand: forward takes three tensors, as torch.nn.MarginRankingLoss's.
    def __init__(self, margin=0.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(legacy_reduction(size_average, reduce, reduction))
        self.margin = margin

    def forward(self, input1, input2, target):
        return FUNCTIONS["margin_ranking_loss"](input1, input2, target, margin=self.margin,
                                                reduction=self.reduction)


MarginRankingLoss.__module__ = PUBLIC_MODULE
MODULES = {loss.module: _module(loss) for loss in LOSSES if loss.module_signature}
MODULES[BY_NAME["multi_margin_loss"].module] = MultiMarginLoss
MODULES[BY_NAME["gaussian_nll_loss"].module] = GaussianNLLLoss
MODULES[BY_NAME["distillation"].module] = DistillationLoss
MODULES[BY_NAME["margin_ranking_loss"].module] = MarginRankingLoss
