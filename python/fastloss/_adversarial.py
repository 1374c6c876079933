"""GAN losses (the lecture's "Adversarial and GAN Losses"): the discriminator's (critic's) loss
on its outputs for real and generated samples, and the generator's loss on its outputs for
generated samples.

Each term is one pass of the pointwise kernels ``gan_discriminator`` / ``gan_generator``
(``losses/gan_discriminator.h``) over one array, value and gradient together; the constant each
term needs (the real label, 0, or a sign) travels as the kernel's target, a stride-0 broadcast of
one number, never a copy. The discriminator runs one pass over ``real`` and one over ``fake`` and
adds the two reduced values (the sum of two expectations, as the lecture writes it and as
torchgan, StudioGAN, mimicry and TF-GAN compute it; not a mean over the concatenation), so the
two arrays may have different lengths and shapes. Under ``fastloss.value_and_grad(...,
argnums=(0, 1))`` each pass writes its own array's gradient.
"""

from __future__ import annotations

import numpy as np

from . import _device
from ._arrays import any_array
from ._device import DeviceArray
from ._dispatch import (GradRequest, _passed_dtype, _passed_dtypes, _request, _take_request,
                        constant, float_input, pointwise)
from ._registry import LossSpec, register
from ._validate import choice, fail, real_scalar, reduction_code

__all__ = ["gan_discriminator", "gan_generator"]

# The kernel's terms (params[0], see losses/gan_discriminator.h).
_LOGISTIC, _NEG_LOGISTIC, _LINEAR, _LEAST_SQUARES, _HINGE = 0, 1, 2, 3, 4

# kind -> (term, constant for real (None: the real label), term for fake, constant for fake).
_DISCRIMINATOR = {
    "bce": (_LOGISTIC, None, 0.0),             # BCE(r, b) + BCE(f, 0) = softplus(f)
    "wasserstein": (_LINEAR, -1.0, 1.0),       # -r, f
    "least_squares": (_LEAST_SQUARES, None, 0.0),  # (r - b)^2 / 2, f^2 / 2
    "hinge": (_HINGE, 1.0, -1.0),              # relu(1 - r), relu(1 + f)
}
# kind -> (term, constant).
_GENERATOR = {
    "bce": (_LOGISTIC, 1.0),                   # softplus(-f) = -log D(G(z))
    "minimax": (_NEG_LOGISTIC, 0.0),           # -softplus(f) = log(1 - D(G(z)))
    "wasserstein": (_LINEAR, -1.0),            # -f
    "least_squares": (_LEAST_SQUARES, 1.0),    # (f - 1)^2 / 2
    "hinge": (_LINEAR, -1.0),                  # -f
}


def _broadcast_constant(c: float, x):
    """A stride-0 view of one number of x's dtype and device at x's shape (the kernel's target)."""
    k = constant(c, like=x)
    view = k.broadcast_to(x.shape) if isinstance(k, DeviceArray) else np.broadcast_to(k, x.shape)
    halves = _passed_dtypes.get()
    if halves and id(x) in halves:  # x is the float32 copy of a half-precision input: so is this
        halves[id(view)] = halves[id(x)]
    return view


def _term(fn: str, x, name: str, term: int, c: float, reduction, sample_weight=None):
    return pointwise(fn, fn, x, _broadcast_constant(c, x), x_name=name, target_name="target",
                     params=(float(term),), reduction=reduction, sample_weight=sample_weight)


def _real_label(kind: str, real_label, fn: str = "gan_discriminator") -> float:
    """real_label checked (also by fastloss.jax and fastloss.torch, with their names)."""
    b = real_scalar(fn, "real_label", real_label)
    if not 0.0 < b <= 1.0:
        fail(fn, f"real_label must be in (0, 1], got {real_label!r}")
    if kind in ("wasserstein", "hinge") and b != 1.0:
        fail(fn, f"real_label applies to kind 'bce' and 'least_squares' only (kind {kind!r} "
                 f"has no label), got {real_label!r}")
    return b


def _upstreams(request: GradRequest, code: int):
    """grad_output for the real pass and the fake pass: the scalar of a reduced loss for both,
    or with reduction='none' a pair (for real, for fake), each broadcastable to its array."""
    g = request.grad_output
    if code != 0 or g is None:
        return g, g
    if not isinstance(g, (tuple, list)) or len(g) != 2:
        fail("gan_discriminator", "grad_output of reduction='none' must be a pair "
                                  "(for real, for fake): the loss is the pair of their terms",
             TypeError)
    return g[0], g[1]


def _scalar(value) -> float:
    return float(value.source.item() if isinstance(value, DeviceArray) else value)


@any_array
def gan_discriminator(real, fake, *, kind="bce", real_label=1.0, reduction="mean"):
    r"""The GAN discriminator's (critic's) loss: the sum of an expectation over its outputs for
    real samples and one over its outputs for generated samples.

    .. math:: \mathrm{bce}: \; \mathbb{E}_r[b\,\mathrm{softplus}(-r) + (1-b)\,\mathrm{softplus}(r)]
       + \mathbb{E}_f[\mathrm{softplus}(f)] \qquad
       \mathrm{wasserstein}: \; -\mathbb{E}_r[r] + \mathbb{E}_f[f]

    .. math:: \mathrm{least\_squares}: \; \tfrac12\mathbb{E}_r[(r-b)^2] + \tfrac12\mathbb{E}_f[f^2]
       \qquad \mathrm{hinge}: \; \mathbb{E}_r[\max(0, 1-r)] + \mathbb{E}_f[\max(0, 1+f)]

    ``bce`` is the lecture's :math:`-\mathbb{E}[\log D(x)] - \mathbb{E}[\log(1-D(G(z)))]` with
    :math:`D = \sigma(\text{logit})`, exact for logits of any magnitude (also +-inf). The
    Wasserstein critic minimises :math:`-\mathbb{E}_r[r] + \mathbb{E}_f[f]`, the negative of
    the lecture's :math:`\mathbb{E}[D(x)] - \mathbb{E}[D(G(z))]` (the quantity it maximises).

    Args:
      real: float32/float64 discriminator outputs (logits for ``bce``) on real samples, any shape.
      fake: outputs on generated samples, the dtype of ``real``, any shape (its own length).
      kind: ``"bce"``, ``"wasserstein"``, ``"least_squares"`` or ``"hinge"``.
      real_label: the real target b in (0, 1]; b < 1 is one-sided label smoothing (torchgan's
        convention: the real target becomes b; the fake target stays 0). ``bce`` and
        ``least_squares`` only.
      reduction: ``"mean"``: the sum of the two means (each over its own array); ``"sum"``: the
        sum of both sums; ``"none"``: the pair ``(real_terms, fake_terms)`` of per-element
        terms, each of its array's shape. Under :func:`fastloss.value_and_grad` with
        ``"none"``, ``grad_output`` is None or a pair ``(for real, for fake)``.

    Both arrays are differentiable: ``fastloss.value_and_grad(fastloss.gan_discriminator,
    argnums=(0, 1))`` returns ``(loss, (d/d real, d/d fake))``, each from its array's pass.

    >>> import numpy as np, fastloss
    >>> float(fastloss.gan_discriminator(np.array([1.0, 3.0]), np.array([-1.0]), kind="hinge"))
    0.0
    >>> float(fastloss.gan_discriminator(np.array([2.0]), np.array([0.0, 1.0]),
    ...                                  kind="wasserstein"))
    -1.5

    References: Goodfellow et al., "Generative Adversarial Nets"; Arjovsky et al., "Wasserstein
    GAN"; Mao et al., "Least Squares Generative Adversarial Networks"; Lim & Ye, "Geometric GAN".
    """
    fn = "gan_discriminator"
    kind = choice(fn, "kind", kind, tuple(_DISCRIMINATOR))
    b = _real_label(kind, real_label)
    code = reduction_code(fn, reduction)
    r = float_input(fn, "real", real)
    f = float_input(fn, "fake", fake)
    if r.dtype != f.dtype or _passed_dtype(r) != _passed_dtype(f):
        fail(fn, f"fake must have the dtype of real ({_passed_dtype(r)}), got "
                 f"{_passed_dtype(f)}", TypeError)
    term, c_real, c_fake = _DISCRIMINATOR[kind]
    c_real = b if c_real is None else c_real
    request = _take_request(fn)
    sides = ((r, "real", c_real), (f, "fake", c_fake))
    losses, grads = [], {}
    token = _request.set(None)  # each pass installs its own request (or none)
    try:
        ups = (None, None) if request is None else _upstreams(request, code)
        wanted = () if request is None else request.argnums
        for a in wanted:
            if a not in (0, 1):
                fail(fn, f"argnums position {a} is not a differentiable argument (0: real, "
                         f"1: fake)")
        into = {} if request is None else dict(zip(request.argnums, request.grad_into))
        for k, (x, name, c) in enumerate(sides):
            sub = None
            if k in wanted:
                sub = GradRequest(grad_output=ups[k], argnums=(0,), grad_into=(into[k],))
            inner = _request.set(sub)
            try:
                losses.append(_term(fn, x, name, term, c, reduction))
            finally:
                _request.reset(inner)
            if sub is not None:
                grads[k] = sub.grads[0]
    finally:
        _request.reset(token)
    if request is not None:
        request.grads = tuple(grads[a] for a in request.argnums)
    if code == 0:
        return losses[0], losses[1]
    # Each pass's value is its dtype's rounding of a float64 sum; add the two in float64.
    value = _scalar(losses[0]) + _scalar(losses[1])
    if isinstance(r, DeviceArray):
        return _device.scalar_result(value, r.dtype, r)
    return np.asarray(value, dtype=r.dtype)


@any_array
def gan_generator(fake, *, kind="bce", reduction="mean", sample_weight=None):
    r"""The GAN generator's loss on the discriminator's outputs for generated samples.

    .. math:: \mathrm{bce}: \mathrm{softplus}(-f) = -\log D(G(z)) \quad
       \mathrm{minimax}: -\mathrm{softplus}(f) = \log(1 - D(G(z))) \quad
       \mathrm{wasserstein}, \mathrm{hinge}: -f \quad
       \mathrm{least\_squares}: \tfrac12 (f-1)^2

    ``bce`` is the lecture's non-saturating generator loss (its gradient does not vanish where
    the discriminator rejects the samples, f -> -inf); ``minimax`` is the original saturating
    one. Logits of any magnitude are exact for both (also +-inf: ``minimax`` at f = +inf is -inf).

    Args:
      fake: float32/float64 discriminator outputs (logits for ``bce``/``minimax``) on generated
        samples, any shape.
      kind: ``"bce"``, ``"minimax"``, ``"wasserstein"``, ``"least_squares"`` or ``"hinge"``.
      reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per element, ``fake``'s shape).
      sample_weight: optional non-negative weights broadcastable to ``fake``'s shape (the mean
        is ``sum(s l) / sum(s)``).

    >>> import numpy as np, fastloss
    >>> fastloss.gan_generator(np.array([0.5, -2.0]), kind="wasserstein", reduction="none").tolist()
    [-0.5, 2.0]
    >>> round(float(fastloss.gan_generator(np.array([0.0]))), 12)
    0.69314718056

    References: Goodfellow et al., "Generative Adversarial Nets" (the non-saturating loss);
    Arjovsky et al., "Wasserstein GAN"; Mao et al., "Least Squares Generative Adversarial
    Networks"; Lim & Ye, "Geometric GAN".
    """
    fn = "gan_generator"
    kind = choice(fn, "kind", kind, tuple(_GENERATOR))
    x = float_input(fn, "fake", fake)
    term, c = _GENERATOR[kind]
    return _term(fn, x, "fake", term, c, reduction, sample_weight)


# ---- registry entries ---------------------------------------------------------------------------

def _outputs(rng, shape, dtype):
    """Discriminator outputs on a grid of 1/32 shifted by 1/64: never within 1/64 of the
    hinge's kinks (+-1), and exact in float32, so both dtypes see the same side of each kink."""
    return ((rng.integers(-128, 129, shape) / 32 + 1 / 64).astype(dtype))


def sample_generator(rng, shape, dtype):
    return (_outputs(rng, shape, dtype),), {}


def sample_discriminator(rng, shape, dtype):
    """real of the shape asked for, fake with one more row (the two need not match)."""
    fake_shape = (shape[0] + 1,) + tuple(shape[1:]) if len(shape) else (2,)
    return (_outputs(rng, shape, dtype), _outputs(rng, fake_shape, dtype)), {}


register(LossSpec("gan_generator", "adversarial", "pointwise", gan_generator, sample_generator,
                  variants=({}, {"kind": "minimax"}, {"kind": "wasserstein"},
                            {"kind": "least_squares"}, {"kind": "hinge"}),
                  differentiable=("fake",), growth="quadratic", nonnegative=False,
                  convex=True))  # at the default kind, bce (minimax is concave)
# kind "pair": two arrays of their own shapes, one pointwise pass each, the loss the sum of the
# two reduced passes ("none": the pair of unreduced terms); tests/test_gan.py checks it.
register(LossSpec("gan_discriminator", "adversarial", "pair", gan_discriminator,
                  sample_discriminator,
                  variants=({}, {"real_label": 0.9}, {"kind": "wasserstein"},
                            {"kind": "least_squares"}, {"kind": "least_squares", "real_label": 0.8},
                            {"kind": "hinge"}),
                  differentiable=("real", "fake"), growth="quadratic", nonnegative=False,
                  convex=True))  # every kind: sums of convex terms of each output
