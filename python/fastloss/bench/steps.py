"""The training step a user runs: a linear layer's logits -> cross-entropy -> backward -> SGD.

Per shape (N rows, D input features, C classes), every variant takes one full step on the same
batch from the same initial weights, in interleaved rounds (timing.rounds):

* PyTorch: ``nn.Linear(D, C)`` -> loss -> ``loss.backward()`` -> ``torch.optim.SGD.step()``
  (after ``zero_grad(set_to_none=True)``). The loss is ``F.cross_entropy`` ("torch"), the same
  with the model and loss under ``torch.compile`` ("torch.compile", the optimizer step stays
  eager), ``fastloss.torch.cross_entropy`` ("fastloss"; also with ``inplace_backward=True``, the
  README's advice for the last layer) and fastloss's op under ``torch.compile``.
* JAX: the whole step ``jax.jit``-ed (``value_and_grad`` of the loss of ``x @ W + b``, then
  ``W - lr * dW``), with ``fastloss.jax.cross_entropy`` ("jax fastloss") or the peer
  ("jax"): ``optax.softmax_cross_entropy_with_integer_labels`` when optax is importable, else the
  same formula in plain JAX (``-take_along_axis(jax.nn.log_softmax(z), y)``, mean).

Only the public functions ``fastloss.torch.cross_entropy`` and ``fastloss.jax.cross_entropy``
are used, so the section measures whatever mechanism those use today. The first call of each
variant (torch.compile and jax.jit compile there) is timed on its own, reported as
``first_call_s`` and never counted in the step time.
"""

from __future__ import annotations

import importlib.util
import time

import numpy as np

from . import compiled
from .timing import Progress, median_ms, rounds

# (N rows, D input features, C classes). D follows the JAX rows (256x64 -> 10,
# 256x512 -> 1000, 1024x256 -> 32000); the 4096-row batch with 10 classes keeps D = 64.
STEP_SHAPES = ((256, 64, 10), (4096, 64, 10), (256, 512, 1000), (1024, 256, 32000))
STEP_SHAPES_QUICK = ((64, 16, 10), (16, 32, 1000))
LEARNING_RATE = 0.01
# Seconds of timed runs per shape (all variants together), after which a shape stops once every
# variant has 3 runs: the 1024x256 -> 32000 step takes 0.5-2 s per variant on 2 busy cores, and 7
# rounds of 7 variants would be the largest part of the whole benchmark.
STEP_BUDGET_S = 20.0

# Each fastloss variant is compared with the peer a user of that framework and mode would use.
TORCH_PAIRS = (("fastloss", "torch"), ("fastloss", "torch.compile"),
               ("fastloss, inplace_backward", "torch"),
               ("fastloss, torch.compile", "torch.compile"))
JAX_PAIRS = (("jax fastloss", "jax"),)


def _batch(n: int, d: int, c: int, seed: int = 0):
    rng = np.random.default_rng([seed, n, d, c])
    x = rng.standard_normal((n, d), dtype=np.float32)
    y = rng.integers(0, c, n)
    w = (rng.standard_normal((c, d), dtype=np.float32) / np.sqrt(d)).astype(np.float32)
    b = np.zeros(c, np.float32)
    return x, y, w, b


PEER_VARIANTS = ("torch", "torch.compile", "jax")


def _torch_steps(x, y, w, b, use_compile: bool) -> tuple[dict, dict]:
    """{variant: step()} and {variant: how} for PyTorch, each variant with its own model."""
    import torch
    import torch.nn.functional as F

    import fastloss.torch as flt

    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    losses = {
        "torch": (lambda m: lambda a, t: F.cross_entropy(m(a), t), "F.cross_entropy"),
        "fastloss": (lambda m: lambda a, t: flt.cross_entropy(m(a), t),
                     "fastloss.torch.cross_entropy"),
        "fastloss, inplace_backward": (
            lambda m: lambda a, t: flt.cross_entropy(m(a), t, inplace_backward=True),
            "fastloss.torch.cross_entropy(..., inplace_backward=True)"),
    }
    if use_compile:
        losses["torch.compile"] = (
            lambda m: compiled.compile(lambda a, t: F.cross_entropy(m(a), t)),
            "torch.compile(model + F.cross_entropy)")
        losses["fastloss, torch.compile"] = (
            lambda m: compiled.compile(lambda a, t: flt.cross_entropy(m(a), t)),
            "torch.compile(model + fastloss.torch.cross_entropy)")
    steps, hows = {}, {}
    for name, (make_loss, how) in losses.items():
        model = torch.nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            model.weight.copy_(torch.from_numpy(w))
            model.bias.copy_(torch.from_numpy(b))
        opt = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
        loss_fn = make_loss(model)

        def step(opt=opt, loss_fn=loss_fn):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(xt, yt)
            loss.backward()
            opt.step()
            return loss

        steps[name] = step
        hows[name] = f"nn.Linear -> {how} -> backward -> SGD.step"
    return steps, hows


def _jax_peer_loss():
    """(loss(logits, labels), how): optax's when it is importable, else the same in plain JAX."""
    import jax
    import jax.numpy as jnp

    if importlib.util.find_spec("optax") is not None:
        import optax

        return (lambda z, y: optax.softmax_cross_entropy_with_integer_labels(z, y).mean(),
                "optax.softmax_cross_entropy_with_integer_labels(...).mean()")

    def plain(z, y):
        logp = jax.nn.log_softmax(z, axis=-1)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=-1))
    return plain, "plain JAX: -mean(take_along_axis(jax.nn.log_softmax(z), y)) (optax absent)"


def _jax_steps(x, y, w, b) -> tuple[dict, dict]:
    import jax

    import fastloss.jax as flj

    peer_loss, peer_how = _jax_peer_loss()
    xj, yj = jax.device_put(x), jax.device_put(y)
    steps, hows = {}, {}
    for name, loss, how in (("jax", peer_loss, peer_how),
                            ("jax fastloss", flj.cross_entropy, "fastloss.jax.cross_entropy")):
        def objective(params, xb, yb, loss=loss):
            wt, bias = params
            return loss(xb @ wt + bias, yb)

        @jax.jit
        def train_step(params, xb, yb, objective=objective):
            value, grads = jax.value_and_grad(objective)(params, xb, yb)
            return value, jax.tree_util.tree_map(lambda p, g: p - LEARNING_RATE * g, params, grads)

        state = {"params": (jax.device_put(w.T.copy()), jax.device_put(b))}

        def step(state=state, train_step=train_step):
            value, state["params"] = train_step(state["params"], xj, yj)
            jax.block_until_ready(state["params"])
            return value

        steps[name] = step
        hows[name] = f"jax.jit(value_and_grad(loss of x @ W + b) + SGD update), loss = {how}"
    return steps, hows


def run(cfg, progress: Progress, index: int) -> dict:
    """Times every variant on every shape; returns {"shapes": [...], "how": {variant: how}}."""
    shapes = STEP_SHAPES_QUICK if cfg.quick else STEP_SHAPES
    out = {"shapes": [], "how": {}, "learning_rate": LEARNING_RATE,
           "pairs": [list(p) for p in TORCH_PAIRS + JAX_PAIRS]}
    for n, d, c in shapes:
        label = f"{n}x{d} -> {c}"
        progress.step(index, f"training step {label}", "set-up and first calls")
        x, y, w, b = _batch(n, d, c)
        steps, hows, skipped = {}, {}, {}
        # The frameworks are the step's input and output, not peers: both run when importable;
        # --no-peers leaves out the peer variants only.
        for framework, make in (("torch", lambda: _torch_steps(x, y, w, b, cfg.compile)),
                                ("jax", lambda: _jax_steps(x, y, w, b))):
            try:
                s, h = make()
            except ImportError as e:
                skipped[framework] = f"not importable: {e}"
                continue
            for name in s:
                if cfg.peers or name not in PEER_VARIANTS:
                    steps[name], hows[name] = s[name], h[name]
        compiled.reset()  # a fresh compile cache per shape: no recompile limit is reached
        first, errors = {}, {}
        for name, step in list(steps.items()):
            t0 = time.perf_counter()
            try:
                step()
            except Exception as e:  # a variant failing must not lose the rest; it is reported
                errors[name] = f"{type(e).__name__}: {e}"
                del steps[name]
                continue
            first[name] = time.perf_counter() - t0
        progress.step(index, f"training step {label}", "timed rounds")
        r = rounds(steps, cfg.repeats, budget_s=None if cfg.quick else STEP_BUDGET_S) \
            if steps else {}
        ms = {k: median_ms(v) for k, v in r.items()}
        ratios = {f"{peer} / {ours}": ms[peer] / ms[ours]
                  for ours, peer in TORCH_PAIRS + JAX_PAIRS if ours in ms and peer in ms}
        out["shapes"].append({
            "n": n, "d": d, "c": c, "label": label, "ms": ms, "ratios": ratios,
            "first_call_s": first, "runs_ms": {k: [t * 1e3 for t in v] for k, v in r.items()},
            "errors": errors, "skipped": skipped})
        out["how"].update(hows)
        del steps, r
        compiled.reset()
    return out
