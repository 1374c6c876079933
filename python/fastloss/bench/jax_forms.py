"""The JAX peers' forms of the row divergences and of the embedding losses, in jax.numpy (the
optax-style formulas a JAX user writes); ``peers.jax_peer`` jits them with their gradients."""

from __future__ import annotations


def divergence(name: str, kw: dict):
    """The divergences of two logits arrays as their users write them in jax.numpy (the forms
    of optax's kl_divergence_with_log_targets and of the distillation recipes), a row per
    sample, the mean over rows."""
    import jax
    import jax.numpy as jnp

    T = kw["temperature"]
    if name == "kl_divergence":
        def kl_divergence(x, y):
            lp, lq = jax.nn.log_softmax(x / T, -1), jax.nn.log_softmax(y / T, -1)
            return jnp.mean(jnp.sum(jnp.exp(lp) * (lp - lq), -1))
        return kl_divergence
    if name == "js_divergence":
        b = kw["beta"]

        def js_divergence(x, y):
            lp, lq = jax.nn.log_softmax(x / T, -1), jax.nn.log_softmax(y / T, -1)
            p, q = jnp.exp(lp), jnp.exp(lq)
            log_m = jnp.log(b * p + (1 - b) * q)
            return jnp.mean(b * jnp.sum(p * (lp - log_m), -1)
                            + (1 - b) * jnp.sum(q * (lq - log_m), -1))
        return js_divergence
    a, b, ig = kw["alpha"], kw["beta"], kw["ignore_index"]
    c = b * T * T if kw["t2_scale"] else b
    labels = None if kw.get("labels") is None else jnp.asarray(kw["labels"])

    def distillation(x, y):
        ls, lt = jax.nn.log_softmax(x / T, -1), jax.nn.log_softmax(y / T, -1)
        soft = jnp.sum(jnp.exp(lt) * (lt - ls), -1)
        if labels is None:
            return c * jnp.mean(soft)
        keep = labels != ig
        logp = jax.nn.log_softmax(x, -1)
        hard = -jnp.take_along_axis(logp, jnp.where(keep, labels, 0)[..., None], -1)[..., 0]
        return jnp.sum(jnp.where(keep, a * hard + c * soft, 0.0)) / jnp.sum(keep)
    return distillation


def embedding(name: str, kw: dict):
    """The embedding losses in jax.numpy (their row labels closed over as constants)."""
    import jax.numpy as jnp

    m = kw["margin"]
    if name == "contrastive":
        y = jnp.asarray(kw["similar"])

        def contrastive(x1, x2):
            d = jnp.sqrt(jnp.sum((x1 - x2) ** 2, -1))
            return jnp.mean(0.5 * jnp.where(y == 1, d * d, jnp.maximum(0.0, m - d) ** 2))
        return contrastive
    if name == "cosine_embedding":
        y = jnp.asarray(kw["target"])

        def cosine_embedding(x1, x2):
            cos = jnp.sum(x1 * x2, -1) / jnp.sqrt((jnp.sum(x1 * x1, -1) + 1e-12)
                                                  * (jnp.sum(x2 * x2, -1) + 1e-12))
            return jnp.mean(jnp.where(y == 1, 1.0 - cos, jnp.maximum(0.0, cos - m)))
        return cosine_embedding
    p, e, swap = kw["p"], kw["eps"], kw["swap"]

    def triplet(a, pos, neg):
        def dist(u, v):
            return jnp.sum(jnp.abs(u - v + e) ** p, -1) ** (1.0 / p)
        d_neg = jnp.minimum(dist(a, neg), dist(pos, neg)) if swap else dist(a, neg)
        return jnp.mean(jnp.maximum(0.0, m + dist(a, pos) - d_neg))
    return triplet


def info_nce(kw: dict):
    """In-batch InfoNCE in jax.numpy: the N x N logits, log_softmax, the diagonal."""
    import jax
    import jax.numpy as jnp

    t, symmetric = kw["temperature"], kw["symmetric"]

    def loss(q, k):
        z = q @ k.T / t
        rows = -jnp.mean(jnp.diagonal(jax.nn.log_softmax(z, axis=1)))
        if not symmetric:
            return rows
        return 0.5 * (rows - jnp.mean(jnp.diagonal(jax.nn.log_softmax(z, axis=0))))
    return loss


def listwise(name: str):
    """ListNet as optax's softmax loss of the labels' softmax; ListMLE as rax writes it (a stable
    sort by relevance, a reversed cumulative log-sum-exp)."""
    import jax
    import jax.numpy as jnp

    if name == "listnet":
        def listnet(s, r):
            return jnp.mean(-jnp.sum(jax.nn.softmax(r, -1) * jax.nn.log_softmax(s, -1), -1))
        return listnet

    def listmle(s, r):
        order = jnp.argsort(-r, axis=-1, stable=True)
        ordered = jnp.take_along_axis(s, order, axis=-1)
        lse = jax.lax.cumlogsumexp(ordered, axis=ordered.ndim - 1, reverse=True)
        return jnp.mean(jnp.sum(lse - ordered, -1))
    return listmle


def structured_hinge(kw: dict):
    """The structured hinge as the max over every candidate's term (Delta(t, t) = 0), with the
    cost rows one-hot or gathered from the table."""
    import jax
    import jax.numpy as jnp

    slack = kw["rescaling"] == "slack"
    table = None if kw["cost"] is None else jnp.asarray(kw["cost"])

    def loss(s, t):
        delta = (1.0 - jax.nn.one_hot(t, s.shape[-1], dtype=s.dtype) if table is None
                 else table.astype(s.dtype)[t])
        gap = s - jnp.take_along_axis(s, t[:, None], axis=-1)
        z = delta * (1 + gap) if slack else delta + gap
        return jnp.mean(jnp.max(z, axis=-1))
    return loss


def center(x, labels, centers):
    """The center loss in jax.numpy: gather each row's centre, half the squared distance, mean
    (the centres' gradient a scatter-add under jax.grad)."""
    import jax.numpy as jnp

    return 0.5 * jnp.mean(jnp.sum((x - centers[labels]) ** 2, axis=-1))
