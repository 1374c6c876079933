// Large output arrays (gradients, unreduced losses) whose memory is recycled across calls.
#pragma once

#include <pybind11/numpy.h>

#include <cstddef>
#include <vector>

#include "fastloss/tensor.h"

namespace fastloss::bindings {

// Outputs of at least this many bytes come from the cache; smaller ones from NumPy (malloc
// recycles them already and they cost no page faults worth avoiding).
constexpr size_t kCachedOutputMinBytes = size_t(1) << 20;

// A new C-contiguous float32/float64 array of `shape`, uninitialised (as np.empty).
pybind11::array new_output(const std::vector<pybind11::ssize_t>& shape, DType dtype);

// Adds _core.new_output, _core.set_output_cache_limit, _core.output_cache_stats,
// _core.release_output_cache.
void bind_output_buffers(pybind11::module_& m);

}  // namespace fastloss::bindings
