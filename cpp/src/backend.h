// How a device backend plugs into ops.cc. A device's own extension module (fastloss._cuda)
// builds a DeviceBackend and hands it to fastloss._core at import (a capsule); ops.cc then sends
// every request whose arrays live on that device to it. The table holds plain C function
// pointers and reports errors as text, so no C++ exception or type crosses the boundary between
// the two shared libraries, and _core never links the device's runtime.
#pragma once

#include <cstddef>

#include "ops.h"

namespace fastloss {

// Bumped whenever DeviceBackend or LossRequest changes shape.
constexpr int kBackendAbiVersion = 1;

struct DeviceBackend {
  int abi_version = kBackendAbiVersion;
  size_t request_size = sizeof(LossRequest);  // both modules must agree on the request layout
  DeviceKind device = DeviceKind::cuda;
  const char* name = "";                      // "cuda", for messages and fastloss.build_info()
  // Whether the backend computes this kernel (an index into kKernels).
  bool (*has_kernel)(int kernel) = nullptr;
  // Runs a request that ops.cc has checked: 0 on success, else non-zero with a message in
  // `error` (raised as ValueError).
  int (*run)(const LossRequest* request, LossResult* result, char* error, size_t error_size) =
      nullptr;
  // Devices the backend's runtime sees (0 without a driver or a device).
  int (*device_count)() = nullptr;
};

// Registers `backend` for its device (the last registration wins); false, with the reason in
// `why`, if its ABI does not match this build.
bool register_backend(const DeviceBackend* backend, const char** why);

// The backend registered for `kind`, or nullptr.
const DeviceBackend* device_backend(DeviceKind kind);

// The CPU backend, linked into _core itself: one driver per kernel family (cpp/src/cpu/).
namespace cpu {
LossResult pointwise(const LossRequest& req);
LossResult rows(const LossRequest& req);
LossResult embedding(const LossRequest& req);
// The in-batch losses: batch() sends each to its own driver (losses.def's FL_BATCH lines).
LossResult batch(const LossRequest& req);
#define FL_BATCH(name, driver, ...) LossResult driver(const LossRequest& req);
#include "fastloss/losses.def"
}  // namespace cpu

}  // namespace fastloss
