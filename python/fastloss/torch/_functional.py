"""The functions of fastloss.torch, mirroring ``torch.nn.functional``, one per entry of the loss
table, with the entry's signature and docstring. Each one converts PyTorch's deprecated
``size_average``/``reduce`` where it takes them, maps its parameters onto its op's arguments
(by name, or through the entry's ``prepare``) and hands them to ``_call.run``."""

from ._call import legacy_reduction, run
from ._codegen import define
from ._losses import LOSSES
from ._spec import TorchLoss

# Parameters every function handles the same way, not op arguments.
_COMMON = ("size_average", "reduce", "reduction", "inplace_backward")


def _function(loss: TorchLoss):
    names = list(loss.parameters)
    input, target, hyper = names[0], names[1], [n for n in names[2:] if n not in _COMMON]
    if loss.prepare is not None:
        keywords = ", ".join(f"{n}={n}" for n in hyper)
        args = f"_prepare({input}, {keywords})"
    else:
        ops = [arg.name for arg in loss.args]
        if sorted(ops) != sorted(hyper):
            raise TypeError(f"fastloss.torch table: {loss.name}'s parameters {hyper} are not its "
                            f"op's arguments {ops}; give the entry a prepare function")
        args = f"({''.join(op + ', ' for op in ops)})"  # a tuple, also of none
    reduction = "_legacy_reduction(size_average, reduce, reduction)" \
        if loss.has_legacy_arguments else "reduction"
    inplace = ", inplace_backward" if "inplace_backward" in names else ""
    source = (f"def {loss.name}({loss.signature}):\n"
              f"    return _run(_loss, {input}, {target}, {reduction}, {args}{inplace})\n")
    fn = define(source, loss.name, {"_run": run, "_loss": loss, "_prepare": loss.prepare,
                                    "_legacy_reduction": legacy_reduction})
    fn.__doc__ = loss.doc
    return fn


FUNCTIONS = {loss.name: _function(loss) for loss in LOSSES}
