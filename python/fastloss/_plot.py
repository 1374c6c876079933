"""``python -m fastloss plot``: each loss and its gradient against the residual (regression) or
the margin (classification), computed by the kernels, drawn in two panels into a PNG.

A curve is named by its loss and optional hyper-parameters, ``huber`` or
``sigmoid_focal:gamma=1,alpha=None`` (so one loss can be drawn at several settings); ``--param
huber.delta=0.5`` (repeatable) sets a hyper-parameter for every curve of that loss.

Regression losses are drawn at target 0 against the residual d = pred - target. Binary
classification losses are drawn at the positive label against the margin m = y f (the score or
logit f; a probability loss at p = sigmoid(m), with its gradient carried to m by the chain
rule); the row losses at two classes, logits (m, 0) with target class 0. The gradient panel is
d loss / d residual or d loss / d margin.

matplotlib is an optional dependency (``pip install fastloss[plot]``).
"""

from __future__ import annotations

import argparse
import ast

import numpy as np

from ._validate import fail

WHO = "plot"


def _value(text: str):
    """A hyper-parameter value from the command line: a Python literal (0.5, None, True), or
    else the text itself (weston_watkins)."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _assignments(text: str, where: str) -> dict:
    out = {}
    for item in filter(None, text.split(",")):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            fail(WHO, f"{where} must be key=value, got {item!r}")
        out[key.strip()] = _value(value.strip())
    return out


def _hyper_parameters(fn) -> list:
    """The loss's keyword-only parameters that shape a curve (not the reduction or weights)."""
    import inspect

    return [p.name for p in inspect.signature(fn).parameters.values()
            if p.kind is p.KEYWORD_ONLY and p.name not in ("reduction", "sample_weight")]


def parse_curves(names, params) -> list:
    """[(loss name, hyper-parameters)] from the positional curve names and the --param items."""
    from ._registry import REGISTRY

    per_loss = {}
    for item in params:
        lhs, eq, value = item.partition("=")
        target, dot, key = lhs.partition(".")
        if not (eq and dot and target.strip() and key.strip()):
            fail(WHO, f"--param must be loss.key=value, got {item!r}")
        per_loss.setdefault(target.strip(), {})[key.strip()] = _value(value.strip())
    curves = []
    for text in names:
        name, _, own = text.partition(":")
        if name not in REGISTRY:
            fail(WHO, f"unknown loss {name!r} (registered: {', '.join(sorted(REGISTRY))})")
        settings = {**per_loss.get(name, {}), **_assignments(own, f"{name}'s settings")}
        takes = _hyper_parameters(REGISTRY[name].fn)
        for key in settings:
            if key not in takes:
                fail(WHO, f"{name} takes no hyper-parameter {key!r} (it takes: "
                          f"{', '.join(takes) or 'none'})", TypeError)
        curves.append((name, settings))
    unused = sorted(set(per_loss) - {name for name, _ in curves})
    if unused:
        fail(WHO, f"--param names {unused[0]!r}, which is not plotted")
    for name, _ in curves:
        spec = REGISTRY[name]
        if spec.family not in ("regression", "classification") or len(spec.arrays) != 2:
            fail(WHO, f"{name} ({spec.family}, arrays {', '.join(spec.arrays)}) has no curve: "
                      "plot draws losses of a prediction and a target, regression ones against "
                      "the residual and classification ones against the margin")
    families = {REGISTRY[name].family for name, _ in curves}
    if len(families) > 1:
        fail(WHO, "regression and classification losses have different x axes (residual, "
                  "margin): plot them separately")
    return curves


def evaluate(name: str, params: dict, x: np.ndarray):
    """The loss and its derivative along x (the residual, or the margin), from the kernels."""
    import fastloss
    from ._gradient_buffers import KERNELS
    from ._registry import REGISTRY

    spec = REGISTRY[name]
    vg = fastloss.value_and_grad(spec.fn)
    if spec.family == "regression":
        loss, g = vg(x, np.zeros_like(x), reduction="none", **params)
        return np.asarray(loss), np.asarray(g)
    if spec.kind == "row":
        # Two classes, class 0 the true (or listed) one: the margin is its logit minus the
        # other's. The target is its class index, its 0/1 row, or its index list ended by -1.
        logits = np.stack([x, np.zeros_like(x)], axis=-1)
        kinds = {k["target"] for k in KERNELS.values() if k["stem"] == name}
        if "sparse" in kinds:
            target = np.zeros(x.shape, dtype=np.int64)
        elif "index_list" in kinds:
            target = np.broadcast_to(np.array([0, -1]), logits.shape)
        else:
            target = np.broadcast_to(np.array([1.0, 0.0], dtype=x.dtype), logits.shape)
        loss, g = vg(logits, target, reduction="none", **params)
        return np.asarray(loss), np.asarray(g)[:, 0]  # d/d x_target = d/d margin
    first = spec.arrays[0]
    if first == "prob":  # p = sigmoid(m): d/dm = d/dp p (1 - p)
        p = 1.0 / (1.0 + np.exp(-x))
        loss, g = vg(p, np.ones_like(x), reduction="none", **params)
        return np.asarray(loss), np.asarray(g) * p * (1.0 - p)
    positive = np.ones(x.shape, dtype=np.int64 if first == "pred" else x.dtype)
    loss, g = vg(x, positive, reduction="none", **params)
    return np.asarray(loss), np.asarray(g)


def _label(name: str, params: dict) -> str:
    if not params:
        return name
    return f"{name} ({', '.join(f'{k}={v}' for k, v in params.items())})"


def draw(curves, out: str, lo: float = -3.0, hi: float = 3.0, points: int = 601,
         title: str | None = None, dpi: int = 120) -> None:
    """Draw the curves into the PNG ``out``: loss on the left panel, gradient on the right."""
    try:
        from matplotlib.figure import Figure
    except ImportError as e:
        raise ImportError("fastloss plot needs matplotlib (pip install 'fastloss[plot]'): "
                          f"{e}") from e
    from ._registry import REGISTRY

    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        fail(WHO, f"--range must be two finite numbers lo < hi, got {lo} {hi}")
    regression = REGISTRY[curves[0][0]].family == "regression"
    x = np.linspace(lo, hi, points)
    axis = "residual  d = pred − target" if regression else "margin  m = y · f"
    fig = Figure(figsize=(12, 4.8), layout="constrained")
    ax_loss, ax_grad = fig.subplots(1, 2)
    styles = ("-", "--", "-.", ":")
    for i, (name, params) in enumerate(curves):
        loss, grad = evaluate(name, params, x)
        # a dash pattern per curve too, so that curves that coincide (focal at gamma 0 and
        # BCE) both show
        style = dict(linestyle=styles[i % len(styles)], linewidth=2.0, label=_label(name, params))
        ax_loss.plot(x, loss, **style)
        ax_grad.plot(x, grad, **style)
    ax_loss.set(title="Loss", xlabel=axis, ylabel="loss")
    ax_grad.set(title="Gradient", xlabel=axis,
                ylabel="∂ loss / ∂ d" if regression else "∂ loss / ∂ m")
    for ax in (ax_loss, ax_grad):
        ax.axhline(0.0, color="0.6", linewidth=0.8)
        ax.axvline(0.0, color="0.6", linewidth=0.8)
        ax.grid(True, alpha=0.3)
    ax_loss.legend(loc="upper center" if regression else "upper right", fontsize=9)
    fig.suptitle(title or ("Regression losses against the residual" if regression else
                           "Classification losses against the margin"), fontsize=13)
    fig.savefig(out, dpi=dpi)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("losses", nargs="+", metavar="LOSS[:key=value,...]",
                        help="losses to draw, e.g. huber mae sigmoid_focal:gamma=2")
    parser.add_argument("--out", default="curves.png", help="the PNG to write (curves.png)")
    parser.add_argument("--param", action="append", default=[], metavar="LOSS.KEY=VALUE",
                        help="a hyper-parameter of every curve of LOSS (repeatable)")
    parser.add_argument("--range", nargs=2, type=float, default=(-3.0, 3.0),
                        metavar=("LO", "HI"), help="the x range (default -3 3)")
    parser.add_argument("--points", type=int, default=601, help="points per curve (601)")
    parser.add_argument("--title", default=None, help="the figure's title")


def run(args: argparse.Namespace) -> None:
    curves = parse_curves(args.losses, args.param)
    draw(curves, args.out, args.range[0], args.range[1], args.points, args.title)
