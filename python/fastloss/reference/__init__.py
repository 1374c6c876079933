"""Float64 NumPy reference implementations: the test oracle for every fastloss kernel.

Each function reads like its formula in the lecture "Loss Functions — Mathematical Foundations
and Learning Objectives" (below: the lecture) and uses a numerically stable form of it
(``np.logaddexp`` for softplus, log-softmax by max subtraction, ``np.log1p``/``np.expm1`` near
zero).  Every loss ``NAME`` has an analytic gradient ``NAME_grad``.  This package depends on
NumPy only and imports nothing from the rest of ``fastloss``, so it stays an independent oracle.

Layout: ``regression`` (functions of pred - target), ``binary`` (one score or probability per
element), ``multiclass`` (rows of logits, one class each), ``multilabel`` (rows of scores, several
classes each), ``likelihood`` (negative log-likelihoods and divergences of given probabilities),
``divergence`` (two rows of logits), ``ranking`` (scores to order), ``metric`` (distances, and
rows of embedding features), ``in_batch`` (losses over the whole batch), ``center_loss`` (features
and their class centres), ``adversarial`` (the GAN losses: discriminator outputs for real and
generated samples); the shared argument checks, reductions and the ``argnums`` selection live
in the private modules next to them.

Common contract
---------------
* ``NAME(*arrays, <keyword-only hyperparameters>, reduction="mean", sample_weight=None)``.
  Arrays are read with ``np.asarray(a, dtype=float64)`` (class labels as int64) and never modified.
* ``sample_weight`` ``s`` is broadcast to the *unreduced* loss shape; ``"none"`` returns
  ``s * l``, ``"sum"`` returns ``sum(s * l)`` and ``"mean"`` returns ``sum(s * l) / sum(s * n)``
  where ``n`` is the per-element normaliser: 1 for most losses, ``c[t_i]`` (0 for ignored rows)
  for index-target cross entropy and 0/1 (ignored/not) for softmax focal.  Without weights
  ``s = 1``.  Reduced results are 0-d float64 ndarrays.  Empty input: mean is nan, sum is 0.
* ``NAME_grad(*arrays, grad_output=None, argnums=0, **same_kwargs)`` is the gradient of
  ``sum(grad_output * NAME(*arrays, **kw))``.  For ``"mean"`` and ``"sum"`` ``grad_output`` is a
  scalar (default 1); for ``"none"`` it is broadcastable to the unreduced loss shape (default
  ones).  ``argnums`` (as in ``jax.grad``) indexes the array arguments: an int returns that
  argument's gradient, a tuple of ints a tuple of them in that order; asking for an argument
  without a gradient (class labels, binary targets) raises ``ValueError``.  The regression
  losses are differentiable in pred and target, the divergences in both logits arrays,
  ``margin_ranking`` in both scores, ``gan_discriminator`` in real and fake, ``contrastive``
  and ``triplet`` in every embedding array, ``center`` in the features and the centres, every
  other loss in its first argument only.
  Each gradient has its argument's shape, float64.  Where the loss has a kink the gradient is
  the subgradient documented on each function.
* Invalid hyperparameters, reductions, shapes, labels or argnums raise ``ValueError`` with a
  message that starts ``"[fastloss.NAME] "`` and names the argument and the offending value.
"""

from __future__ import annotations

from . import (adversarial, binary, center_loss, divergence, in_batch, likelihood, metric,
               multiclass, multilabel, ranking, regression)
from .adversarial import *  # noqa: F401,F403
from .binary import *  # noqa: F401,F403 (each module's __all__: a new loss is listed once, beside it)
from .center_loss import *  # noqa: F401,F403
from .divergence import *  # noqa: F401,F403
from .in_batch import *  # noqa: F401,F403
from .likelihood import *  # noqa: F401,F403
from .metric import *  # noqa: F401,F403
from .multiclass import *  # noqa: F401,F403
from .multilabel import *  # noqa: F401,F403
from .ranking import *  # noqa: F401,F403
from .regression import *  # noqa: F401,F403

__all__ = [*regression.__all__, *binary.__all__, *multiclass.__all__, *multilabel.__all__,
           *likelihood.__all__, *divergence.__all__, *ranking.__all__,
           *metric.__all__, *in_batch.__all__, *center_loss.__all__, *adversarial.__all__]
