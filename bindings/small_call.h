// The small-call path of the pointwise losses (see small_call.cc).
#pragma once

#include <pybind11/pybind11.h>

namespace fastloss::bindings {

// Adds _core.<loss>_small for every pointwise loss.
void bind_small_calls(pybind11::module_& m);

}  // namespace fastloss::bindings
