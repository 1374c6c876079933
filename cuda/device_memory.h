// Host-side helpers of the CUDA drivers: errors as values (nothing may throw across the backend
// table), the current device set for the call, stream-ordered scratch memory, and the results
// read back with a wait on the caller's stream alone (never a device-wide synchronisation).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>

namespace fastloss::cuda {

struct Status {
  std::string message;  // empty: success
  static Status ok() { return {}; }
  static Status error(std::string m) { return {std::move(m)}; }
  static Status from(cudaError_t e, const char* what);
  explicit operator bool() const { return message.empty(); }
};

// Makes `device` current for the scope of a call, and restores the caller's device after it.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device);
  ~DeviceGuard();
  const Status& status() const { return status_; }

 private:
  int previous_ = -1;
  Status status_;
};

// The most blocks worth launching for a grid-stride kernel on `device` (a few per SM); the
// drivers' results do not depend on it.
int grid_limit(int device);

// Scratch buffers allocated and freed in the order of `stream` (cudaMallocAsync / cudaFreeAsync).
class DeviceScratch {
 public:
  explicit DeviceScratch(intptr_t stream) : stream_(reinterpret_cast<cudaStream_t>(stream)) {}
  ~DeviceScratch();
  DeviceScratch(const DeviceScratch&) = delete;
  DeviceScratch& operator=(const DeviceScratch&) = delete;

  template <class T>
  T* alloc(int64_t count) {
    return static_cast<T*>(alloc_bytes(size_t(count) * sizeof(T)));
  }
  bool ok() const { return bool(status_); }
  const Status& status() const { return status_; }

  struct Copy {
    void* host;
    const void* device;
    size_t bytes;
  };
  // Copies device results to the host once the stream has reached this point, waits for the
  // stream, and reports any error of the work queued so far (a failed launch, a fault).
  Status read_back(std::initializer_list<Copy> copies);

 private:
  void* alloc_bytes(size_t bytes);

  cudaStream_t stream_;
  void* blocks_[8] = {};
  int used_ = 0;
  Status status_;
};

}  // namespace fastloss::cuda
