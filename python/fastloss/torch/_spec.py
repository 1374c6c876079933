"""The shape of one entry of the loss table (``_losses.LOSSES``): everything torch-specific about
a loss, from which its custom op, its function and its module are made."""

import inspect
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple, Optional

from torch import Tensor


class Arg(NamedTuple):
    """One loss-specific argument of a loss's custom op (the op's arguments follow
    ``input, target, reduction, need_grad``, in the table's order).

    Two args may feed one fastloss keyword: a hyper-parameter that is a number or one value per
    position or class, which an op schema cannot type as one argument. The later (the tensor)
    wins when it is not None."""

    name: str                    # in the op's schema
    type: Any                    # its schema type: float, int, bool, str, Optional[...]
    kernel: str = ""             # the fastloss keyword it feeds ("": name)
    source: str = ""             # the public function's parameter it comes from ("": name)
    to_kernel: Optional[Callable] = None  # op value -> fastloss value, where they differ
    choices: tuple = ()          # the values a str argument may take

    @property
    def keyword(self) -> str:
        return self.kernel or self.name

    @property
    def parameter(self) -> str:
        return self.source or self.name

    @property
    def is_tensor(self) -> bool:
        return self.type == Optional[Tensor]


@dataclass(frozen=True)
class TorchLoss:
    name: str                    # the function here, and the op fastloss::<name>
    kernel: str                  # the fastloss (NumPy API) function that computes it
    args: "tuple[Arg, ...]"
    signature: str               # the function's parameters, exactly as PyTorch spells them
    doc: str
    module: str                  # the nn.Module class
    module_signature: str = ""   # its __init__ parameters ("": written by hand, in _modules)
    module_doc: str = ""         # ("": "Module form of <function>")
    mirrors_torch: bool = False  # a torch.nn.functional / torch.nn name, with their semantics
    row: bool = False            # classes at dimension 1, one loss per row
    target_grad: bool = False    # a loss of input - target: d target = -d input
    logits_target: bool = False  # target is a second logits tensor with a gradient of its own,
    #                              from the same kernel pass (the divergences)
    mean_by_count: bool = False  # a weighted mean divides by the number of losses (PyTorch's)
    divide_by_classes: bool = False  # loss and gradient divided by C (multi_margin_loss)
    batchmean: bool = False      # also reduction='batchmean': sum / input.shape[0] (kl_div)
    all_gradients: bool = False  # eager calls also differentiate target and tensor arguments
    classes_last: bool = False  # a row loss's classes are the last dimension, not dimension 1
    #                             (multilabel_soft_margin_loss, as PyTorch sums over dim -1)
    float_target: bool = False  # an integer target is cast to the input's dtype (PyTorch's
    #                             arithmetic promotes it: multilabel_soft_margin_loss)
    prepare: Optional[Callable] = None  # (input, **parameters) -> op args, where they are not
    #                                     the parameters of the same names
    registry_adapter: bool = True  # the adapter FOR_REGISTRY names for `kernel` (one per kernel)

    @property
    def parameters(self) -> "dict[str, inspect.Parameter]":
        """The function's parameters, read from ``signature``."""
        return _parameters(self.signature)

    @property
    def module_parameters(self) -> "dict[str, inspect.Parameter]":
        """The module constructor's parameters (after ``self``), read from
        ``module_signature``."""
        return _parameters(self.module_signature)

    @property
    def target_gradient(self):
        """How target gets its gradient: "difference" (-d input), "logits" (its own, the op's
        grad holding both stacked), or None."""
        return "logits" if self.logits_target else "difference" if self.target_grad else None

    @property
    def default_reduction(self) -> str:
        return self.parameters["reduction"].default

    @property
    def has_legacy_arguments(self) -> bool:
        """Whether the function takes PyTorch's deprecated ``size_average``/``reduce``."""
        return "size_average" in self.parameters


def _parameters(signature: str) -> "dict[str, inspect.Parameter]":
    scope = {}
    exec(f"def f({signature}): pass", scope)
    return dict(inspect.signature(scope["f"]).parameters)
