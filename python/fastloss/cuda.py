"""fastloss on CUDA devices.

The CUDA backend is a module of its own, ``fastloss._cuda``, built when the compiler found nvcc
(``FASTLOSS_CUDA=AUTO``; no GPU is needed to build it). At import it hands its backend to the
CPU module ``fastloss._core``, which never links CUDA. Its pointwise driver has not yet run on
a GPU, so it is off unless the process starts with ``FASTLOSS_CUDA_UNVERIFIED=1``
(``bench/gpu_check.sh`` verifies it); off, and for the losses it lacks (the row losses, the
likelihoods), CUDA arrays reach the native dispatch with their device and stream and get a
``ValueError`` naming the loss.

>>> import fastloss
>>> fastloss.cuda.is_available() in (True, False)
True
"""

from __future__ import annotations

import importlib
import importlib.util

from . import _core

# Built without CUDA, there is no module to find; a module that is there but fails to import is
# a real error and propagates.
if importlib.util.find_spec(f"{__package__}._cuda") is None:
    _cuda = None
else:
    _cuda = importlib.import_module(f"{__package__}._cuda")
    _core.register_backend(_cuda.backend())


def is_built() -> bool:
    """Whether this installation has the CUDA module."""
    return _cuda is not None


def device_count() -> int:
    """CUDA devices the CUDA runtime sees (0 without the module, a driver or a device)."""
    return _cuda.device_count() if _cuda is not None else 0


def is_available() -> bool:
    """Whether CUDA arrays can reach a device here: the module is built and sees a device."""
    return device_count() > 0
