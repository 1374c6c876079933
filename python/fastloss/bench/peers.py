"""The peers each kernel is compared with, called the way their users call them.

* ``numpy``: fastloss's own float64 reference, composed the usual way: ``reference.NAME`` for
  the value, then ``reference.NAME_grad`` for the gradient, on the same float32 arrays.
* ``torch``: PyTorch CPU. Forward: the loss under ``torch.no_grad()``. Fused: forward then
  ``loss.backward()`` through autograd on a leaf tensor sharing the NumPy memory
  (``torch.from_numpy``), its ``.grad`` reset to None before each run so that every run
  allocates its gradient, as fastloss does. ``torch.nn.functional.X`` where PyTorch has the loss;
  otherwise composed from torch ops (marked "composed").
* ``jax``: ``jax.jit(jax.value_and_grad(f))`` (fused) and ``jax.jit(f)`` (forward), f written
  with jax.numpy the way optax writes it, inputs placed once with ``jax.device_put``, results
  waited for with ``block_until_ready``. Only when jax is importable.

Every peer function returns ``(forward, fused, how)``: two zero-argument callables and a
description of the call, or raises ``Unavailable``. Hyper-parameters are fastloss's defaults,
read from the public function's signature, so peers compute the same loss.
"""

from __future__ import annotations

import inspect
import math

import numpy as np

from . import jax_forms, torch_forms
from .cases import Case

LOG2 = math.log(2.0)


class Unavailable(Exception):
    """This peer has no counterpart for this loss, or is not installed."""


def defaults(case: Case, kwargs: dict) -> dict:
    """fastloss's default hyper-parameters for the case, updated by the case's kwargs."""
    params = inspect.signature(case.spec.fn).parameters
    out = {k: p.default for k, p in params.items()
           if p.kind is inspect.Parameter.KEYWORD_ONLY and k not in ("reduction", "sample_weight")}
    out.update(kwargs)
    return out


# ---- NumPy reference -----------------------------------------------------------------------

# The float64 reference is timed on at most this many elements of its first array (the leading
# elements or rows), its times scaled to the full size: its passes are linear in the rows, and
# on the full 2^24-element and 4096 x 32000 rows it alone would take the default run past 10
# minutes (seconds per call, most of them the kernel zeroing fresh pages).
NUMPY_MAX_ELEMENTS = 1 << 21


def _leading(args, kwargs, k: int, n: int):
    """args and kwargs with every array of n or n + 1 leading entries (the case's rows or
    elements; the GAN discriminator's fake has one more) cut to its first k."""
    def cut(a):
        return a[:k] if isinstance(a, np.ndarray) and a.ndim and a.shape[0] in (n, n + 1) else a
    return [cut(a) for a in args], {key: cut(v) for key, v in kwargs.items()}


def numpy_peer(case: Case, args, kwargs):
    """(value, grad, how, scale): timed separately, summed per run for the fused time, each run
    multiplied by `scale` (the full size over the timed slice's)."""
    ref, ref_grad = case.spec.reference, case.spec.reference_grad
    how = f"fastloss.reference.{case.loss} + {case.loss}_grad (float64 NumPy)"
    first = args[0]
    n = first.shape[0] if first.ndim else 1
    per_row = first.size // n if n else 1
    k = max(1, NUMPY_MAX_ELEMENTS // max(per_row, 1))
    scale = 1.0
    if first.size > NUMPY_MAX_ELEMENTS and k < n:
        args, kwargs = _leading(args, kwargs, k, n)
        scale = n / k
        how += f", timed on the first {k} of {n} {'rows' if first.ndim > 1 else 'elements'} x {scale:g}"
    return (lambda: ref(*args, **kwargs)), (lambda: ref_grad(*args, **kwargs)), how, scale


# ---- PyTorch -------------------------------------------------------------------------------

def _torch_loss(case: Case, kw: dict):
    """(loss(x, target) -> scalar tensor, how)."""
    import torch
    import torch.nn.functional as F

    name = case.loss
    if name == "mse":
        return F.mse_loss, "F.mse_loss"
    if name == "mae":
        return F.l1_loss, "F.l1_loss"
    if name == "huber":
        d = kw["delta"]
        return (lambda x, y: F.huber_loss(x, y, delta=d)), f"F.huber_loss(delta={d})"
    if name == "smooth_l1":
        b = kw["beta"]
        return (lambda x, y: F.smooth_l1_loss(x, y, beta=b)), f"F.smooth_l1_loss(beta={b})"
    if name == "binary_cross_entropy":
        return F.binary_cross_entropy, "F.binary_cross_entropy"
    if name == "binary_cross_entropy_with_logits":
        return F.binary_cross_entropy_with_logits, "F.binary_cross_entropy_with_logits"
    if name == "cross_entropy":
        ig = kw["ignore_index"]
        return (lambda x, t: F.cross_entropy(x, t, ignore_index=ig)), "F.cross_entropy"
    if name == "multiclass_hinge":
        m = kw["margin"]
        return ((lambda x, t: F.multi_margin_loss(x, t, margin=m)),
                "F.multi_margin_loss (divides by C; same work)")
    if name == "nll":
        ig = kw["ignore_index"]
        return (lambda x, t: F.nll_loss(x, t, ignore_index=ig)), "F.nll_loss"
    if name == "multilabel_soft_margin":
        return F.multilabel_soft_margin_loss, "F.multilabel_soft_margin_loss"
    if name == "multilabel_margin":
        return F.multilabel_margin_loss, "F.multilabel_margin_loss"
    if name == "quantile":
        tau = kw["tau"]

        def quantile(x, y):
            u = y - x
            return torch.maximum(tau * u, (tau - 1) * u).mean()
        return quantile, "composed: maximum(tau*u, (tau-1)*u).mean()"
    if name == "log_cosh":
        return ((lambda x, y: torch.log(torch.cosh(x - y)).mean()),
                "composed: log(cosh(x - y)).mean()")
    if name == "hinge":
        return ((lambda x, y: torch.clamp(1 - y * x, min=0).mean()),
                "composed: clamp(1 - y*f, min=0).mean()")
    if name == "squared_hinge":
        return ((lambda x, y: torch.clamp(1 - y * x, min=0).pow(2).mean()),
                "composed: clamp(1 - y*f, min=0).pow(2).mean()")
    if name == "sigmoid_focal":
        alpha, gamma = kw["alpha"], kw["gamma"]

        def sigmoid_focal(x, y):  # torchvision.ops.sigmoid_focal_loss, then .mean()
            p = torch.sigmoid(x)
            ce = F.binary_cross_entropy_with_logits(x, y, reduction="none")
            p_t = p * y + (1 - p) * (1 - y)
            loss = ce * ((1 - p_t) ** gamma)
            if alpha is not None and alpha >= 0:
                loss = (alpha * y + (1 - alpha) * (1 - y)) * loss
            return loss.mean()
        return sigmoid_focal, "composed: torchvision sigmoid_focal_loss formula"
    if name == "softmax_focal":
        alpha, gamma, ig = kw["alpha"], kw["gamma"], kw["ignore_index"]
        if alpha is not None:
            raise Unavailable("softmax_focal with alpha is not composed for torch")

        def softmax_focal(x, t):
            logp = F.log_softmax(x, dim=-1)
            keep = t != ig
            safe = torch.where(keep, t, torch.zeros_like(t))
            logpt = logp.gather(-1, safe.unsqueeze(-1)).squeeze(-1)
            loss = -((1 - logpt.exp()) ** gamma) * logpt
            return (loss * keep).sum() / keep.sum()
        return softmax_focal, "composed: log_softmax, gather, (1-p)^g"
    if name == "kl_divergence":
        T = kw["temperature"]

        def kl_divergence(x, y):
            return F.kl_div(F.log_softmax(y / T, -1), F.log_softmax(x / T, -1),
                            reduction="batchmean", log_target=True)
        return kl_divergence, "composed: log_softmax x2, F.kl_div(batchmean, log_target)"
    if name == "js_divergence":
        b, T = kw["beta"], kw["temperature"]

        def js_divergence(x, y):
            p, q = F.softmax(x / T, -1), F.softmax(y / T, -1)
            log_m = torch.log(b * p + (1 - b) * q)
            return (b * F.kl_div(log_m, p, reduction="batchmean")
                    + (1 - b) * F.kl_div(log_m, q, reduction="batchmean"))
        return js_divergence, "composed: softmax x2, log(mixture), F.kl_div x2"
    if name == "distillation":
        T, a, b, ig = kw["temperature"], kw["alpha"], kw["beta"], kw["ignore_index"]
        c = b * T * T if kw["t2_scale"] else b
        labels = None if kw.get("labels") is None else torch.from_numpy(kw["labels"])

        def distillation(x, y):
            soft = F.kl_div(F.log_softmax(x / T, -1), F.log_softmax(y / T, -1),
                            reduction="none", log_target=True).sum(-1)
            if labels is None:
                return c * soft.mean()
            keep = labels != ig
            hard = F.cross_entropy(x, labels, ignore_index=ig, reduction="none")
            return ((a * hard + c * soft) * keep).sum() / keep.sum()
        return distillation, "composed: F.cross_entropy + T^2 F.kl_div(log_softmax x2)"
    if name == "hinge_embedding":
        m = kw["margin"]
        return ((lambda x, y: F.hinge_embedding_loss(x, y, margin=m)),
                f"F.hinge_embedding_loss(margin={m})")
    if name == "margin_ranking":
        m = kw["margin"]
        return ((lambda a, b, y: F.margin_ranking_loss(a, b, y, margin=m)),
                f"F.margin_ranking_loss(margin={m})")
    if name == "gan_discriminator" and kw["kind"] == "bce":
        b = kw["real_label"]

        def gan_discriminator(r, f):  # torchgan's minimax discriminator loss
            return (F.binary_cross_entropy_with_logits(r, torch.full_like(r, b))
                    + F.binary_cross_entropy_with_logits(f, torch.zeros_like(f)))
        return gan_discriminator, "composed: F.binary_cross_entropy_with_logits x2 (torchgan)"
    if name == "gan_generator" and kw["kind"] == "bce":
        return ((lambda f: F.binary_cross_entropy_with_logits(f, torch.ones_like(f))),
                "composed: F.binary_cross_entropy_with_logits(f, 1) (torchgan non-saturating)")
    if name == "cosine_embedding":
        m = kw["margin"]
        target = torch.from_numpy(np.asarray(kw["target"]))
        return ((lambda x1, x2: F.cosine_embedding_loss(x1, x2, target, margin=m)),
                f"F.cosine_embedding_loss(margin={m})")
    if name == "contrastive":
        m = kw["margin"]
        similar = torch.from_numpy(np.asarray(kw["similar"]))

        def contrastive(x1, x2):
            y = similar.to(x1.dtype)
            d = (x1 - x2).norm(dim=-1)
            return (0.5 * (y * d ** 2 + (1 - y) * torch.clamp(m - d, min=0) ** 2)).mean()
        return contrastive, "composed: norm, clamp, squares, mean"
    if name == "triplet":
        m, p, e, sw = kw["margin"], kw["p"], kw["eps"], kw["swap"]
        return ((lambda a, pos, neg: F.triplet_margin_loss(a, pos, neg, margin=m, p=p, eps=e,
                                                           swap=sw)),
                f"F.triplet_margin_loss (pairwise_distance x{3 if sw else 2}, clamp, mean)")
    if name in torch_forms.IN_BATCH:
        return torch_forms.in_batch(name, kw)
    if name in torch_forms.RANKING:
        return torch_forms.ranking(name, kw)
    raise Unavailable(f"no torch counterpart written for {name}")


def grad_positions(case: Case) -> tuple:
    """The array arguments the fused pass differentiates: both of a pair loss (the GAN
    discriminator's real and fake), the features and the centres of the center loss (a training
    step learns both; the labels between them have no gradient), else the first."""
    if case.kind == "pair":
        return (0, 1)
    if case.loss == "center":
        return (0, 2)
    return (0,)


def torch_peer(case: Case, args, kwargs):
    """(forward, fused, how) for PyTorch CPU."""
    try:
        import torch
    except ImportError as e:
        raise Unavailable(f"torch not importable: {e}") from e
    loss, how = _torch_loss(case, defaults(case, kwargs))
    # the array arguments: (x, target), (x1, x2, y) of margin_ranking, an embedding loss's two
    # or three embeddings, (real, fake) or (fake,) of the GAN losses
    tensors = [torch.from_numpy(a) for a in args if isinstance(a, np.ndarray)]
    positions = grad_positions(case)
    leaves = [t.detach().requires_grad_(True) if i in positions else t
              for i, t in enumerate(tensors)]

    def forward():
        with torch.no_grad():
            return loss(*tensors)

    def fused():
        for i in positions:
            leaves[i].grad = None
        value = loss(*leaves)
        value.backward()
        return value, leaves[0].grad

    return forward, fused, how


# ---- JAX -----------------------------------------------------------------------------------

def _jax_loss(case: Case, kw: dict):
    import jax
    import jax.numpy as jnp

    name = case.loss
    if name == "mse":
        return lambda x, y: jnp.mean((x - y) ** 2)
    if name == "mae":
        return lambda x, y: jnp.mean(jnp.abs(x - y))
    if name in ("huber", "smooth_l1"):
        d = kw["delta"] if name == "huber" else kw["beta"]

        def huber(x, y):  # optax.huber_loss; smooth_l1 = huber / beta
            e = x - y
            a = jnp.abs(e)
            q = jnp.minimum(a, d)
            loss = 0.5 * q * q + d * (a - q)
            return jnp.mean(loss / d if name == "smooth_l1" else loss)
        return huber
    if name == "quantile":
        tau = kw["tau"]
        return lambda x, y: jnp.mean(jnp.maximum(tau * (y - x), (tau - 1) * (y - x)))
    if name == "log_cosh":
        return lambda x, y: jnp.mean(jnp.logaddexp(x - y, y - x) - LOG2)  # optax.log_cosh
    if name == "binary_cross_entropy":
        return lambda p, y: -jnp.mean(y * jnp.maximum(jnp.log(p), -100.0)
                                      + (1 - y) * jnp.maximum(jnp.log1p(-p), -100.0))
    if name == "binary_cross_entropy_with_logits":
        # optax.sigmoid_binary_cross_entropy
        return lambda x, y: jnp.mean(-(y * jax.nn.log_sigmoid(x) + (1 - y) * jax.nn.log_sigmoid(-x)))
    if name == "hinge":
        return lambda x, y: jnp.mean(jnp.maximum(0.0, 1.0 - y * x))
    if name == "squared_hinge":
        return lambda x, y: jnp.mean(jnp.maximum(0.0, 1.0 - y * x) ** 2)
    if name == "sigmoid_focal":
        alpha, gamma = kw["alpha"], kw["gamma"]

        def sigmoid_focal(x, y):  # optax.sigmoid_focal_loss
            p = jax.nn.sigmoid(x)
            ce = -(y * jax.nn.log_sigmoid(x) + (1 - y) * jax.nn.log_sigmoid(-x))
            p_t = p * y + (1 - p) * (1 - y)
            loss = ce * (1 - p_t) ** gamma
            if alpha is not None and alpha >= 0:
                loss = (alpha * y + (1 - alpha) * (1 - y)) * loss
            return jnp.mean(loss)
        return sigmoid_focal
    if name in ("cross_entropy", "softmax_focal"):
        ig, gamma = kw["ignore_index"], kw.get("gamma", 0.0)
        if name == "softmax_focal" and kw["alpha"] is not None:
            raise Unavailable("softmax_focal with alpha is not composed for jax")

        def ce(x, t):
            logp = jax.nn.log_softmax(x, axis=-1)
            keep = t != ig
            safe = jnp.where(keep, t, 0)
            logpt = jnp.take_along_axis(logp, safe[..., None], axis=-1)[..., 0]
            loss = -logpt if name == "cross_entropy" else -((1 - jnp.exp(logpt)) ** gamma) * logpt
            return jnp.sum(jnp.where(keep, loss, 0.0)) / jnp.sum(keep)
        return ce
    if name == "multiclass_hinge":
        m = kw["margin"]

        def multiclass_hinge(x, t):
            xt = jnp.take_along_axis(x, t[..., None], axis=-1)
            h = jnp.maximum(0.0, m + x - xt)
            h = jnp.where(jnp.arange(x.shape[-1]) == t[..., None], 0.0, h)
            return jnp.mean(jnp.sum(h, axis=-1))
        return multiclass_hinge
    if name == "margin_ranking":
        m = kw["margin"]
        return lambda a, b, y: jnp.mean(jnp.maximum(0.0, m - y * (a - b)))
    if name == "hinge_embedding":
        m = kw["margin"]
        return lambda x, y: jnp.mean(jnp.where(y != 1, jnp.maximum(0.0, m - x), 0.0)
                                     + jnp.where(y != -1, x, 0.0))
    if name in ("kl_divergence", "js_divergence", "distillation"):
        return jax_forms.divergence(name, kw)
    if name in ("contrastive", "cosine_embedding", "triplet"):
        return jax_forms.embedding(name, kw)
    if name == "info_nce":
        return jax_forms.info_nce(kw)
    if name in ("listnet", "listmle"):
        return jax_forms.listwise(name)
    if name == "structured_hinge":
        return jax_forms.structured_hinge(kw)
    if name == "center":
        return jax_forms.center
    if name == "gan_discriminator" and kw["kind"] == "bce":
        b = kw["real_label"]
        return lambda r, f: (jnp.mean(b * jax.nn.softplus(-r) + (1 - b) * jax.nn.softplus(r))
                             + jnp.mean(jax.nn.softplus(f)))
    if name == "gan_generator" and kw["kind"] == "bce":
        return lambda f: jnp.mean(jax.nn.softplus(-f))
    raise Unavailable(f"no jax counterpart written for {name}")


def jax_peer(case: Case, args, kwargs):
    try:
        import jax
    except ImportError as e:
        raise Unavailable(f"jax not importable: {e}") from e
    f = _jax_loss(case, defaults(case, kwargs))
    arrays = [jax.device_put(a) for a in args]
    fwd = jax.jit(f)
    vg = jax.jit(jax.value_and_grad(f, argnums=grad_positions(case)))

    def forward():
        return jax.block_until_ready(fwd(*arrays))

    def fused():
        return jax.block_until_ready(vg(*arrays))

    return forward, fused, "jax.jit(jax.value_and_grad(f)), f in jax.numpy (optax forms)"


def versions() -> dict:
    out = {"numpy": np.__version__}
    for mod in ("torch", "jax", "jaxlib", "matplotlib"):
        try:
            out[mod] = __import__(mod).__version__
        except Exception:  # not installed or broken: recorded as absent
            out[mod] = None
    return out
