"""Divergences between the softmaxes of two logits arrays, and knowledge distillation: row
losses over a class axis (``axis``, default last) of two logits arrays of one shape and dtype,
both differentiable (``argnums`` (0,), (1,) or (0, 1)).

Each row runs in one fused kernel (``cpp/include/fastloss/losses/kl_divergence.h``,
``js_divergence.h``, ``distillation.h``): the rows' maxima, then their softmax sums (one
exponential per logit), then the value (and the gradients) summed from the log-softmaxes, so a
divergence close to 0 keeps its relative accuracy instead of being the difference of two large
sums. ``reduction`` is ``"mean"`` (over rows: every row counted once, however many leading
axes; PyTorch's ``batchmean`` on the flattened rows), ``"sum"`` or ``"none"`` (the rows' shape);
``sample_weight`` broadcasts to the rows' shape, as for the multi-class losses.
"""

from __future__ import annotations

import numpy as np

from ._arrays import any_array
from ._dispatch import float_input
from ._pair_rows import pair_rows
from . import _samplers as S
from ._registry import LossSpec, register
from ._validate import fail, in_unit_interval, integer, non_negative, positive

__all__ = ["kl_divergence", "js_divergence", "distillation"]


@any_array
def kl_divergence(p_logits, q_logits, *, axis=-1, temperature=1.0, reduction="mean",
                  sample_weight=None):
    r"""Kullback-Leibler divergence between the softmaxes of two logits arrays, per row.

    .. math:: \ell_i = \mathrm{KL}(p_i \,\|\, q_i) = \sum_j p_{ij} (\log p_{ij} - \log q_{ij}),
       \qquad p = \operatorname{softmax}(z_p / T),\; q = \operatorname{softmax}(z_q / T)

    with :math:`0 \log 0 = 0`. Gradients:
    :math:`\partial\ell/\partial z_{p,j} = p_j(\log p_j - \log q_j - \ell)/T` and
    :math:`\partial\ell/\partial z_{q,j} = (q_j - p_j)/T`.

    ``torch.nn.functional.kl_div(log_softmax(z_q / T), log_softmax(z_p / T),
    reduction="batchmean", log_target=True)`` is the ``mean`` of 2-D rows (note PyTorch's
    argument order: the model's log-probabilities first).

    Args:
      p_logits: float32/float64 logits of p, classes along ``axis``.
      q_logits: logits of q, of the shape and dtype of ``p_logits``.
      axis: the class axis.
      temperature: T > 0, dividing both logits.

    >>> import numpy as np, fastloss
    >>> round(float(fastloss.kl_divergence(np.array([[2.0, 0.0]]), np.array([[0.0, 0.0]]))), 12)
    0.327813325473

    Reference: S. Kullback and R. A. Leibler, "On Information and Sufficiency", 1951.
    """
    fn = "kl_divergence"
    x = float_input(fn, "p_logits", p_logits)
    t = positive(fn, "temperature", temperature)
    return pair_rows(fn, "kl_divergence", x, q_logits, names=("p_logits", "q_logits"),
                     axis=axis, params=(t,), reduction=reduction, sample_weight=sample_weight)


@any_array
def js_divergence(p_logits, q_logits, *, beta=0.5, axis=-1, temperature=1.0, reduction="mean",
                  sample_weight=None):
    r"""Generalised Jensen-Shannon divergence between the softmaxes of two logits arrays.

    .. math:: \ell_i = \beta\,\mathrm{KL}(p_i \,\|\, m_i) + (1 - \beta)\,\mathrm{KL}(q_i \,\|\, m_i),
       \qquad m = \beta p + (1 - \beta) q

    with :math:`p = \operatorname{softmax}(z_p / T)`, :math:`q = \operatorname{softmax}(z_q / T)`.
    At :math:`\beta = 1/2` it is the lecture's (symmetric) Jensen-Shannon divergence, bounded by
    :math:`\log 2`. At the endpoints :math:`\beta = 0` and :math:`\beta = 1` the mixture is
    :math:`q` or :math:`p` and the divergence is 0 for every input (value and gradients), which
    is also its limit: the loss is continuous in :math:`\beta`. (Liger's and TRL's generalised
    JSD special-case those endpoints to a full KL; fastloss does not.)

    Args:
      p_logits, q_logits: float32/float64 logits of one shape and dtype, classes along ``axis``.
      beta: the mixture weight of p, in [0, 1].
      axis: the class axis.
      temperature: T > 0, dividing both logits.

    >>> import numpy as np, fastloss
    >>> round(float(fastloss.js_divergence(np.array([[2.0, 0.0]]), np.array([[0.0, 0.0]]))), 12)
    0.089540896498

    Reference: J. Lin, "Divergence Measures Based on the Shannon Entropy", 1991.
    """
    fn = "js_divergence"
    x = float_input(fn, "p_logits", p_logits)
    b = in_unit_interval(fn, "beta", beta)
    t = positive(fn, "temperature", temperature)
    return pair_rows(fn, "js_divergence", x, q_logits, names=("p_logits", "q_logits"),
                     axis=axis, params=(b, t), reduction=reduction, sample_weight=sample_weight)


@any_array
def distillation(student_logits, teacher_logits, labels=None, *, temperature=2.0, alpha=0.5,
                 beta=0.5, t2_scale=True, ignore_index=-100, axis=-1, reduction="mean",
                 sample_weight=None):
    r"""Knowledge distillation: cross-entropy on the labels plus the temperature-softened KL
    divergence from the teacher to the student, in one fused pass over the student's row.

    .. math:: \ell_i = \alpha\,\mathrm{CE}(t_i, \sigma(z_s)) +
       \beta\,T^2\,\mathrm{KL}\big(\sigma(z_t / T) \,\|\, \sigma(z_s / T)\big)

    with :math:`\sigma` the softmax, :math:`z_s` the student's and :math:`z_t` the teacher's
    logits. The :math:`T^2` factor (only with ``t2_scale``) keeps the soft term's gradient on the
    scale of the hard term's as T changes (Hinton et al.). The lecture writes
    :math:`\sigma(z_s/T)` in both terms; here, as in Hinton et al. and the common
    implementations (DistilBERT, torchdistill), the hard term is the ordinary cross-entropy at
    temperature 1, the student's prediction at inference. Without ``labels`` the CE term is
    absent. Gradients:
    :math:`\partial\ell/\partial z_s = \alpha(\sigma(z_s) - \mathrm{onehot}(t)) + c(s - u)/T`,
    :math:`\partial\ell/\partial z_t = c\,u(\log u - \log s - \mathrm{KL})/T` with
    :math:`s, u` the student's and the teacher's softmax at T and :math:`c = \beta T^2`
    (:math:`\beta` without ``t2_scale``); pass ``argnums=(1,)`` for the teacher's.

    Args:
      student_logits: float32/float64 logits, classes along ``axis``.
      teacher_logits: logits of the student's shape and dtype.
      labels: optional integer class indices of the logits' shape without ``axis``.
      temperature: T > 0.
      alpha: weight >= 0 of the cross-entropy term.
      beta: weight >= 0 of the distillation term.
      t2_scale: multiply the distillation term by :math:`T^2`.
      ignore_index: rows whose label equals it give 0 (both terms, both gradients) and are
        left out of the mean; with every row ignored the mean is nan, its gradient 0 (as
        :func:`fastloss.cross_entropy`).

    ``mean`` divides by the number of rows whose label is not ``ignore_index`` (every row
    without labels), times their sample weights.

    The KL term's error is absolute (a few eps of the logits' dtype, see the accuracy line),
    while the term itself falls as :math:`1/T^2`: with ``t2_scale`` its error grows as
    :math:`\varepsilon T^2`, so for temperatures well above 10 pass float64 logits.

    >>> import numpy as np, fastloss
    >>> z_s, z_t = np.array([[2.0, 0.0, 0.0]]), np.array([[0.0, 2.0, 0.0]])
    >>> round(float(fastloss.distillation(z_s, z_t, np.array([0]))), 12)
    0.848123037408

    Reference: G. Hinton, O. Vinyals and J. Dean, "Distilling the Knowledge in a Neural
    Network", 2015.
    """
    fn = "distillation"
    x = float_input(fn, "student_logits", student_logits)
    t = positive(fn, "temperature", temperature)
    a = non_negative(fn, "alpha", alpha)
    b = non_negative(fn, "beta", beta)
    if not isinstance(t2_scale, (bool, np.bool_)):
        fail(fn, f"t2_scale must be a bool, got {t2_scale!r}", TypeError)
    ignore = integer(fn, "ignore_index", ignore_index)
    return pair_rows(fn, "distillation", x, teacher_logits, labels,
                     names=("student_logits", "teacher_logits", "labels"), axis=axis,
                     params=(t, a, b, float(bool(t2_scale))), ignore_index=ignore,
                     reduction=reduction, sample_weight=sample_weight)


# The absolute accuracy of a divergence, however small its value: it is summed from
# log-softmaxes whose normalisers log S (sums of exponentials in the logits' dtype) carry a
# rounding of a few eps of the dtype, and since sum_j p_j = 1 that rounding reaches the value
# whole (KL(p || q) with q = p (1 + O(eps)) is O(eps), not O(eps^2)); likewise each gradient
# entry q_j - p_j. Measured errors stay below 3e-7 (float32) and 5e-16 (float64) for logits
# within +-30, temperatures down to 0.5 and upstream gradients up to 3; the floor leaves a wide
# margin.
ABS_FLOOR_DIVERGENCE = {np.dtype(np.float32): {"abs_floor": 2e-6},
                        np.dtype(np.float64): {"abs_floor": 2e-14}}

register(LossSpec("kl_divergence", "divergence", "row", kl_divergence, S.logits_pair,
                  variants=({}, {"temperature": 2.5}, {"temperature": 0.5}),
                  tolerance=ABS_FLOOR_DIVERGENCE, differentiable=("p_logits", "q_logits")))
register(LossSpec("js_divergence", "divergence", "row", js_divergence, S.logits_pair,
                  variants=({}, {"beta": 0.2}, {"beta": 0.9, "temperature": 3.0},
                            {"beta": 0.05, "temperature": 0.5}),
                  tolerance=ABS_FLOOR_DIVERGENCE, differentiable=("p_logits", "q_logits")))
register(LossSpec("distillation", "divergence", "row", distillation, S.distillation,
                  variants=({}, {"t2_scale": False}, {"temperature": 1.0, "alpha": 0.3},
                            {"alpha": 0.0, "beta": 1.0, "temperature": 4.0}),
                  tolerance=ABS_FLOOR_DIVERGENCE,
                  differentiable=("student_logits", "teacher_logits"), mean_count="kept_rows",
                  convex=True,  # in the student's logits: a sum of two cross-entropies
                  labels_arg="labels"))
