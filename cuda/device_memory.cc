#include "device_memory.h"

#include <algorithm>

namespace fastloss::cuda {

Status Status::from(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return ok();
  cudaGetLastError();  // clear it, so the next call does not report it again
  return error(std::string(what) + ": " + cudaGetErrorString(e));
}

DeviceGuard::DeviceGuard(int device) {
  status_ = Status::from(cudaGetDevice(&previous_), "cudaGetDevice");
  if (status_ && previous_ != device) status_ = Status::from(cudaSetDevice(device), "cudaSetDevice");
}

DeviceGuard::~DeviceGuard() {
  int now = -1;
  if (previous_ >= 0 && cudaGetDevice(&now) == cudaSuccess && now != previous_)
    cudaSetDevice(previous_);
}

int grid_limit(int device) {
  int sms = 0;
  if (cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess) {
    cudaGetLastError();
    sms = 132;
  }
  return std::max(1, sms) * 8;
}

void* DeviceScratch::alloc_bytes(size_t bytes) {
  if (!status_) return nullptr;
  if (used_ == int(sizeof blocks_ / sizeof blocks_[0])) {
    status_ = Status::error("fastloss._cuda: too many scratch buffers in one call");
    return nullptr;
  }
  void* p = nullptr;
  status_ = Status::from(cudaMallocAsync(&p, std::max<size_t>(bytes, 1), stream_),
                         "cudaMallocAsync");
  if (!status_) return nullptr;
  blocks_[used_++] = p;
  return p;
}

Status DeviceScratch::read_back(std::initializer_list<Copy> copies) {
  if (!status_) return status_;
  Status s = Status::from(cudaGetLastError(), "kernel launch");
  for (const Copy& c : copies) {
    if (!s) break;
    s = Status::from(cudaMemcpyAsync(c.host, c.device, c.bytes, cudaMemcpyDeviceToHost, stream_),
                     "cudaMemcpyAsync");
  }
  if (s) s = Status::from(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
  return s;
}

DeviceScratch::~DeviceScratch() {
  for (int i = 0; i < used_; ++i) cudaFreeAsync(blocks_[i], stream_);
}

}  // namespace fastloss::cuda
