// The CUDA backend table handed to fastloss._core (cpp/src/backend.h). The pointwise driver
// (cuda/pointwise.cu) runs the pointwise kernels on the device, except the likelihoods'
// (their functors write d/dy and d/dp themselves, a call the driver does not make yet). It has
// been compiled but never run on a GPU, so it is off unless FASTLOSS_CUDA_UNVERIFIED=1 is set
// (bench/gpu_check.sh sets it to verify it); off, and for every other kernel, has_kernel()
// answers false and a request with CUDA arrays gets ops.cc's clear error naming the loss.
#include "cuda_backend.h"

#include <cuda_runtime_api.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>

#include "pointwise.h"

namespace fastloss::cuda {
namespace {

bool driver_enabled() {
  static const bool enabled = [] {
    const char* v = std::getenv("FASTLOSS_CUDA_UNVERIFIED");
    return v && std::strcmp(v, "1") == 0;
  }();
  return enabled;
}

bool has_kernel(int kernel) {
  if (!driver_enabled() || kernel < 0 || kernel >= kNumKernels) return false;
  const KernelInfo& info = kKernels[kernel];
  return info.family == Family::pointwise && !info.functor_grads();
}

// (ops.cc puts "[fastloss.<name>] " in front of the message.)
int fail(char* error, size_t error_size, const char* why) {
  std::snprintf(error, error_size, "CUDA: %s", why);
  return 1;
}

// No exception may leave: the table is called across two shared libraries.
int run(const LossRequest* request, LossResult* result, char* error, size_t error_size) {
  const LossRequest& req = *request;
  if (!has_kernel(int(req.kernel)))
    return fail(error, error_size, "no CUDA kernel for this loss");
  try {
    DeviceGuard device(req.x()->device.index);
    if (!device.status()) return fail(error, error_size, device.status().message.c_str());
    const Status s = pointwise(req, result);
    return s ? 0 : fail(error, error_size, s.message.c_str());
  } catch (const std::exception& e) {
    return fail(error, error_size, e.what());
  }
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
