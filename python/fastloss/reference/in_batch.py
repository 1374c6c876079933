"""In-batch losses: every row's loss depends on the whole batch.

info_nce (InfoNCE, van den Oord et al. 2018, "Representation Learning with Contrastive Predictive
Coding"; NT-Xent in SimCLR, Chen et al. 2020; the symmetric form of CLIP, Radford et al. 2021):
row i's positive is key i, its negatives the other keys of the batch.
"""

from __future__ import annotations

import math

import numpy as np

from ._argnums import _select
from ._checks import _as_float, _fail, _fmt, _real
from ._reductions import _reduce, _upstream

__all__ = ["info_nce", "info_nce_grad"]


def _logsumexp(z, axis):
    if z.size == 0:  # no rows: no sums (the loss of an empty batch is empty)
        return np.zeros(z.shape[1 - axis])
    top = np.max(z, axis=axis, keepdims=True)
    with np.errstate(invalid="ignore", over="ignore"):
        return np.squeeze(top, axis) + np.log(np.sum(np.exp(z - top), axis=axis))


def _parts(query, key, temperature, symmetric):
    """The logits Z = query key^T / t, each direction's log-sum-exp, and the per-row loss."""
    name = "info_nce"
    t = _real(name, "temperature", temperature)
    if not (t > 0 and math.isfinite(t)):
        _fail(name, f"temperature must be a finite number > 0, got {_fmt(temperature)}")
    q, k = _as_float(query), _as_float(key)
    if q.ndim != 2:
        _fail(name, f"query must be an (N, D) array, got shape {q.shape}")
    if k.shape != q.shape:
        _fail(name, f"key must have the shape of query {q.shape}, got {k.shape}")
    z = q @ k.T / t
    positive = np.diagonal(z)
    row_lse = _logsumexp(z, axis=1)             # over the keys, for each query
    loss = row_lse - positive
    col_lse = None
    if symmetric:
        col_lse = _logsumexp(z, axis=0)         # over the queries, for each key
        loss = 0.5 * (loss + (col_lse - positive))
    return z, row_lse, col_lse, loss, q, k, t


def info_nce(query, key, *, temperature=0.07, symmetric=False, reduction="mean",
             sample_weight=None):
    """InfoNCE over a batch of N (query, key) pairs::

        Z = query key^T / t
        l_i = log sum_j exp(Z_ij) - Z_ii                          (symmetric=False)
        l_i = 1/2 [(log sum_j exp(Z_ij) - Z_ii) + (log sum_j exp(Z_ji) - Z_ii)]   (True)

    the cross-entropy of row i's softmax over the keys with target i (and, symmetric, key i's
    softmax over the queries). mean = sum_i s_i l_i / sum_i s_i.
    """
    _, _, _, loss, _, _, _ = _parts(query, key, temperature, symmetric)
    return _reduce("info_nce", loss, reduction, sample_weight)


def info_nce_grad(query, key, *, grad_output=None, argnums=0, temperature=0.07, symmetric=False,
                  reduction="mean", sample_weight=None):
    """With g_i the upstream gradient of row i's loss (times its weight and the mean's factor):
    dL/dZ = diag(g) (softmax_rows(Z) - I), plus, symmetric, (softmax_columns(Z) - I) diag(g),
    both halved; d/dquery = dL/dZ key / t, d/dkey = dL/dZ^T query / t."""
    name = "info_nce"
    z, row_lse, col_lse, loss, q, k, t = _parts(query, key, temperature, symmetric)
    g = _upstream(name, loss.shape, reduction, sample_weight, grad_output)
    eye = np.eye(len(loss))
    with np.errstate(invalid="ignore", over="ignore"):
        dz = g[:, None] * (np.exp(z - row_lse[:, None]) - eye)
        if symmetric:
            dz = 0.5 * (dz + (np.exp(z - col_lse[None, :]) - eye) * g[None, :])
    return _select(name, ("query", "key"), argnums, {"query": dz @ k / t, "key": dz.T @ q / t})
