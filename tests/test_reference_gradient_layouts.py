"""The reference's analytic gradients against central finite differences, in float64, on the
layouts the registry samplers do not draw: 3-d inputs with the class axis elsewhere, {0, 1}
hinge labels, an ignore_index that is a class, a single row, hard labels with pos_weight, the
switch of log-cosh's stable formula.  ``test_reference_gradients.py`` covers every registry
variant; this file covers every registered loss on these hand-made layouts too.

For every case, differentiable input, reduction ("mean", "sum", "none") and weighting (none,
full-shape, broadcast), ``reference.NAME_grad(..., grad_output=g, argnums=i)`` must equal the
numerical gradient of ``sum(g * reference.NAME(...))`` with respect to the i-th array, with
``g`` never all ones.  Inputs are sampled away from kinks (|d| vs 0/delta/beta, hinge margins,
the Crammer-Singer argmax) so that the finite difference is a derivative.
"""

import numpy as np
import pytest

from fastloss import reference
from fastloss._registry import REGISTRY, TOLERANCE
from finite_differences import grad_output_for, numerical_gradient, sample_weight_for

REDUCTIONS = ("mean", "sum", "none")
WEIGHTINGS = ("unweighted", "weighted", "broadcast_weight")
SCALAR_GRAD_OUTPUT = -0.7  # not 1, and negative so that a dropped sign shows


# ---------------------------------------------------------------------------------------------
# Input samplers: each returns (arrays, kwargs), away from the kinks of every differentiable array.
# ---------------------------------------------------------------------------------------------

def _signs(rng, shape):
    return np.where(rng.random(shape) < 0.5, -1.0, 1.0)


def _away_from(rng, shape, kinks, lo=0.05, hi=3.0, gap=0.05):
    """Magnitudes in [lo, hi] at least `gap` away from every kink, times a random sign."""
    out = np.empty(shape)
    for idx in np.ndindex(*shape):
        while True:
            v = rng.uniform(lo, hi)
            if all(abs(v - k) > gap for k in kinks):
                break
        out[idx] = v
    return out * _signs(rng, shape)


def _regression(kinks=(0.0,), shape=(3, 4), hi=3.0):
    """pred = target + d with |d| in [0.05, hi], 0.05 away from the kinks."""
    def make(rng):
        target = rng.normal(size=shape)
        d = _away_from(rng, shape, kinks, hi=hi)
        return (target + d, target), {}
    return make


def _with(make, **kwargs):
    def wrapped(rng):
        arrays, kw = make(rng)
        return arrays, {**kw, **kwargs}
    return wrapped


def _quantile_multi(rng):
    target = rng.normal(size=(5, 3))
    return (target + _away_from(rng, (5, 3), [0.0]), target), {"tau": np.array([0.1, 0.5, 0.9])}


def _log_cosh_inputs(rng):
    target = rng.normal(size=(2, 3, 4))
    d = rng.normal(size=(2, 3, 4)) * 2.0
    d[0, 0, :] = [1e-3, -0.9, 1.1, 6.0]  # both branches of the stable formula, near its switch
    return (target + d, target), {}


def _bce(hard):
    def make(rng):
        p = rng.uniform(0.05, 0.95, size=(4, 5))
        y = (rng.random((4, 5)) < 0.5).astype(float) if hard else rng.random((4, 5))
        return (p, y), {}
    return make


def _bce_logits(pos_weight, hard=False):
    def make(rng):
        x = rng.normal(size=(3, 4)) * 3.0
        y = (rng.random((3, 4)) < 0.5).astype(float) if hard else rng.random((3, 4))
        kw = {"pos_weight": rng.uniform(0.5, 3.0, size=4)} if pos_weight else {}
        return (x, y), kw
    return make


def _hinge(zero_one):
    def make(rng):
        y = _signs(rng, (4, 5))
        margin = _away_from(rng, (4, 5), [0.0], lo=0.05, hi=2.0)  # 1 - y f
        f = y * (1.0 - margin)
        labels = np.where(y < 0, 0.0, 1.0) if zero_one else y
        return (f, labels), {}
    return make


def _margin_ranking(margin, shape=(3, 4), broadcast_y=False):
    """x1 - x2 = (margin - u) / y with the hinge's argument u 0.05 away from its kink; y = +-1
    or +-0.5, per element or (broadcast_y) one per column."""
    def make(rng):
        y = _signs(rng, shape[-1:] if broadcast_y else shape) * rng.choice([0.5, 1.0])
        u = _away_from(rng, shape, [0.0], lo=0.05, hi=2.0)
        x2 = rng.normal(size=shape)
        return (x2 + (margin - u) / y, x2, y), {"margin": margin}
    return make


def _hinge_embedding(margin, shape=(3, 4)):
    """Distances 0.05 away from the kink margin - x = 0, labels +-1 and a few 0 (both terms)."""
    def make(rng):
        y = _signs(rng, shape)
        y.flat[::5] = 0.0
        x = margin - _away_from(rng, shape, [0.0], lo=0.05, hi=2.0)
        return (x, y.astype(np.int64)), {"margin": margin}
    return make


def _soft_margin(soft):
    def make(rng):
        x = rng.normal(size=(3, 4)) * 3.0
        y = _signs(rng, (3, 4)) * (rng.uniform(0.2, 1.5, (3, 4)) if soft else 1.0)
        return (x, y), {}
    return make


def _poisson(**kw):
    def make(rng):
        x = rng.uniform(0.1, 2.5, size=(3, 4))
        y = rng.poisson(2.0, size=(3, 4)) + rng.uniform(0.05, 0.95, size=(3, 4))
        return (x, y), kw
    return make


def _kl_div(**kw):
    def make(rng):
        z = rng.normal(size=(3, 4))
        x = z - np.logaddexp.reduce(z, axis=-1, keepdims=True)
        p = rng.uniform(0.05, 1.0, size=(3, 4))
        y = np.log(p) if kw.get("log_target") else p / p.sum(-1, keepdims=True)
        return (x, y), kw
    return make


def _gaussian(var_shape=(3, 4), **kw):
    def make(rng):
        x, y = rng.normal(size=(3, 4)) * 2, rng.normal(size=(3, 4))
        return (x, y, rng.uniform(0.2, 2.0, size=var_shape)), kw
    return make


def _sigmoid_focal(**kw):
    def make(rng):
        x = rng.uniform(-3.0, 3.0, size=(3, 4))
        y = rng.random((3, 4))
        y[0] = [0.0, 1.0, 0.0, 1.0]
        return (x, y), kw
    return make


def _ce_indices(shape=(6, 4), axis=-1, ignored=(), **kw):
    def make(rng):
        x = rng.normal(size=shape) * 2.0
        C = shape[axis]
        t = rng.integers(0, C, size=tuple(np.delete(np.array(shape), axis)))
        for idx in ignored:
            t[idx] = kw.get("ignore_index", -100)
        return (x, t), {"axis": axis, **kw}
    return make


def _ce_probs(shape=(5, 4), axis=-1, **kw):
    def make(rng):
        x = rng.normal(size=shape) * 2.0
        y = rng.random(shape) ** 2
        y /= y.sum(axis=axis, keepdims=True)
        return (x, y), {"axis": axis, **kw}
    return make


def _ce_single_row(rng):
    return (rng.normal(size=5), np.int64(3)), {"label_smoothing": 0.05}


def _multiclass_hinge(shape=(5, 4), axis=-1, margin=1.0, **kw):
    """Logits whose hinge arguments z_j = margin + x_j - x_t are 0.05 away from 0, and whose
    largest z_j (j != t) leads the next by 0.05 (a unique Crammer-Singer argmax)."""
    def make(rng):
        moved = np.moveaxis(np.empty(shape), axis, -1).shape
        rows, C = int(np.prod(moved[:-1])), moved[-1]
        x = np.empty((rows, C))
        t = rng.integers(0, C, size=rows)
        for i in range(rows):
            while True:
                row = rng.normal(size=C) * 1.5
                z = np.delete(margin + row - row[t[i]], t[i])
                top = np.sort(z)[::-1]
                if np.min(np.abs(z)) > 0.05 and (len(top) < 2 or top[0] - top[1] > 0.05):
                    break
            x[i] = row
        x = np.moveaxis(x.reshape(moved), -1, axis)
        return (x, t.reshape(moved[:-1])), {"axis": axis, "margin": margin, **kw}
    return make


def _structured_scores(shape=(5, 4), axis=-1, cost="none", rescaling="margin"):
    """Scores and costs whose outer max (the true candidate's term Delta(y, y) included) leads
    the next term by 0.05, so no finite difference crosses a kink; cost "table", "per_sample" or
    "none" (0/1)."""
    def make(rng):
        moved = np.moveaxis(np.empty(shape), axis, -1).shape
        rows, K = int(np.prod(moved[:-1])), moved[-1]
        t = rng.integers(0, K, size=rows)
        delta_table = np.where(np.eye(K, dtype=bool), 0.0, rng.uniform(0.2, 2.0, (K, K)))
        per_sample = rng.uniform(0.0, 2.0, (rows, K))
        x = np.empty((rows, K))
        for i in range(rows):
            delta = {"none": np.where(np.arange(K) == t[i], 0.0, 1.0), "table": delta_table[t[i]],
                     "per_sample": per_sample[i]}[cost]
            while True:
                row = rng.normal(size=K) * 1.5
                z = delta + row - row[t[i]] if rescaling == "margin" else \
                    delta * (1.0 + row - row[t[i]])
                z[t[i]] = delta[t[i]]
                top = np.sort(z)[::-1]
                if top[0] - top[1] > 0.05 and np.argmax(z) != t[i]:
                    break
            x[i] = row
        kw = {"axis": axis, "rescaling": rescaling}
        if cost == "table":
            kw["cost"] = delta_table
        elif cost == "per_sample":
            kw["cost"] = np.moveaxis(per_sample.reshape(moved), -1, axis)
            kw["cost_per_sample"] = True
        x = np.moveaxis(x.reshape(moved), -1, axis)
        return (x, t.reshape(moved[:-1])), kw
    return make


def _multilabel_targets(shape=(5, 4), axis=-1, soft=False, **kw):
    """Logits and a 0/1 (or soft) target per class."""
    def make(rng):
        x = rng.normal(size=shape) * 2.0
        y = rng.random(shape) if soft else (rng.random(shape) < 0.4).astype(float)
        return (x, y), {"axis": axis, **kw}
    return make


def _multilabel_margin(shape=(5, 4), axis=-1):
    """Scores whose pair terms 1 - x_t + x_j (t listed, j not) are 0.05 away from 0, and index
    lists of 1 to C - 1 classes (one listed twice in the first row) ended by -1."""
    def make(rng):
        moved = np.moveaxis(np.empty(shape), axis, -1).shape
        rows, C = int(np.prod(moved[:-1])), moved[-1]
        x, t = np.empty((rows, C)), np.full((rows, C), -1)
        for i in range(rows):
            listed = rng.permutation(C)[:rng.integers(1, C)]
            others = np.setdiff1d(np.arange(C), listed)
            while True:
                row = rng.normal(size=C) * 1.5
                z = 1.0 - row[listed][:, None] + row[others][None, :]
                if np.min(np.abs(z)) > 0.05:
                    break
            x[i] = row
            t[i, :len(listed)] = listed
        if len(listed) < C - 1:
            t[0, np.argmax(t[0] == -1)] = t[0, 0]  # a duplicate counts twice
        x = np.moveaxis(x.reshape(moved), -1, axis)
        return (x, np.moveaxis(t.reshape(moved), -1, axis)), {"axis": axis}
    return make


def _logits_pair(shape=(5, 4), axis=-1, ignored=(), labels=False, **kw):
    """Two logits arrays (the divergences'), with labels as a keyword for distillation."""
    def make(rng):
        x, y = rng.normal(size=shape) * 1.5, rng.normal(size=shape) * 1.5
        extra = dict(kw, axis=axis)
        if labels:
            t = rng.integers(0, shape[axis], size=tuple(np.delete(np.array(shape), axis)))
            for idx in ignored:
                t[idx] = kw.get("ignore_index", -100)
            extra["labels"] = t
        return (x, y), extra
    return make


def _gan_fake(kind="bce", shape=(3, 4), hi=3.0):
    """Discriminator outputs on generated samples (the generator's losses are smooth)."""
    def make(rng):
        return (_away_from(rng, shape, (), hi=hi),), {"kind": kind}
    return make


def _embedding_pairs(shape=(2, 3, 5), margin=1.0, label_dtype=np.int64):
    """Embedding pairs with leading axes, half similar, at distances 0.1 away from the
    dissimilar pairs' kinks (d = margin, d = 0)."""
    def make(rng):
        rows = shape[:-1]
        x1 = rng.normal(size=shape)
        direction = rng.normal(size=shape)
        direction /= np.linalg.norm(direction, axis=-1, keepdims=True)
        d = _away_from(rng, rows, [margin], lo=0.1, hi=2 * margin + 0.5, gap=0.1)
        x2 = x1 + np.abs(d)[..., None] * direction
        similar = (rng.random(rows) < 0.5).astype(label_dtype)
        return (x1, x2, similar), {"margin": margin}
    return make


def _embedding_triplets(shape=(2, 3, 5), **kw):
    """Triplets with leading axes clear of the kinks (the hinge, the swap's tie, for p < 2 a
    zero coordinate difference), the hinge active in at least half of the rows."""
    from fastloss._registry import REGISTRY
    full = {"margin": 1.0, "p": 2.0, "eps": 1e-6, "swap": False, **kw}

    def make(rng):
        while True:
            a = rng.normal(size=shape)
            s = 1 / np.sqrt(shape[-1])
            args = (a, a + rng.normal(size=shape) * 0.3 * s, a + rng.normal(size=shape) * 0.8 * s)
            active = reference.triplet(*args, reduction="none", **kw) > 0
            if np.all(REGISTRY["triplet"].kinks(args, full) > 0.02) and active.mean() >= 0.5:
                return args, dict(kw)
    return make


def _cosine_pairs(shape=(2, 3, 5), margin=0.0, label_dtype=np.int64):
    """Embedding pairs with leading axes, labels 1 or -1, the dissimilar pairs' cosines at
    least 0.05 from the margin (the hinge's kink)."""
    from fastloss._registry import REGISTRY

    def make(rng):
        while True:
            x1, x2 = rng.normal(size=shape), rng.normal(size=shape)
            y = (rng.integers(0, 2, shape[:-1]) * 2 - 1).astype(label_dtype)
            kw = {"margin": margin, "target": y}
            if np.all(REGISTRY["cosine_embedding"].kinks((x1, x2), kw) > 0.05):
                return (x1, x2, y), {"margin": margin}
    return make


def _query_key_batch(n=5, d=4, **kw):
    """A batch of queries and keys near them (the loss is smooth: no kinks to avoid)."""
    def make(rng):
        q = rng.normal(size=(n, d))
        return (q, q + 0.5 * rng.normal(size=(n, d))), dict(kw)
    return make


def _features_centers(n=7, d=3, classes=4):
    """Features near the centres of their classes, one class without rows (smooth: no kinks
    to avoid)."""
    def make(rng):
        c = rng.normal(size=(classes, d))
        y = rng.integers(0, classes - 1, n)
        return (c[y] + 0.5 * rng.normal(size=(n, d)), y, c), {}
    return make


def _ranked_lists(shape=(3, 5), axis=-1, masked=False):
    """Scores and graded labels 0..3 (ties included); with masked, some items padding and one
    list all padding (smooth: no kinks to avoid)."""
    def make(rng):
        s = rng.normal(size=shape)
        kw = {"axis": axis}
        if masked:
            mask = rng.random(shape) > 0.3
            mask[(0,) * (len(shape) - 1)] = False  # a list of padding only: zero gradient
            kw["mask"] = np.moveaxis(mask, -1, axis)
        return (np.moveaxis(s, -1, axis), np.moveaxis(rng.integers(0, 4, shape) * 1.0, -1,
                                                      axis)), kw
    return make


CASES = [
    ("listnet", "listnet", _ranked_lists()),
    ("listnet_3d_axis1_masked", "listnet", _ranked_lists(shape=(2, 3, 6), axis=1, masked=True)),
    ("listmle", "listmle", _ranked_lists()),
    ("listmle_masked", "listmle", _ranked_lists(shape=(4, 7), masked=True)),
    ("info_nce", "info_nce", _query_key_batch(temperature=0.5)),
    ("info_nce_symmetric_one_feature", "info_nce", _query_key_batch(n=6, d=1, symmetric=True)),
    ("center", "center", _features_centers()),
    ("center_one_class_one_feature", "center", _features_centers(n=5, d=1, classes=2)),
    ("cosine_3d", "cosine_embedding", _cosine_pairs()),
    ("cosine_m-0.4_float_labels", "cosine_embedding",
     _cosine_pairs(shape=(5, 4), margin=-0.4, label_dtype=np.float32)),
    ("triplet_3d", "triplet", _embedding_triplets()),
    ("triplet_p1_swap", "triplet", _embedding_triplets(shape=(4, 3), p=1.0, swap=True)),
    ("triplet_p3_eps0", "triplet", _embedding_triplets(shape=(3, 6), p=3.0, eps=0.0, margin=0.7)),
    ("contrastive_3d", "contrastive", _embedding_pairs()),
    ("contrastive_m2.5_float_labels", "contrastive",
     _embedding_pairs(shape=(6, 9), margin=2.5, label_dtype=np.float32)),
    ("kl", "kl_divergence", _logits_pair()),
    ("kl_t3_3d_axis1", "kl_divergence", _logits_pair(shape=(2, 4, 3), axis=1, temperature=3.0)),
    ("js", "js_divergence", _logits_pair()),
    ("js_beta_t_3d_axis0", "js_divergence",
     _logits_pair(shape=(4, 2, 3), axis=0, beta=0.3, temperature=0.7)),
    ("distill", "distillation", _logits_pair(labels=True, ignored=(1,))),
    ("distill_no_labels", "distillation", _logits_pair(temperature=3.0, t2_scale=False)),
    ("distill_3d_axis1", "distillation",
     _logits_pair(shape=(2, 4, 3), axis=1, labels=True, ignored=((0, 1),), alpha=0.7, beta=0.2,
                  temperature=1.5)),
    ("mse", "mse", _regression()),
    ("mse_3d", "mse", _regression(shape=(2, 3, 2))),
    ("mae", "mae", _regression()),
    ("huber", "huber", _regression(kinks=(0.0, 1.0))),
    ("huber_delta0.3", "huber", _with(_regression(kinks=(0.0, 0.3), hi=1.0), delta=0.3)),
    ("smooth_l1", "smooth_l1", _regression(kinks=(0.0, 1.0))),
    ("smooth_l1_beta0.4", "smooth_l1",
     _with(_regression(kinks=(0.0, 0.4), hi=1.2), beta=0.4)),
    ("smooth_l1_beta0", "smooth_l1", _with(_regression(), beta=0.0)),
    ("quantile", "quantile", _regression()),
    ("quantile_tau0.2", "quantile", _with(_regression(), tau=0.2)),
    ("quantile_multi_tau", "quantile", _quantile_multi),
    ("log_cosh", "log_cosh", _log_cosh_inputs),
    ("bce_soft", "binary_cross_entropy", _bce(hard=False)),
    ("bce_hard", "binary_cross_entropy", _bce(hard=True)),
    ("bce_logits", "binary_cross_entropy_with_logits", _bce_logits(False)),
    ("bce_logits_pos_weight", "binary_cross_entropy_with_logits", _bce_logits(True)),
    ("bce_logits_pos_weight_hard", "binary_cross_entropy_with_logits", _bce_logits(True, True)),
    ("hinge_pm1", "hinge", _hinge(False)),
    ("hinge_01", "hinge", _hinge(True)),
    ("squared_hinge_pm1", "squared_hinge", _hinge(False)),
    ("squared_hinge_01", "squared_hinge", _hinge(True)),
    ("sigmoid_focal", "sigmoid_focal", _sigmoid_focal()),
    ("sigmoid_focal_noalpha_g0.5", "sigmoid_focal", _sigmoid_focal(alpha=None, gamma=0.5)),
    ("sigmoid_focal_g0", "sigmoid_focal", _sigmoid_focal(alpha=0.8, gamma=0.0)),
    ("sigmoid_focal_g3", "sigmoid_focal", _sigmoid_focal(gamma=3.0)),
    ("soft_margin", "soft_margin", _soft_margin(False)),
    ("soft_margin_real_target", "soft_margin", _soft_margin(True)),
    ("poisson_nll", "poisson_nll", _poisson()),
    ("poisson_nll_full", "poisson_nll", _poisson(full=True)),
    ("poisson_nll_rate", "poisson_nll", _poisson(log_input=False)),
    ("poisson_nll_rate_full_eps", "poisson_nll", _poisson(log_input=False, full=True, eps=0.05)),
    ("kl_div", "kl_div", _kl_div()),
    ("kl_div_log_target", "kl_div", _kl_div(log_target=True)),
    ("gaussian_nll", "gaussian_nll", _gaussian()),
    ("gaussian_nll_full_eps", "gaussian_nll", _gaussian(full=True, eps=0.1)),
    ("gaussian_nll_var_without_last_axis", "gaussian_nll", _gaussian(var_shape=(3,))),
    ("gaussian_nll_var_one_axis", "gaussian_nll", _gaussian(var_shape=(1, 4))),
    ("ce", "cross_entropy", _ce_indices()),
    ("ce_weight_ignore_smooth", "cross_entropy",
     _ce_indices(ignored=(1, 4), class_weight=np.array([0.5, 2.0, 1.0, 3.0]),
                 label_smoothing=0.1)),
    ("ce_ignore_index_is_class", "cross_entropy", _ce_indices(ignored=(0,), ignore_index=2)),
    ("ce_3d_axis1", "cross_entropy",
     _ce_indices(shape=(2, 4, 3), axis=1, ignored=((0, 1),),
                 class_weight=np.array([1.0, 0.3, 2.0, 1.5]), label_smoothing=0.2)),
    ("ce_probs", "cross_entropy", _ce_probs()),
    ("ce_probs_weight_smooth", "cross_entropy",
     _ce_probs(class_weight=np.array([0.5, 2.0, 1.0, 3.0]), label_smoothing=0.15)),
    ("ce_probs_3d_axis0", "cross_entropy", _ce_probs(shape=(3, 2, 2), axis=0)),
    ("ce_single_row", "cross_entropy", _ce_single_row),
    ("mc_hinge_ww", "multiclass_hinge", _multiclass_hinge()),
    ("mc_hinge_ww_sq_weight", "multiclass_hinge",
     _multiclass_hinge(margin=0.5, squared=True, class_weight=np.array([1.0, 2.0, 0.5, 1.5]))),
    ("mc_hinge_cs", "multiclass_hinge", _multiclass_hinge(kind="crammer_singer")),
    ("structured", "structured_hinge", _structured_scores()),
    ("structured_table_slack", "structured_hinge",
     _structured_scores(cost="table", rescaling="slack")),
    ("structured_per_sample_3d_axis1", "structured_hinge",
     _structured_scores(shape=(2, 4, 3), axis=1, cost="per_sample")),
    ("mc_hinge_cs_sq_3d", "multiclass_hinge",
     _multiclass_hinge(shape=(2, 4, 3), axis=1, kind="crammer_singer", squared=True,
                       class_weight=np.array([1.0, 2.0, 0.5, 1.5]))),
    ("softmax_focal", "softmax_focal", _ce_indices()),
    ("softmax_focal_alpha_g0", "softmax_focal", _ce_indices(alpha=0.3, gamma=0.0)),
    ("softmax_focal_alpha_vec_ignore", "softmax_focal",
     _ce_indices(ignored=(2,), alpha=np.array([0.25, 1.0, 2.0, 0.5]), gamma=1.5)),
    ("softmax_focal_3d_axis1_g0.5", "softmax_focal",
     _ce_indices(shape=(2, 4, 3), axis=1, ignored=((1, 2),), gamma=0.5)),
    ("nll", "nll", _ce_indices()),
    ("nll_weight_ignore_is_class", "nll",
     _ce_indices(ignored=(0, 3), ignore_index=2, class_weight=np.array([0.5, 2.0, 1.0, 3.0]))),
    ("nll_3d_axis1", "nll", _ce_indices(shape=(2, 4, 3), axis=1, ignored=((0, 1),))),
    ("multilabel_soft_margin", "multilabel_soft_margin", _multilabel_targets()),
    ("multilabel_soft_margin_soft_weight", "multilabel_soft_margin",
     _multilabel_targets(soft=True, class_weight=np.array([0.5, 2.0, 1.0, 3.0]))),
    ("multilabel_soft_margin_3d_axis0", "multilabel_soft_margin",
     _multilabel_targets(shape=(4, 2, 3), axis=0)),
    ("multilabel_margin", "multilabel_margin", _multilabel_margin()),
    ("margin_ranking", "margin_ranking", _margin_ranking(0.0)),
    ("hinge_embedding", "hinge_embedding", _hinge_embedding(1.0)),
    ("hinge_embedding_m2.5_3d", "hinge_embedding", _hinge_embedding(2.5, shape=(2, 3, 4))),
    ("margin_ranking_m0.7_3d_broadcast_y", "margin_ranking",
     _margin_ranking(0.7, shape=(2, 3, 4), broadcast_y=True)),
    ("multilabel_margin_3d_axis1", "multilabel_margin",
     _multilabel_margin(shape=(2, 5, 3), axis=1)),
    ("gan_generator_3d", "gan_generator", _gan_fake(shape=(2, 3, 4))),
    ("gan_generator_minimax_large", "gan_generator", _gan_fake(kind="minimax", hi=30.0)),
    ("gan_generator_least_squares", "gan_generator", _gan_fake(kind="least_squares")),
]


# Every registered loss has at least one layout case, but those of kind "pair" (the GAN
# discriminator: two arrays of their own shapes, "none" a pair; its finite differences for both
# arrays are in tests/test_gan.py): a newly registered loss fails here until it gets one.
PAIR = {n for n, s in REGISTRY.items() if s.kind == "pair"}
assert {name for _, name, _ in CASES} == set(REGISTRY) - PAIR, \
    sorted((set(REGISTRY) - PAIR) ^ {name for _, name, _ in CASES})

# (case, argnums) for every differentiable input of the case's loss
CASES_BY_INPUT = [pytest.param(case, REGISTRY[case[1]].arrays.index(arg), id=f"{case[0]}-{arg}")
                  for case in CASES for arg in REGISTRY[case[1]].differentiable]


@pytest.mark.parametrize("weighting", WEIGHTINGS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case,argnums", CASES_BY_INPUT)
def test_grad_matches_central_differences(case, argnums, reduction, weighting):
    case_id, name, make = case
    rng = np.random.default_rng([sum(map(ord, case_id)), len(case_id),
                                 REDUCTIONS.index(reduction), WEIGHTINGS.index(weighting)])
    arrays, kw = make(rng)
    arrays = (np.asarray(arrays[0], dtype=np.float64),) + tuple(arrays[1:])
    loss_fn = getattr(reference, name)
    grad_fn = getattr(reference, name + "_grad")

    loss_shape = loss_fn(*arrays, reduction="none", **kw).shape
    sample_weight = sample_weight_for(rng, weighting, loss_shape)
    grad_output = grad_output_for(rng, reduction, loss_shape, SCALAR_GRAD_OUTPUT)
    kw = {**kw, "reduction": reduction, "sample_weight": sample_weight}

    analytic = grad_fn(*arrays, grad_output=grad_output, argnums=argnums, **kw)
    numeric = numerical_gradient(loss_fn, arrays, argnums, kw, grad_output)

    assert analytic.shape == np.shape(arrays[argnums])
    assert analytic.dtype == np.float64
    assert np.all(np.isfinite(analytic))
    assert np.any(analytic != 0.0)  # the sampled point exercises a non-trivial gradient
    tol = TOLERANCE["finite_difference"]
    scale = max(1.0, float(np.max(np.abs(numeric))))
    np.testing.assert_allclose(analytic, numeric, rtol=tol["rtol"], atol=tol["atol"] * scale)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_default_grad_output_is_one(case, reduction):
    """grad_output=None means 1 (reduced) or ones (none); an explicit 2 doubles the gradient."""
    case_id, name, make = case
    arrays, kw = make(np.random.default_rng(sum(map(ord, case_id))))
    grad_fn = getattr(reference, name + "_grad")
    loss_shape = getattr(reference, name)(*arrays, reduction="none", **kw).shape
    default = grad_fn(*arrays, reduction=reduction, **kw)
    one = 1.0 if reduction != "none" else np.ones(loss_shape)
    np.testing.assert_array_equal(default, grad_fn(*arrays, grad_output=one,
                                                   reduction=reduction, **kw))
    # doubling is exact in binary floating point, so the gradient doubles bit for bit
    np.testing.assert_array_equal(2.0 * default, grad_fn(*arrays, grad_output=2 * one,
                                                         reduction=reduction, **kw))


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_none_grad_output_broadcasts(case):
    """A grad_output broadcastable to the unreduced loss shape acts like its broadcast."""
    case_id, name, make = case
    rng = np.random.default_rng(sum(map(ord, case_id)) + 7)
    arrays, kw = make(rng)
    grad_fn = getattr(reference, name + "_grad")
    loss_shape = getattr(reference, name)(*arrays, reduction="none", **kw).shape
    small = rng.uniform(-2.0, 2.0, size=loss_shape[-1:])
    full = np.broadcast_to(small, loss_shape).copy()
    np.testing.assert_array_equal(
        grad_fn(*arrays, grad_output=small, reduction="none", **kw),
        grad_fn(*arrays, grad_output=full, reduction="none", **kw))
