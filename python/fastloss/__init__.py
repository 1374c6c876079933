"""fastloss: loss functions whose forward and backward run in one fused native kernel.

See README.md for the list of losses, their semantics and the benchmark.
"""

try:
    from . import _core  # noqa: F401
except ImportError as e:  # never fall back to a slow path silently
    raise ImportError(
        "fastloss: the native extension fastloss._core is missing or failed to load "
        f"({e}). Reinstall with `pip install .` from a source checkout (it builds the C++ "
        "kernels with CMake); fastloss has no pure-Python fallback."
    ) from e

from . import cuda, reference
from ._autodiff import grad, value_and_grad
from ._build import (build_info, empty_output_cache, get_num_threads, set_num_threads,
                     set_output_cache_limit)
from . import (_adversarial, _center, _classification, _combine, _divergence, _in_batch,
               _likelihood, _metric, _multilabel, _ranking, _regression, _structured)
# The public losses: each family module's __all__, so a new loss is listed once, beside its
# function (importing a family module also registers its losses in _registry.REGISTRY).
from ._adversarial import *  # noqa: F401,F403
from ._center import *  # noqa: F401,F403
from ._classification import *  # noqa: F401,F403
from ._divergence import *  # noqa: F401,F403
from ._in_batch import *  # noqa: F401,F403
from ._likelihood import *  # noqa: F401,F403
from ._metric import *  # noqa: F401,F403
from ._multilabel import *  # noqa: F401,F403
from ._ranking import *  # noqa: F401,F403
from ._regression import *  # noqa: F401,F403
from ._structured import *  # noqa: F401,F403
from ._combine import *  # noqa: F401,F403
# After the family modules: it states the properties of the losses they register.
from ._properties import LossProperties, properties

__version__ = _core.version

__all__ = sorted([
    *_regression.__all__,
    *_classification.__all__,
    *_likelihood.__all__,
    *_multilabel.__all__,
    *_divergence.__all__,
    *_ranking.__all__,
    *_structured.__all__,
    *_metric.__all__,
    *_in_batch.__all__,
    *_center.__all__,
    *_adversarial.__all__,
    *_combine.__all__,
    "build_info",
    "cuda",
    "empty_output_cache",
    "get_num_threads",
    "grad",
    "LossProperties",
    "properties",
    "reference",
    "set_num_threads",
    "set_output_cache_limit",
    "value_and_grad",
])
