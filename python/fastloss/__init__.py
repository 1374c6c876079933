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
from ._classification import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    hinge,
    multiclass_hinge,
    sigmoid_focal,
    softmax_focal,
    squared_hinge,
)
from ._regression import huber, log_cosh, mae, mse, quantile, smooth_l1

__version__ = _core.version

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "build_info",
    "cross_entropy",
    "cuda",
    "empty_output_cache",
    "get_num_threads",
    "grad",
    "hinge",
    "huber",
    "log_cosh",
    "mae",
    "mse",
    "multiclass_hinge",
    "quantile",
    "reference",
    "set_num_threads",
    "set_output_cache_limit",
    "sigmoid_focal",
    "smooth_l1",
    "softmax_focal",
    "squared_hinge",
    "value_and_grad",
]
