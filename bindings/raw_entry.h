// The tensor entry of fastloss.torch (see raw_entry.cc).
#pragma once

#include <pybind11/pybind11.h>

namespace fastloss::bindings {

// Adds _core.run_tensors.
void bind_raw_entry(pybind11::module_& m);

}  // namespace fastloss::bindings
