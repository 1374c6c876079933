"""fastloss on CUDA devices.

The CUDA backend is a module of its own, ``fastloss._cuda``, built when the compiler found nvcc
(``FASTLOSS_CUDA=AUTO``; no GPU is needed to build it). At import it hands its backend to the
CPU module ``fastloss._core``, which never links CUDA. This version has no CUDA kernels yet:
CUDA arrays reach the native dispatch with their device and stream and get a ``ValueError``
naming the loss.

>>> import fastloss
>>> fastloss.cuda.is_available() in (True, False)
True
"""

from __future__ import annotations

import importlib.util

from . import _core

# `from . import _cuda` reports a missing submodule as a plain ImportError ("cannot import
# name"), like any other import failure: ask whether the module exists instead, so that a build
# without CUDA imports and a broken CUDA module still raises.
if importlib.util.find_spec(f"{__package__}._cuda") is None:  # built without CUDA
    _cuda = None
else:
    from . import _cuda
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
