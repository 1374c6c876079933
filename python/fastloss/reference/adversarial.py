"""GAN losses (the lecture's "Adversarial and GAN Losses"): the discriminator's (critic's) loss on
its outputs for real and generated samples, and the generator's loss on its outputs for generated
samples, in float64, reading like the formulas.

Inputs are discriminator outputs: logits for the BCE kinds (D = sigmoid(logit)), raw critic
scores for the others. ``real`` and ``fake`` may have any shapes, each its own; the
discriminator's loss is the *sum of two expectations*, one per array (as the lecture writes it,
and as torchgan, StudioGAN, mimicry and TF-GAN compute it), not a mean over their concatenation.

Discriminator, with b = ``real_label`` (one-sided label smoothing when b < 1, torchgan's
convention: the real target becomes b)::

    bce:            E_r[b softplus(-r) + (1 - b) softplus(r)] + E_f[softplus(f)]
    wasserstein:    -E_r[r] + E_f[f]
    least_squares:  1/2 E_r[(r - b)^2] + 1/2 E_f[f^2]
    hinge:          E_r[relu(1 - r)] + E_f[relu(1 + f)]

Generator::

    bce (non-saturating, -log D(G(z))):  E[softplus(-f)]
    minimax (log(1 - D(G(z)))):          E[-softplus(f)]
    wasserstein, hinge:                  E[-f]
    least_squares:                       1/2 E[(f - 1)^2]

Reductions: ``"mean"`` is the sum of the two means, ``"sum"`` the sum of both sums, and
``"none"`` (discriminator) the pair ``(per-element real terms, per-element fake terms)``; the
gradients of ``"none"`` are those of ``sum(g_real * real_terms) + sum(g_fake * fake_terms)``
with ``grad_output = (g_real, g_fake)`` (default ones).
"""

from __future__ import annotations

import numpy as np

from ._argnums import _select
from ._checks import _as_float, _fail, _fmt, _real
from ._reductions import _check_reduction, _reduce, _upstream

__all__ = [
    "gan_discriminator",
    "gan_discriminator_grad",
    "gan_generator",
    "gan_generator_grad",
]

DISCRIMINATOR_KINDS = ("bce", "wasserstein", "least_squares", "hinge")
GENERATOR_KINDS = ("bce", "minimax", "wasserstein", "least_squares", "hinge")


def _softplus(x):
    return np.logaddexp(0.0, x)


def _sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _kind(name, kind, kinds):
    if not isinstance(kind, str) or kind not in kinds:
        _fail(name, f"kind must be one of {', '.join(repr(k) for k in kinds)}, got {kind!r}")
    return kind


def _label(kind, real_label):
    b = _real("gan_discriminator", "real_label", real_label)
    if not 0.0 < b <= 1.0:
        _fail("gan_discriminator", f"real_label must be in (0, 1], got {_fmt(real_label)}")
    if kind in ("wasserstein", "hinge") and b != 1.0:
        _fail("gan_discriminator", f"real_label applies to kind 'bce' and 'least_squares' only "
                                   f"(kind {kind!r} has no label), got {_fmt(real_label)}")
    return b


def _bce(x, c):
    """BCE-with-logits(x, c) = (1 - c) softplus(x) + c softplus(-x), a zero weight giving 0."""
    neg = np.zeros_like(x) if c == 1.0 else (1.0 - c) * _softplus(x)
    pos = np.zeros_like(x) if c == 0.0 else c * _softplus(-x)
    return neg + pos


def _discriminator_terms(r, f, kind, b):
    """(per-element real terms, their slopes, per-element fake terms, their slopes)."""
    if kind == "bce":
        return (_bce(r, b), _sigmoid(r) - b, _softplus(f), _sigmoid(f))
    if kind == "wasserstein":
        return -r, -np.ones_like(r), f.copy(), np.ones_like(f)
    if kind == "least_squares":
        return 0.5 * (r - b) ** 2, r - b, 0.5 * f ** 2, f.copy()
    # hinge: the subgradient at the kink (r = 1, f = -1) is 0
    return (np.maximum(0.0, 1.0 - r), np.where(1.0 - r > 0, -1.0, 0.0),
            np.maximum(0.0, 1.0 + f), np.where(1.0 + f > 0, 1.0, 0.0))


def _pair_output(grad_output, reduction):
    if reduction != "none" or grad_output is None:
        return grad_output, grad_output
    if not isinstance(grad_output, (tuple, list)) or len(grad_output) != 2:
        _fail("gan_discriminator", "grad_output of reduction='none' must be a pair "
                                   "(for real, for fake)")
    return grad_output[0], grad_output[1]


def gan_discriminator(real, fake, *, kind="bce", real_label=1.0, reduction="mean"):
    """The discriminator's (critic's) loss: the sum of its expectation over ``real`` and its
    expectation over ``fake`` (see the module docstring for each kind's terms)."""
    kind = _kind("gan_discriminator", kind, DISCRIMINATOR_KINDS)
    b = _label(kind, real_label)
    _check_reduction("gan_discriminator", reduction)
    r, f = _as_float(real), _as_float(fake)
    lr, _, lf, _ = _discriminator_terms(r, f, kind, b)
    if reduction == "none":
        return lr, lf
    return np.asarray(_reduce("gan_discriminator", lr, reduction, None)
                      + _reduce("gan_discriminator", lf, reduction, None), dtype=np.float64)


def gan_discriminator_grad(real, fake, *, grad_output=None, argnums=0, kind="bce",
                           real_label=1.0, reduction="mean"):
    """d/d real = slope_r times the upstream of the real expectation (1/len(real) for the mean),
    d/d fake likewise: both arrays are differentiable."""
    kind = _kind("gan_discriminator", kind, DISCRIMINATOR_KINDS)
    b = _label(kind, real_label)
    _check_reduction("gan_discriminator", reduction)
    r, f = _as_float(real), _as_float(fake)
    _, sr, _, sf = _discriminator_terms(r, f, kind, b)
    g_real, g_fake = _pair_output(grad_output, reduction)
    d_real = sr * _upstream("gan_discriminator", r.shape, reduction, None, g_real)
    d_fake = sf * _upstream("gan_discriminator", f.shape, reduction, None, g_fake)
    return _select("gan_discriminator", ("real", "fake"), argnums,
                   {"real": d_real, "fake": d_fake})


def _generator_terms(f, kind):
    if kind == "bce":
        return _softplus(-f), _sigmoid(f) - 1.0
    if kind == "minimax":
        return -_softplus(f), -_sigmoid(f)
    if kind == "least_squares":
        return 0.5 * (f - 1.0) ** 2, f - 1.0
    return -f, -np.ones_like(f)  # wasserstein, hinge


def gan_generator(fake, *, kind="bce", reduction="mean", sample_weight=None):
    """The generator's loss on the discriminator's outputs for generated samples."""
    kind = _kind("gan_generator", kind, GENERATOR_KINDS)
    loss, _ = _generator_terms(_as_float(fake), kind)
    return _reduce("gan_generator", loss, reduction, sample_weight)


def gan_generator_grad(fake, *, grad_output=None, argnums=0, kind="bce", reduction="mean",
                       sample_weight=None):
    kind = _kind("gan_generator", kind, GENERATOR_KINDS)
    f = _as_float(fake)
    _, slope = _generator_terms(f, kind)
    d = slope * _upstream("gan_generator", f.shape, reduction, sample_weight, grad_output)
    return _select("gan_generator", ("fake",), argnums, {"fake": d})
