"""Divergences between the softmaxes of two logits arrays, and knowledge distillation (the
lecture's KL and Jensen-Shannon divergences and its distillation objective), over rows of a
class axis (default last). Both logits arrays have a gradient; distillation's class labels do
not.

Every value is summed from log-softmaxes, ``sum_j p_j (log p_j - log q_j)``, with ``0 log 0 = 0``
(a class with ``p_j = 0`` adds nothing, whatever ``q_j``).
"""

from __future__ import annotations

import math

import numpy as np

from ._argnums import _select
from ._checks import _as_float, _fail, _fmt, _real
from ._reductions import _reduce, _upstream
from ._rows import _classes_last, _gather, _ignore_index, _index_targets, _log_softmax, _one_hot

__all__ = [
    "kl_divergence",
    "kl_divergence_grad",
    "js_divergence",
    "js_divergence_grad",
    "distillation",
    "distillation_grad",
]


def _temperature(name, temperature):
    t = _real(name, "temperature", temperature)
    if not (t > 0 and math.isfinite(t)):
        _fail(name, f"temperature must be a finite number > 0, got {_fmt(temperature)}")
    return t


def _unit(name, arg, value):
    v = _real(name, arg, value)
    if not 0.0 <= v <= 1.0:
        _fail(name, f"{arg} must be in [0, 1], got {_fmt(value)}")
    return v


def _non_negative(name, arg, value):
    v = _real(name, arg, value)
    if not (v >= 0 and math.isfinite(v)):
        _fail(name, f"{arg} must be a finite number >= 0, got {_fmt(value)}")
    return v


def _two_rows(name, first, second, a, b, axis):
    """Both logits arrays as float64 with the class axis last; (x, y, axis)."""
    x, axis, _ = _classes_last(name, a, axis)
    y = _as_float(b)
    if y.shape != np.moveaxis(x, -1, axis).shape:
        _fail(name, f"{second} must have the shape of {first} {np.moveaxis(x, -1, axis).shape}, "
                    f"got {y.shape}")
    return x, np.moveaxis(y, axis, -1), axis


def _xlogy_rows(p, log_ratio):
    """sum_j p_j log_ratio_j over the last axis, with 0 * anything = 0."""
    with np.errstate(invalid="ignore"):
        return np.sum(np.where(p == 0, 0.0, p * log_ratio), axis=-1)


def _kl_parts(x, y, temperature):
    """KL(softmax(x/T) || softmax(y/T)) per row, p, q and lp - lq (classes last)."""
    with np.errstate(invalid="ignore"):
        lp, lq = _log_softmax(x / temperature), _log_softmax(y / temperature)
        p, q = np.exp(lp), np.exp(lq)
        log_ratio = lp - lq
    return _xlogy_rows(p, log_ratio), p, q, log_ratio


def _gradients(name, arrays, axis, upstream, slopes):
    """{argument: d/d argument} from per-row slopes (classes last) times the row's upstream."""
    return _select(name, arrays, slopes.pop("argnums"),
                   {k: np.moveaxis(g * upstream[..., None], -1, axis) for k, g in slopes.items()})


def kl_divergence(p_logits, q_logits, *, axis=-1, temperature=1.0, reduction="mean",
                  sample_weight=None):
    """Kullback-Leibler divergence of the softmaxes at temperature T, per row::

        p = softmax(p_logits / T),  q = softmax(q_logits / T)
        l_i = KL(p_i || q_i) = sum_j p_ij (log p_ij - log q_ij)

    mean = sum_i s_i l_i / sum_i s_i (every row once, whatever the leading axes: PyTorch's
    ``batchmean`` on the flattened rows).
    """
    name = "kl_divergence"
    t = _temperature(name, temperature)
    x, y, axis = _two_rows(name, "p_logits", "q_logits", p_logits, q_logits, axis)
    loss, _, _, _ = _kl_parts(x, y, t)
    return _reduce(name, loss, reduction, sample_weight)


def kl_divergence_grad(p_logits, q_logits, *, grad_output=None, argnums=0, axis=-1,
                       temperature=1.0, reduction="mean", sample_weight=None):
    """``d l / d p_logits_j = p_j (log p_j - log q_j - l) / T`` (0 where p_j = 0),
    ``d l / d q_logits_j = (q_j - p_j) / T``."""
    name = "kl_divergence"
    t = _temperature(name, temperature)
    x, y, axis = _two_rows(name, "p_logits", "q_logits", p_logits, q_logits, axis)
    loss, p, q, log_ratio = _kl_parts(x, y, t)
    up = _upstream(name, loss.shape, reduction, sample_weight, grad_output)
    with np.errstate(invalid="ignore"):
        d_p = np.where(p == 0, 0.0, p * (log_ratio - loss[..., None])) / t
    return _gradients(name, ("p_logits", "q_logits"), axis, up,
                      {"argnums": argnums, "p_logits": d_p, "q_logits": (q - p) / t})


def _js_parts(x, y, beta, temperature):
    """Per row beta KL(p || m) and (1 - beta) KL(q || m), m = beta p + (1 - beta) q, and the
    pieces of the gradient: p, q, log p - log m, log q - log m."""
    with np.errstate(invalid="ignore", divide="ignore"):
        lp, lq = _log_softmax(x / temperature), _log_softmax(y / temperature)
        p, q = np.exp(lp), np.exp(lq)
        # log m with both weights in log space: log(beta e^lp + (1 - beta) e^lq)
        lm = np.logaddexp(np.log(beta) + lp, np.log1p(-beta) + lq)
        a, b = lp - lm, lq - lm
    return _xlogy_rows(p, a), _xlogy_rows(q, b), p, q, a, b


def js_divergence(p_logits, q_logits, *, beta=0.5, axis=-1, temperature=1.0, reduction="mean",
                  sample_weight=None):
    """Generalised Jensen-Shannon divergence of the softmaxes at temperature T, per row::

        m = beta p + (1 - beta) q
        l_i = beta KL(p_i || m_i) + (1 - beta) KL(q_i || m_i)

    0 at beta = 0 and beta = 1 (m is then q or p); symmetric in (p, q) at beta = 1/2, where it
    is the lecture's Jensen-Shannon divergence. mean = sum_i s_i l_i / sum_i s_i.
    """
    name = "js_divergence"
    beta = _unit(name, "beta", beta)
    t = _temperature(name, temperature)
    x, y, axis = _two_rows(name, "p_logits", "q_logits", p_logits, q_logits, axis)
    if beta in (0.0, 1.0):
        loss = np.zeros(x.shape[:-1])
    else:
        kp, kq, *_ = _js_parts(x, y, beta, t)
        loss = beta * kp + (1.0 - beta) * kq
    return _reduce(name, loss, reduction, sample_weight)


def js_divergence_grad(p_logits, q_logits, *, grad_output=None, argnums=0, beta=0.5, axis=-1,
                       temperature=1.0, reduction="mean", sample_weight=None):
    """``d l / d p_logits_j = beta p_j (log p_j - log m_j - KL(p || m)) / T``, and for
    q_logits the same with q and 1 - beta; 0 at beta = 0 and beta = 1."""
    name = "js_divergence"
    beta = _unit(name, "beta", beta)
    t = _temperature(name, temperature)
    x, y, axis = _two_rows(name, "p_logits", "q_logits", p_logits, q_logits, axis)
    up = _upstream(name, x.shape[:-1], reduction, sample_weight, grad_output)
    if beta in (0.0, 1.0):
        d_p = d_q = np.zeros(x.shape)
    else:
        kp, kq, p, q, a, b = _js_parts(x, y, beta, t)
        with np.errstate(invalid="ignore"):
            d_p = np.where(p == 0, 0.0, beta * p * (a - kp[..., None])) / t
            d_q = np.where(q == 0, 0.0, (1.0 - beta) * q * (b - kq[..., None])) / t
    return _gradients(name, ("p_logits", "q_logits"), axis, up,
                      {"argnums": argnums, "p_logits": d_p, "q_logits": d_q})


def _distillation_parts(student_logits, teacher_logits, labels, temperature, alpha, beta,
                        t2_scale, ignore_index, axis):
    name = "distillation"
    t = _temperature(name, temperature)
    alpha = _non_negative(name, "alpha", alpha)
    beta = _non_negative(name, "beta", beta)
    if not isinstance(t2_scale, (bool, np.bool_)):
        _fail(name, f"t2_scale must be a bool, got {t2_scale!r}")
    ignore_index = _ignore_index(name, ignore_index)
    x, y, axis = _two_rows(name, "student_logits", "teacher_logits", student_logits,
                           teacher_logits, axis)
    C = x.shape[-1]
    c = beta * t * t if t2_scale else beta
    # KL(teacher || student) at temperature T: kl_divergence with p = teacher.
    kl, u, s, log_ratio = _kl_parts(y, x, t)
    loss = c * kl
    d_student = c * (s - u) / t
    with np.errstate(invalid="ignore"):
        d_teacher = c * np.where(u == 0, 0.0, u * (log_ratio - kl[..., None])) / t
    kept = None
    if labels is not None:
        _, kept, safe = _index_targets(name, x, labels, C, ignore_index)
        if alpha != 0.0:
            log_sigma = _log_softmax(x)
            loss = loss + alpha * -_gather(log_sigma, safe)
            d_student = d_student + alpha * (np.exp(log_sigma) - _one_hot(safe, C))
        loss = np.where(kept, loss, 0.0)
        d_student = np.where(kept[..., None], d_student, 0.0)
        d_teacher = np.where(kept[..., None], d_teacher, 0.0)
    norm = None if kept is None else kept.astype(np.float64)
    return loss, norm, kept, d_student, d_teacher, axis


def distillation(student_logits, teacher_logits, labels=None, *, temperature=2.0, alpha=0.5,
                 beta=0.5, t2_scale=True, ignore_index=-100, axis=-1, reduction="mean",
                 sample_weight=None):
    """Knowledge distillation (G. Hinton, O. Vinyals and J. Dean, "Distilling the Knowledge in
    a Neural Network", 2015), per row::

        l_i = alpha CE(t_i, softmax(z_s)) + beta T^2 KL(softmax(z_t / T) || softmax(z_s / T))

    with z_s the student's and z_t the teacher's logits, T^2 only with ``t2_scale``, and the
    cross-entropy at temperature 1 (absent without labels). Rows whose label is
    ``ignore_index`` give 0; mean = sum_i s_i l_i / sum_{kept i} s_i (every row without labels).
    """
    loss, norm, *_ = _distillation_parts(student_logits, teacher_logits, labels, temperature,
                                         alpha, beta, t2_scale, ignore_index, axis)
    return _reduce("distillation", loss, reduction, sample_weight, norm)


def distillation_grad(student_logits, teacher_logits, labels=None, *, grad_output=None,
                      argnums=0, temperature=2.0, alpha=0.5, beta=0.5, t2_scale=True,
                      ignore_index=-100, axis=-1, reduction="mean", sample_weight=None):
    """``d l / d z_s = alpha (softmax(z_s) - onehot(t)) + (c / T) (s - u)`` and
    ``d l / d z_t = (c / T) u (log u - log s - KL)``, with s, u the student's and teacher's
    softmaxes at T and c = beta T^2 (beta without t2_scale); 0 on ignored rows."""
    name = "distillation"
    loss, norm, kept, d_s, d_t, axis = _distillation_parts(
        student_logits, teacher_logits, labels, temperature, alpha, beta, t2_scale,
        ignore_index, axis)
    up = _upstream(name, loss.shape, reduction, sample_weight, grad_output, norm)
    if kept is not None:
        up = np.where(kept, up, 0.0)
    return _gradients(name, ("student_logits", "teacher_logits", "labels"), axis, up,
                      {"argnums": argnums, "student_logits": d_s, "teacher_logits": d_t})
