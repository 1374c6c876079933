"""In-batch losses: every row's loss depends on the whole batch (the kernel table's ``FL_BATCH``
lines, one driver each: ``cpp/src/cpu/info_nce.cc``).

``info_nce`` takes two ``(N, D)`` arrays of one dtype; both are differentiable (``argnums`` 0 and
1). ``reduction`` is ``"mean"`` (over the N rows), ``"sum"`` or ``"none"`` (one loss per row);
``sample_weight`` has one weight per row and ``mean = sum(s l) / sum(s)``.
"""

from __future__ import annotations

import math

import numpy as np

from ._arrays import any_array
from ._dispatch import float_input
from ._dispatch_embedding import embedding
from ._registry import LossSpec, register
from ._validate import fail, real_scalar

__all__ = ["info_nce"]


@any_array
def info_nce(query, key, *, temperature=0.07, symmetric=False, reduction="mean",
             sample_weight=None):
    r"""InfoNCE (NT-Xent) over a batch of pairs: row i's positive is key i, and every other key
    of the batch is one of its negatives.

    .. math:: Z = \frac{Q K^\top}{t}, \qquad
       \ell_i = \log\sum_j e^{Z_{ij}} - Z_{ii}

    the cross-entropy of query i's softmax over the keys with target i. ``symmetric=True``
    averages both directions, as CLIP:
    :math:`\ell_i = \tfrac12[(\log\sum_j e^{Z_{ij}} - Z_{ii}) + (\log\sum_j e^{Z_{ji}} - Z_{ii})]`.
    Gradients: with :math:`g_i` the upstream gradient of row i (times its weight and the mean's
    factor), :math:`\partial L/\partial Z = \mathrm{diag}(g)(\mathrm{softmax}_\text{rows}(Z) - I)`
    (symmetric: the mean of that and :math:`(\mathrm{softmax}_\text{columns}(Z) - I)\,\mathrm{diag}(g)`),
    :math:`\partial L/\partial Q = \partial L/\partial Z\,K/t` and
    :math:`\partial L/\partial K = (\partial L/\partial Z)^\top Q/t`.

    The kernel never holds Z: it computes the logits in strips of 128 queries against all keys
    (a matrix product), each strip's log-sum-exp exactly, the derivative in place, and both
    gradients from it, like a flash-attention forward and backward; the extra memory is
    O(N x 128). Dot products accumulate in the input's dtype (as a BLAS would), the softmax
    sums in float64. Pass L2-normalised embeddings for the cosine similarity of SimCLR and CLIP.

    Edge cases: the logits follow IEEE arithmetic. A NaN in a key is in every query's softmax,
    so every row's loss is NaN; a NaN in a query makes its own row's loss NaN (every row's when
    symmetric). An infinite entry, or a logit beyond the dtype's range (|q.k| / t overflowing),
    gives logits of +-inf or NaN: a -inf logit drops out of its softmax, a +inf or NaN one makes
    the rows it is in NaN. Gradients are NaN wherever they sum over a NaN. N = 1 gives loss 0
    and zero gradients.

    Args:
      query: float32/float64 embeddings of shape ``(N, D)``.
      key: embeddings of the shape and dtype of ``query``; row i is query i's positive.
      temperature: t > 0 (default 0.07, as MoCo and CLIP's initial value).
      symmetric: ``True`` averages the query-to-key and key-to-query losses (CLIP); off by
        default.

    >>> import numpy as np, fastloss
    >>> q = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> round(float(fastloss.info_nce(q, q, temperature=1.0)), 12)
    0.313261687518

    Reference: A. van den Oord, Y. Li and O. Vinyals, "Representation Learning with Contrastive
    Predictive Coding", 2018; T. Chen et al., "A Simple Framework for Contrastive Learning of
    Visual Representations" (SimCLR), 2020; A. Radford et al., "Learning Transferable Visual
    Models From Natural Language Supervision" (CLIP), 2021.
    """
    fn = "info_nce"
    q = float_input(fn, "query", query)
    if q.ndim != 2:
        fail(fn, f"query must be an (N, D) array, got shape {q.shape}")
    t = real_scalar(fn, "temperature", temperature)
    if not (t > 0 and math.isfinite(t)):
        fail(fn, f"temperature must be a finite number > 0, got {temperature!r}")
    if not isinstance(symmetric, (bool, np.bool_)):
        fail(fn, f"symmetric must be True or False, got {symmetric!r}", TypeError)
    return embedding(fn, "info_nce", (q, key), names=("query", "key"),
                     params=(t, float(bool(symmetric))), reduction=reduction,
                     sample_weight=sample_weight)


def _pair_batch(rng, shape, dtype):
    """N unit-norm queries and keys near them (cosine about 0.8): at the default temperature
    the positives dominate but the negatives still carry weight."""
    # (N, D) arrays only: leading axes of a requested shape become rows, a 1-D shape rows of 4
    n = int(np.prod(shape[:-1])) if len(shape) >= 2 else (shape[0] if shape else 1)
    d = shape[-1] if len(shape) >= 2 else 4
    q = rng.normal(0.0, 1.0, (n, d))
    k = q + rng.normal(0.0, 0.7, (n, d))
    q /= np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
    k /= np.maximum(np.linalg.norm(k, axis=1, keepdims=True), 1e-12)
    return (q.astype(dtype), k.astype(dtype)), {}


register(LossSpec("info_nce", "metric", "embedding", info_nce, _pair_batch,
                  variants=({}, {"symmetric": True}, {"temperature": 0.5, "symmetric": True},
                            {"temperature": 1.0}),
                  differentiable=("query", "key"),
                  growth="quadratic",  # bilinear in (query, key)
                  convex=True,  # log-sum-exp of linear functions minus a linear one
                  # The logits' dot products accumulate in the input's dtype: an error of about
                  # sqrt(D) ulps of |q||k| / t in each logit, so in each softmax probability;
                  # and a gradient entry sum_j g (p_ij - [i = j]) k_j / t that cancels to about 0
                  # keeps only the absolute accuracy of its terms (abs_floor: terms of |k| / t
                  # up to a few hundred, rounded to the dtype).
                  tolerance={np.dtype(np.float32): {"rtol": 1e-4, "atol": 1e-5, "abs_floor": 1e-4},
                             np.dtype(np.float64): {"rtol": 1e-10, "atol": 1e-11,
                                                    "abs_floor": 1e-12}}))
