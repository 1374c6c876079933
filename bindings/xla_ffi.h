// The XLA FFI handler of fastloss.jax (xla_ffi.cc): _core.xla_ffi_handlers() gives its capsule.
#pragma once

#include <pybind11/pybind11.h>

namespace fastloss::bindings {

void bind_xla_ffi(pybind11::module_& m);

}  // namespace fastloss::bindings
