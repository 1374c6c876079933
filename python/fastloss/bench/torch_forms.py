"""The PyTorch peers' forms of the losses torch.nn does not have (ranking, structured, center),
composed from torch ops the way a PyTorch user writes them; ``peers.torch_peer`` runs them
forward and through autograd."""

from __future__ import annotations

import numpy as np

RANKING = ("listnet", "listmle", "structured_hinge")


def ranking(name: str, kw: dict):
    """(loss(scores, target) -> scalar tensor, how) for one of ``RANKING``."""
    import torch

    if name == "listnet":
        return ((lambda s, r: -(torch.softmax(r, -1) * torch.log_softmax(s, -1)).sum(-1).mean()),
                "composed: -(softmax(r) * log_softmax(s)).sum(-1).mean()")
    if name == "listmle":
        def listmle(s, r):
            order = torch.sort(r, dim=-1, descending=True, stable=True).indices
            ordered = torch.gather(s, -1, order)
            lse = torch.logcumsumexp(ordered.flip(-1), dim=-1).flip(-1)
            return (lse - ordered).sum(-1).mean()
        return listmle, "composed: sort(r, stable) + gather + logcumsumexp (flipped)"
    assert name == "structured_hinge", name
    slack = kw["rescaling"] == "slack"
    table = None if kw["cost"] is None else torch.from_numpy(np.asarray(kw["cost"]))

    def structured_hinge(s, t):
        # Delta(t, t) = 0: the max over every candidate is the loss, the target's term 0
        delta = (torch.ones_like(s).scatter_(-1, t[:, None], 0.0) if table is None
                 else table.to(s.dtype)[t])
        gap = s - s.gather(-1, t[:, None])
        z = delta * (1 + gap) if slack else delta + gap
        return z.max(-1).values.mean()
    return structured_hinge, ("composed: cost rows (one-hot or table[t]) + gather + max"
                              f"{' (slack)' if slack else ''}")


IN_BATCH = ("info_nce", "center")


def in_batch(name: str, kw: dict):
    """(loss(*arrays) -> scalar tensor, how) for one of ``IN_BATCH``: InfoNCE through the N x N
    logits; the center loss as pytorch-center-loss users write it without its B x C distance
    matrix (each row's centre gathered; the gather's backward an index_add into the centres)."""
    import torch
    import torch.nn.functional as F

    if name == "center":
        return ((lambda x, labels, centers: 0.5 * (x - centers[labels]).pow(2).sum(1).mean()),
                "composed: centers[labels] + squared norm + mean")
    assert name == "info_nce", name
    t, symmetric = kw["temperature"], kw["symmetric"]

    def info_nce(q, k):
        z = q @ k.T / t
        labels = torch.arange(len(z))
        loss = F.cross_entropy(z, labels)
        return 0.5 * (loss + F.cross_entropy(z.T, labels)) if symmetric else loss
    return info_nce, "composed: matmul + F.cross_entropy(arange(N)) (N x N logits)"
