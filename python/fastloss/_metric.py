"""Metric-learning losses (the lecture's "Metric Learning Losses").

``contrastive``, ``cosine_embedding`` and ``triplet`` take rows of D features along the last axis of two or three
embedding arrays of one shape and dtype, one loss per row (the embedding driver, ``cpp/src/cpu/
embedding.cc``). Every embedding array is differentiable (``argnums`` any of its positions);
a row label (contrastive's ``similar``, cosine_embedding's ``target``) is not. ``reduction`` is ``"mean"`` (over rows),
``"sum"`` or ``"none"`` (the row shape: the arrays' shape without the feature axis);
``sample_weight`` broadcasts to the row shape and ``mean = sum(s l) / sum(s)``.

``hinge_embedding`` is PyTorch's ``hinge_embedding_loss`` on precomputed distances: a pointwise
kernel with the similar/dissimilar labels as its target; ``reduction`` and ``sample_weight``
work as in :mod:`fastloss._regression`.
"""

from __future__ import annotations

import numpy as np

from ._arrays import any_array
from . import _samplers as S
from ._dispatch import float_input, pointwise
from ._dispatch_embedding import embedding
from ._registry import LossSpec, register
from ._small_call import small_call
from ._validate import fail, real_scalar

__all__ = ["contrastive", "cosine_embedding", "hinge_embedding", "triplet"]


def _margin(fn: str, margin) -> float:
    m = real_scalar(fn, "margin", margin)
    if not (m >= 0 and np.isfinite(m)):
        fail(fn, f"margin must be a finite number >= 0, got {margin!r}")
    return m


@any_array
def contrastive(x1, x2, similar, *, margin=1.0, reduction="mean", sample_weight=None):
    r"""Contrastive loss of pairs of embeddings: pull similar pairs together, push dissimilar
    ones at least ``margin`` apart.

    .. math:: \ell_i = \tfrac12\big[y_i d_i^2 + (1 - y_i)\max(0, m - d_i)^2\big], \qquad
       d_i = \lVert x_{1,i} - x_{2,i} \rVert_2

    per row of the last axis (the features), with :math:`y_i = 1` for a similar pair and 0
    for a dissimilar one (the lecture's form). Gradients:
    :math:`\partial\ell/\partial x_1 = c\,(x_1 - x_2) = -\partial\ell/\partial x_2` with
    :math:`c = y - (1 - y)\max(0, m - d)/d`. The distance is exact (no eps): at :math:`d = 0`
    (coincident embeddings) the hinge term's gradient is taken as 0, a subgradient, never NaN.

    Conventions differ: Hadsell, Chopra and LeCun's paper writes :math:`Y = 0` for *similar*
    pairs (the opposite polarity: pass ``1 - y``), and pytorch-metric-learning's
    ``ContrastiveLoss`` uses unsquared, unhalved terms :math:`d` and :math:`\max(0, m - d)`.

    Edge cases: a dissimilar pair at an infinite distance gives 0 with gradient 0, a similar
    one +inf; NaN in a row makes its loss NaN, and every gradient entry of a dissimilar pair
    (of a similar pair, whose gradient is :math:`\pm(x_1 - x_2)`, the NaN coordinates).

    Args:
      x1: float32/float64 embeddings of shape ``(..., D)``.
      x2: embeddings of the shape and dtype of ``x1``.
      similar: labels of the row shape ``x1.shape[:-1]``, any real dtype, each 0 or 1
        (1 = similar); anything else is a ``ValueError``.
      margin: m >= 0 (default 1.0).

    >>> import numpy as np, fastloss
    >>> x1, x2 = np.array([[0.0, 0.0], [0.0, 0.0]]), np.array([[0.3, 0.4], [0.3, 0.4]])
    >>> fastloss.contrastive(x1, x2, np.array([1, 0]), reduction="none").round(12).tolist()
    [0.125, 0.125]

    Reference: R. Hadsell, S. Chopra and Y. LeCun, "Dimensionality Reduction by Learning an
    Invariant Mapping", 2006.
    """
    fn = "contrastive"
    x = float_input(fn, "x1", x1)
    m = _margin(fn, margin)
    return embedding(fn, "contrastive", (x, x2), names=("x1", "x2"), label=similar,
                     label_name="similar", label_rule="0 or 1", params=(m,),
                     reduction=reduction, sample_weight=sample_weight)


@any_array
def triplet(anchor, positive, negative, *, margin=1.0, p=2.0, eps=1e-6, swap=False,
            reduction="mean", sample_weight=None):
    r"""Triplet margin loss: an anchor closer to its positive than to its negative by a margin.

    .. math:: \ell_i = \max\big(0,\; m + d(a_i, p_i) - d(a_i, n_i)\big), \qquad
       d(x, y) = \lVert x - y + \epsilon \rVert_p

    per row of the last axis (the features): the values of
    ``torch.nn.functional.triplet_margin_loss`` for the same arguments, including PyTorch's
    ``eps`` added to every coordinate difference (so :math:`d(x, x) = \epsilon D^{1/p}`, and
    :math:`d` is not symmetric). With ``swap`` (the distance swap of Balntas et al.) the
    negative distance is :math:`\min(d(a, n), d(p, n))`, the positive-negative one taken when
    strictly smaller. Gradients, with :math:`u` the p-norm's gradient at each difference:
    :math:`\partial\ell/\partial a = u_{ap} - u_{an}`, :math:`\partial\ell/\partial p = -u_{ap}`,
    :math:`\partial\ell/\partial n = u_{an}` where the hinge is active (swapped:
    :math:`u_{ap}`, :math:`-u_{ap} - u_{pn}`, :math:`u_{pn}`); 0 at the hinge's kink and below
    (PyTorch's clamp passes the gradient at the kink itself), and :math:`u = 0` at a zero
    difference (a subgradient): never NaN. p = 2 and p = 1 run without ``pow``.

    Edge cases: NaN in a row propagates to its loss and gradients; an infinite coordinate gives
    an infinite (or NaN) distance, and NaN gradients where the hinge is active.

    Args:
      anchor: float32/float64 embeddings of shape ``(..., D)``.
      positive: embeddings of the shape and dtype of ``anchor``.
      negative: embeddings of the shape and dtype of ``anchor``.
      margin: m >= 0 (default 1.0).
      p: the norm's degree, finite and >= 1 (default 2.0).
      eps: added to every coordinate difference (default 1e-6), finite.
      swap: use :math:`\min(d(a, n), d(p, n))` as the negative distance; off by default.

    >>> import numpy as np, fastloss
    >>> a, p, n = np.zeros((1, 2)), np.array([[0.3, 0.4]]), np.array([[0.6, 0.8]])
    >>> round(float(fastloss.triplet(a, p, n, eps=0.0)), 12)
    0.5

    Reference: F. Schroff, D. Kalenichenko and J. Philbin, "FaceNet: A Unified Embedding for
    Face Recognition and Clustering", 2015; V. Balntas et al., "Learning local feature
    descriptors with triplets and shallow convolutional neural networks", 2016 (the swap).
    """
    fn = "triplet"
    x = float_input(fn, "anchor", anchor)
    m = _margin(fn, margin)
    power = real_scalar(fn, "p", p)
    if not (power >= 1 and np.isfinite(power)):
        fail(fn, f"p must be a finite number >= 1, got {p!r}")
    e = real_scalar(fn, "eps", eps)
    if not np.isfinite(e):
        fail(fn, f"eps must be finite, got {eps!r}")
    if not isinstance(swap, (bool, np.bool_)):
        fail(fn, f"swap must be a bool, got {swap!r}", TypeError)
    return embedding(fn, "triplet", (x, positive, negative),
                     names=("anchor", "positive", "negative"),
                     params=(m, power, e, float(bool(swap))), reduction=reduction,
                     sample_weight=sample_weight)


@any_array
def cosine_embedding(x1, x2, target, *, margin=0.0, reduction="mean", sample_weight=None):
    r"""Cosine embedding loss of pairs of embeddings: similar pairs toward cosine 1, dissimilar
    ones below the cosine ``margin``.

    .. math:: \ell_i = \begin{cases} 1 - \cos_i & y_i = 1 \\ \max(0,\ \cos_i - m) & y_i = -1
       \end{cases}, \qquad \cos_i = \frac{\langle x_{1,i}, x_{2,i} \rangle}
       {\sqrt{(\lVert x_{1,i} \rVert^2 + \epsilon)(\lVert x_{2,i} \rVert^2 + \epsilon)}}

    per row of the last axis (the features), :math:`\epsilon = 10^{-12}`: the values of
    ``torch.nn.functional.cosine_embedding_loss``, whose :math:`\epsilon` keeps a zero
    embedding finite (its cosine is 0). Gradients:
    :math:`\partial\cos/\partial x_1 = (x_2 - \tfrac{\langle x_1, x_2\rangle}
    {\lVert x_1\rVert^2 + \epsilon} x_1) / \sqrt{\cdot}`, and symmetrically for
    :math:`x_2`; the subgradient at the hinge's kink (:math:`\cos = m` exactly) is 0, as
    fastloss's other hinges. The sums are taken in float64, so float64 inputs past ~1e154
    overflow them (NaN, as PyTorch's). NaN or inf in a row makes its loss and gradient NaN.

    Deviation from PyTorch: a label other than 1 or -1 is a ``ValueError`` (PyTorch gives such
    a row 0, so 0/1 labels silently drop every dissimilar pair).

    Args:
      x1: float32/float64 embeddings of shape ``(..., D)``.
      x2: embeddings of the shape and dtype of ``x1``.
      target: labels of the row shape ``x1.shape[:-1]``, any real dtype, each 1 (similar) or
        -1 (dissimilar).
      margin: m, a finite cosine (default 0.0, as PyTorch, which suggests 0 to 0.5).

    >>> import numpy as np, fastloss
    >>> x1, x2 = np.array([[1.0, 0.0], [1.0, 0.0]]), np.array([[0.6, 0.8], [0.6, 0.8]])
    >>> fastloss.cosine_embedding(x1, x2, np.array([1, -1]), reduction="none").round(9).tolist()
    [0.4, 0.6]
    """
    fn = "cosine_embedding"
    x = float_input(fn, "x1", x1)
    m = real_scalar(fn, "margin", margin)
    if not np.isfinite(m):
        fail(fn, f"margin must be finite, got {margin!r}")
    return embedding(fn, fn, (x, x2), names=("x1", "x2"), label=target, label_name="target",
                     label_rule="1 or -1", params=(m,), reduction=reduction,
                     sample_weight=sample_weight)


@small_call("hinge_embedding", "margin")
@any_array
def hinge_embedding(input, target, *, margin=1.0, reduction="mean", sample_weight=None):
    r"""Hinge embedding loss: pull similar pairs together, push dissimilar ones past a margin.

    .. math:: \ell = \begin{cases} x & y = 1 \\ \max(0,\ m - x) & y = -1 \end{cases}, \qquad
       \partial\ell/\partial x = 1\ (y = 1),\ -[m - x > 0]\ (y = -1)

    As ``torch.nn.functional.hinge_embedding_loss``: ``input`` is usually the distance of a pair
    of embeddings (PyTorch's docs suggest the L1 pairwise distance) and ``target`` says whether
    the pair is similar (1) or dissimilar (-1); for any other label both terms count, as in
    PyTorch's formula. The subgradient at the kink (:math:`m - x = 0` exactly) is 0, as
    fastloss's other hinges, where PyTorch's clamp passes -1. NaN propagates to the loss and
    the gradient.

    Args:
      input: float32/float64 distances or scores :math:`x` (the only differentiable array).
      target: labels :math:`y`, 1 or -1, of the input's shape (any real or integer dtype).
      margin: :math:`m` (default 1.0, as PyTorch; any finite number).

    >>> import numpy as np, fastloss
    >>> d, y = np.array([0.3, 0.3, 1.5]), np.array([1, -1, -1])
    >>> fastloss.hinge_embedding(d, y, reduction="none").tolist()
    [0.3, 0.7, 0.0]
    """
    fn = "hinge_embedding"
    m = real_scalar(fn, "margin", margin)
    x = float_input(fn, "input", input)
    return pointwise(fn, fn, x, target, x_name="input", labels=True, params=(m,),
                     reduction=reduction, sample_weight=sample_weight)


def _pair_sample(rng, shape, dtype):
    """Pairs at distances around the default margin (x2 = x1 + noise of scale 1/sqrt(D)) and
    half of them similar; labels as int64 (any real dtype is accepted)."""
    x1 = rng.normal(0.0, 1.0, shape)
    d = shape[-1] if shape else 1
    x2 = x1 + rng.normal(0.0, 1.0 / np.sqrt(max(d, 1)), shape)
    similar = rng.integers(0, 2, shape[:-1]).astype(np.int64)
    return (x1.astype(dtype), x2.astype(dtype)), {"similar": similar}


def _contrastive_kinks(args, kwargs):
    """Dissimilar pairs: the hinge's end at d = m and the distance's cone at d = 0."""
    x1, x2 = (np.asarray(a, np.float64) for a in args[:2])
    d = np.sqrt(np.sum((x1 - x2) ** 2, axis=-1))
    similar = np.asarray(kwargs["similar"]) == 1
    return np.where(similar, np.inf, np.minimum(np.abs(d - kwargs["margin"]), d))


def _cosine_sample(rng, shape, dtype):
    """Pairs at every angle (x2 = x1 + noise of x1's scale), labels 1 or -1 as int64."""
    x1 = rng.normal(0.0, 1.0, shape)
    x2 = x1 + rng.normal(0.0, 1.0, shape)
    target = rng.integers(0, 2, shape[:-1]).astype(np.int64) * 2 - 1
    return (x1.astype(dtype), x2.astype(dtype)), {"target": target}


def _cosine_kinks(args, kwargs):
    """Dissimilar pairs: the hinge's end at cos = m (a similar pair's loss is smooth)."""
    x1, x2 = (np.asarray(a, np.float64) for a in args[:2])
    n = np.sqrt((np.sum(x1 * x1, axis=-1) + 1e-12) * (np.sum(x2 * x2, axis=-1) + 1e-12))
    cos = np.sum(x1 * x2, axis=-1) / n
    return np.where(np.asarray(kwargs["target"]) == 1, np.inf, np.abs(cos - kwargs["margin"]))


def _triplet_sample(rng, shape, dtype):
    """Triplets with d(a, p) about half of d(a, n) (the hinge active in most rows at the
    default margin, not in all)."""
    a = rng.normal(0.0, 1.0, shape)
    d = shape[-1] if shape else 1
    scale = 1.0 / np.sqrt(max(d, 1))
    pos = a + rng.normal(0.0, 0.6 * scale, shape)
    neg = a + rng.normal(0.0, 1.2 * scale, shape)
    return tuple(x.astype(dtype) for x in (a, pos, neg)), {}


def _triplet_kinks(args, kwargs):
    """The hinge's kink (margin + d_ap - d_neg = 0), the swap's tie d(p, n) = d(a, n), and for
    p < 2 a zero coordinate of an active difference (|v|^p is not twice differentiable there)."""
    a, pos, neg = (np.asarray(x, np.float64) for x in args[:3])
    p, eps = kwargs["p"], kwargs["eps"]
    v = {"ap": a - pos + eps, "an": a - neg + eps, "pn": pos - neg + eps}
    d = {k: np.sum(np.abs(x) ** p, axis=-1) ** (1 / p) for k, x in v.items()}
    swap = bool(kwargs["swap"])
    d_neg = np.minimum(d["an"], d["pn"]) if swap else d["an"]
    out = np.abs(kwargs["margin"] + d["ap"] - d_neg)
    if swap:
        out = np.minimum(out, np.abs(d["an"] - d["pn"]))
    if p < 2:
        for x in v.values():
            out = np.minimum(out, np.min(np.abs(x), axis=-1))
    return out


register(LossSpec("contrastive", "metric", "embedding", contrastive, _pair_sample,
                  variants=({}, {"margin": 0.0}, {"margin": 2.5}),
                  differentiable=("x1", "x2"), kinks=_contrastive_kinks, growth="quadratic"))
register(LossSpec("triplet", "metric", "embedding", triplet, _triplet_sample,
                  variants=({}, {"p": 1.0}, {"p": 3.0, "swap": True},
                            {"margin": 0.5, "eps": 0.0, "swap": True}),
                  differentiable=("anchor", "positive", "negative"), kinks=_triplet_kinks))
register(LossSpec("cosine_embedding", "metric", "embedding", cosine_embedding, _cosine_sample,
                  variants=({}, {"margin": 0.5}, {"margin": -0.3}),
                  differentiable=("x1", "x2"), kinks=_cosine_kinks))
register(LossSpec("hinge_embedding", "metric", "pointwise", hinge_embedding,
                  S.distances_and_pair_labels,
                  variants=({}, {"margin": 0.5}, {"margin": 2.0}),
                  differentiable=("input",), kinks=S.hinge_embedding_kinks, convex=True,
                  # x itself where y = 1: negative for a negative input (a distance is not)
                  nonnegative=False))
