// _core.scan_weights: the native check and sum of a weight array (cpp/src/weight_scan.h).
#pragma once

#include <pybind11/pybind11.h>

namespace fastloss::bindings {

void bind_weights(pybind11::module_& m);

}  // namespace fastloss::bindings
