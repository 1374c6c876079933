"""Train the same model twice from the same initial weights, once with
``fastloss.torch.cross_entropy`` and once with ``torch.nn.functional.cross_entropy``, and compare
the loss curves and the time per training step.

    python examples/train_logreg.py                      # logistic regression on sklearn digits
    python examples/train_logreg.py --hidden 64          # a one-hidden-layer MLP instead
    python examples/train_logreg.py --dataset synthetic --samples 4096 --classes 1000
    python examples/train_logreg.py --threads 1         # same thread count for both libraries

Without scikit-learn the digits data set is replaced by a synthetic one (Gaussian clusters made
with NumPy). The two models take their steps alternately on the same batches, so both see the
same machine load; step times are medians after 5 warm-up steps: compare them with each other,
not across runs or machines. On a loaded machine PyTorch's OpenMP intra-op threads can stall for
milliseconds waiting for a descheduled peer; ``--threads 1`` takes that out of the comparison.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

import fastloss
import fastloss.torch as flt


def load(args):
    if args.dataset == "digits":
        try:
            from sklearn.datasets import load_digits
        except ImportError:
            print("scikit-learn is not installed: using the synthetic data set")
            args.dataset = "synthetic"
        else:
            X, y = load_digits(return_X_y=True)
            X = (X - X.mean(0)) / (X.std(0) + 1e-6)
            return X.astype(np.float32), y.astype(np.int64), "sklearn digits"
    rng = np.random.default_rng(args.seed)
    centers = rng.standard_normal((args.classes, args.features)) * 1.5
    y = rng.integers(0, args.classes, args.samples)
    X = centers[y] + rng.standard_normal((args.samples, args.features))
    return X.astype(np.float32), y.astype(np.int64), \
        f"synthetic ({args.samples} x {args.features}, {args.classes} classes)"


def make_model(features, classes, hidden):
    if hidden:
        return torch.nn.Sequential(torch.nn.Linear(features, hidden), torch.nn.Tanh(),
                                   torch.nn.Linear(hidden, classes))
    return torch.nn.Linear(features, classes)


def train(models, loss_fns, X, y, args):
    """Trains the models in lockstep on the same batches (one step of each, alternating, so
    both see the same machine load); returns per model the loss curve and the step times."""
    opts = [torch.optim.SGD(m.parameters(), lr=args.lr, momentum=0.9) for m in models]
    rng = np.random.default_rng(args.seed)
    losses = [[] for _ in models]
    times = [[] for _ in models]
    step = 0
    while step < args.steps:
        perm = torch.from_numpy(rng.permutation(len(X)))
        for start in range(0, len(X), args.batch):
            if step == args.steps:
                break
            idx = perm[start:start + args.batch]
            xb, yb = X[idx], y[idx]
            for k, (model, opt, loss_fn) in enumerate(zip(models, opts, loss_fns)):
                t0 = time.perf_counter()
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model(xb), yb, label_smoothing=args.label_smoothing)
                loss.backward()
                opt.step()
                times[k].append(time.perf_counter() - t0)
                losses[k].append(loss.item())
            step += 1
    warmup = min(5, args.steps - 1)
    return [(np.array(curve), t[warmup:]) for curve, t in zip(losses, times)]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", choices=["digits", "synthetic"], default="digits")
    p.add_argument("--samples", type=int, default=2048)
    p.add_argument("--features", type=int, default=64)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--hidden", type=int, default=0, help="hidden units (0: logistic regression)")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--label-smoothing", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0,
                   help="threads for both PyTorch and fastloss (0: leave their defaults)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
        fastloss.set_num_threads(args.threads)

    X_np, y_np, name = load(args)
    X, y = torch.from_numpy(X_np), torch.from_numpy(y_np)
    torch.manual_seed(args.seed)
    init = make_model(X.shape[1], int(y.max()) + 1, args.hidden).state_dict()

    labels = ("torch", "fastloss")
    models = []
    for _ in labels:
        models.append(make_model(X.shape[1], int(y.max()) + 1, args.hidden))
        models[-1].load_state_dict(init)
    runs = train(models, (F.cross_entropy, flt.cross_entropy), X, y, args)
    results = dict(zip(labels, runs))
    for label, model in zip(labels, models):
        with torch.no_grad():
            accuracy = (model(X).argmax(1) == y).float().mean().item()
        losses, times = results[label]
        print(f"{label:>8}: loss {losses[0]:.4f} -> {losses[-1]:.4f}, train accuracy "
              f"{accuracy:.3f}, median step {statistics.median(times) * 1e3:.3f} ms")

    (lt, tt), (lf, tf) = results["torch"], results["fastloss"]
    model_name = f"MLP(hidden={args.hidden})" if args.hidden else "logistic regression"
    print(f"data: {name}; model: {model_name}; {args.steps} SGD steps, batch {args.batch}, "
          f"torch {torch.__version__}, threads: torch {torch.get_num_threads()}, "
          f"fastloss {fastloss.get_num_threads()}")
    print(f"max |loss_fastloss - loss_torch| over the curve: {np.abs(lf - lt).max():.3e} "
          f"(relative {np.max(np.abs(lf - lt) / np.abs(lt)):.3e})")
    print(f"median step time: torch {statistics.median(tt) * 1e3:.3f} ms, "
          f"fastloss {statistics.median(tf) * 1e3:.3f} ms "
          f"(ratio fastloss/torch {statistics.median(tf) / statistics.median(tt):.2f})")


if __name__ == "__main__":
    main()
