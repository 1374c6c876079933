r"""Per-sample pacing weights: the lecture's curriculum weights :math:`w_i(t)` (Platanios et al.
2019) and self-paced learning's weights and regularisers (Kumar, Packer and Koller 2010; Jiang
et al. 2014), in float64 NumPy (part of fastloss._combine, which exports them)."""

from __future__ import annotations

import math

import numpy as np

from ._combine_checks import SELF_PACED_KINDS, mixture_threshold
from ._combine_checks import scalar as _scalar
from ._validate import choice, fail, integer, positive

SCHEDULES = ("linear", "root", "geometric")


# -- curriculum learning (Platanios et al. 2019) ------------------------------------------------

def competence(fn: str, step, *, schedule, total_steps, initial) -> float:
    r"""Platanios et al.'s competence c(t) in [c0, 1], reaching 1 at ``total_steps``."""
    t = integer(fn, "step", step)
    if t < 0:
        fail(fn, f"step must be >= 0, got {step!r}")
    T = integer(fn, "total_steps", total_steps)
    if T < 1:
        fail(fn, f"total_steps must be >= 1, got {total_steps!r}")
    c0 = positive(fn, "initial", initial)
    if c0 > 1:
        fail(fn, f"initial must be in (0, 1], got {initial!r}")
    choice(fn, "schedule", schedule, SCHEDULES)
    progress = min(t, T) / T
    if schedule == "linear":
        c = c0 + (1.0 - c0) * progress
    elif schedule == "root":
        c = math.sqrt(c0 * c0 + (1.0 - c0 * c0) * progress)
    else:  # geometric: c0, c0 * q, c0 * q^2, ... with q^T = 1 / c0
        c = c0 ** (1.0 - progress)
    return min(1.0, c)


def difficulty_cdf(fn: str, difficulty, by_rank: bool) -> np.ndarray:
    """The difficulties as values in [0, 1]: as given, or (``by_rank``) their empirical CDF,
    the fraction of samples at most as difficult (ties share a value; the hardest has 1)."""
    if not isinstance(by_rank, (bool, np.bool_)):
        fail(fn, f"by_rank must be a bool, got {by_rank!r}", TypeError)
    d = np.asarray(difficulty)
    if d.dtype == object or d.dtype.kind not in "fiu":
        fail(fn, f"difficulty must be a real array, got dtype {d.dtype}", TypeError)
    d = d.astype(np.float64)
    if not np.isfinite(d).all():
        fail(fn, "difficulty must be finite")
    if by_rank:
        flat = np.sort(d, axis=None)
        return np.searchsorted(flat, d, side="right") / max(flat.size, 1)
    if d.size and not (d.min() >= 0 and d.max() <= 1):
        fail(fn, f"difficulty must be in [0, 1] (or pass by_rank=True), got values in "
                 f"[{d.min()!r}, {d.max()!r}]")
    return d


def curriculum_weights(difficulty, step, *, total_steps, schedule="linear", initial=0.01,
                       by_rank=False):
    r"""The lecture's curriculum weights :math:`w_i(t)` for :math:`L(t) = \sum_i w_i(t)\,\ell_i`.

    Competence-based curriculum (Platanios et al. 2019): a sample is in the curriculum at step t
    when its difficulty :math:`d_i \in [0, 1]` is at most the competence :math:`c(t)`:

    .. math:: w_i(t) = [d_i \le c(t)], \qquad
        c_{linear}(t) = \min\Big(1, c_0 + (1 - c_0)\frac tT\Big), \quad
        c_{root}(t) = \min\Big(1, \sqrt{c_0^2 + (1 - c_0^2)\frac tT}\Big), \quad
        c_{geometric}(t) = \min\big(1, c_0^{\,1 - t/T}\big)

    so :math:`c(0) = c_0`, :math:`c(T) = 1` (every sample is in from step T on), and the harder
    samples' weights rise from 0 to 1 over time, as the lecture asks (it gives no smooth form, so
    the weights are Platanios et al.'s 0/1 selection). The ``root`` pacing adds the
    hard samples early (it spends equal time per sample as the pool grows); ``geometric`` late.

    Args:
      difficulty: array of per-sample difficulties in [0, 1] (Platanios et al. use the CDF of a
        difficulty score), or any finite scores with ``by_rank=True``, which turns them into
        their empirical CDF (the fraction of samples at most as difficult: ties share it, the
        hardest sample has 1).
      step: the training step t (integer >= 0; steps past ``total_steps`` give c = 1).
      total_steps: T, the step at which the competence reaches 1 (integer >= 1).
      schedule: ``"linear"`` (default), ``"root"`` (square root) or ``"geometric"``.
      initial: :math:`c_0`, the competence at step 0, in (0, 1] (default 0.01, the paper's).
      by_rank: rank the difficulties first (see above).

    Returns:
      float64 weights (0 or 1) of ``difficulty``'s shape.

    >>> import fastloss
    >>> fastloss.curriculum_weights([0.1, 0.5, 0.9], 50, total_steps=100, initial=0.1).tolist()
    [1.0, 1.0, 0.0]
    >>> fastloss.curriculum_weights([3.0, 1.0, 2.0], 0, total_steps=10, initial=0.4,
    ...                             by_rank=True).tolist()
    [0.0, 1.0, 0.0]

    Reference: E. A. Platanios, O. Stretcu, G. Neubig, B. Poczos and T. M. Mitchell,
    "Competence-based Curriculum Learning for Neural Machine Translation", NAACL 2019; the
    lecture's "Curriculum Learning".
    """
    fn = "curriculum_weights"
    c = competence(fn, step, schedule=schedule, total_steps=total_steps, initial=initial)
    d = difficulty_cdf(fn, difficulty, by_rank)
    return (d <= c).astype(np.float64)


# -- self-paced learning (Kumar, Packer and Koller 2010; Jiang et al. 2014) ---------------------

def _self_paced_args(fn: str, lam, kind, gamma):
    lam = positive(fn, "lam", lam)
    kind = choice(fn, "kind", kind, SELF_PACED_KINDS)
    return lam, kind, mixture_threshold(fn, kind, lam, gamma)


def _real_array(fn: str, name: str, value) -> np.ndarray:
    a = np.asarray(value)
    if a.dtype == object or a.dtype.kind not in "fiu":
        fail(fn, f"{name} must be a real array, got dtype {a.dtype}", TypeError)
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        fail(fn, f"{name} must be finite")
    return a


def self_paced_weights(losses, lam, *, kind="hard", gamma=None):
    r"""The self-paced sample weights :math:`v^* = \arg\min_{v \in [0,1]^n} \sum_i v_i \ell_i +
    g(v, \lambda)` for the lecture's self-paced objective, in closed form.

    .. math::
        \text{hard:}\quad v_i = [\ell_i < \lambda]
        \qquad
        \text{linear:}\quad v_i = \min(1, \max(0, 1 - \ell_i/\lambda))

    .. math::
        \text{mixture:}\quad v_i = \begin{cases} 1 & \ell_i \le \gamma \\
            \zeta/\ell_i - \zeta/\lambda & \gamma < \ell_i < \lambda \\
            0 & \ell_i \ge \lambda \end{cases}, \qquad \zeta = \frac{\lambda\gamma}{\lambda - \gamma}

    The age :math:`\lambda` grows during training to admit harder (higher-loss) samples. (Hard
    weighting at :math:`\ell_i = \lambda` is a tie: every :math:`v_i` minimises; 0 is returned.) The
    mixture weighting is hard below :math:`\gamma` and above :math:`\lambda` and soft between;
    :math:`\gamma` is the :math:`\lambda'` of Jiang et al. (2014). The regularisers are in
    :func:`self_paced_regularizer`.

    Args:
      losses: array of per-sample losses :math:`\ell_i` (finite; the weights are 1 for
        :math:`\ell_i \le 0`).
      lam: :math:`\lambda > 0`.
      kind: ``"hard"`` (Kumar et al. 2010, default), ``"linear"`` or ``"mixture"`` (Jiang et
        al. 2014).
      gamma: the mixture's lower threshold, :math:`0 < \gamma < \lambda` (mixture only).

    Returns:
      float64 weights in [0, 1] of ``losses``' shape. Treat them as constants when
      differentiating the weighted loss (self-paced learning alternates: v for fixed
      parameters, then the parameters for fixed v).

    >>> import fastloss
    >>> fastloss.self_paced_weights([0.5, 1.5, 3.0], 2.0).tolist()
    [1.0, 1.0, 0.0]
    >>> fastloss.self_paced_weights([0.5, 1.5, 3.0], 2.0, kind="linear").tolist()
    [0.75, 0.25, 0.0]
    >>> fastloss.self_paced_weights([0.5, 1.5, 3.0], 2.0, kind="mixture", gamma=1.0).tolist()
    [1.0, 0.33333333333333326, 0.0]

    References: M. P. Kumar, B. Packer and D. Koller, "Self-Paced Learning for Latent Variable
    Models", NeurIPS 2010; L. Jiang, D. Meng, T. Mitamura and A. G. Hauptmann, "Easy Samples
    First: Self-paced Reranking for Zero-Example Multimedia Search", ACM MM 2014.
    """
    fn = "self_paced_weights"
    lam, kind, gamma = _self_paced_args(fn, lam, kind, gamma)
    loss = _real_array(fn, "losses", losses)
    if kind == "hard":
        return (loss < lam).astype(np.float64)
    if kind == "linear":
        return np.clip(1.0 - loss / lam, 0.0, 1.0)
    zeta = lam * gamma / (lam - gamma)
    soft = np.divide(zeta, loss, out=np.ones_like(loss), where=loss > gamma) - zeta / lam
    return np.where(loss <= gamma, 1.0, np.where(loss >= lam, 0.0, soft))


def self_paced_regularizer(weights, lam, *, kind="hard", gamma=None):
    r"""The self-paced regulariser :math:`g(v, \lambda)` whose minimiser, with
    :math:`\sum_i v_i \ell_i`, is :func:`self_paced_weights`.

    .. math::
        \text{hard:}\quad g = -\lambda \sum_i v_i
        \qquad
        \text{linear:}\quad g = \lambda \sum_i \big(\tfrac12 v_i^2 - v_i\big)
        \qquad
        \text{mixture:}\quad g = -\zeta \sum_i \log\big(v_i + \zeta/\lambda\big)

    with :math:`\zeta = \lambda\gamma/(\lambda - \gamma)`. Each is separable over the samples;
    linear and mixture are strictly convex in :math:`v_i`, so setting the derivative of
    :math:`v_i \ell_i + g_i` to zero and clipping to [0, 1] gives the closed forms.

    Args:
      weights: array of sample weights :math:`v_i \in [0, 1]`.
      lam, kind, gamma: as :func:`self_paced_weights`.

    Returns:
      A 0-d float64 array.

    >>> import fastloss
    >>> float(fastloss.self_paced_regularizer([1.0, 0.5], 2.0, kind="linear"))
    -1.75

    References: as :func:`self_paced_weights`.
    """
    fn = "self_paced_regularizer"
    lam, kind, gamma = _self_paced_args(fn, lam, kind, gamma)
    v = _real_array(fn, "weights", weights)
    if v.size and not (v.min() >= 0 and v.max() <= 1):
        fail(fn, f"weights must be in [0, 1], got values in [{v.min()!r}, {v.max()!r}]")
    if kind == "hard":
        return _scalar(-lam * math.fsum(v.ravel()))
    if kind == "linear":
        return _scalar(lam * math.fsum((0.5 * v * v - v).ravel()))
    zeta = lam * gamma / (lam - gamma)
    return _scalar(-zeta * math.fsum(np.log(v + zeta / lam).ravel()))


