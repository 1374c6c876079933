// The request's arrays as the CUDA kernels see them: a data pointer, a dtype and byte strides over
// the call's coalesced shape (built on the host; strided.cuh reads them on the device).
#pragma once

#include <cstdint>

#include "fastloss/tensor.h"

namespace fastloss::cuda {

struct Shape {
  int ndim = 0;
  int64_t dims[kMaxDims] = {};
};

struct Strided {
  char* data = nullptr;  // nullptr: the operand is not given
  DType dtype = DType::f32;
  int64_t strides[kMaxDims] = {};  // bytes, over Shape's dims; 0 where broadcast
};

// Host: the call's shape with size-1 dimensions dropped and dimensions merged wherever every
// given operand is contiguous across them, and each view's strides over that shape (operands
// broadcast to x's shape by the caller; a missing view stays nullptr).
Shape coalesced_shape(const View& x, const View* const* views, int count, Strided* out);

}  // namespace fastloss::cuda
