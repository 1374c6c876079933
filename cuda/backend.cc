// The CUDA backend table handed to fastloss._core (cpp/src/backend.h). This version of fastloss
// has no CUDA kernels yet: has_kernel() answers false for every table entry, so a request with
// CUDA arrays gets ops.cc's clear error naming the loss. The CUDA kernels fill this table in.
#include "cuda_backend.h"

#include <cuda_runtime_api.h>

#include <cstdio>

namespace fastloss::cuda {
namespace {

bool has_kernel(int) { return false; }

int run(const LossRequest* request, LossResult*, char* error, size_t error_size) {
  std::snprintf(error, error_size, "fastloss._cuda has no kernel for %s",
                kernel_info(request->kernel).name);
  return 1;
}

int device_count() {
  int count = 0;
  // Without a driver (or a device) this fails: report none, and clear the runtime's error.
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return count;
}

}  // namespace

const DeviceBackend& backend() {
  static const DeviceBackend table = [] {
    DeviceBackend b;
    b.device = DeviceKind::cuda;
    b.name = "cuda";
    b.has_kernel = has_kernel;
    b.run = run;
    b.device_count = device_count;
    return b;
  }();
  return table;
}

}  // namespace fastloss::cuda
