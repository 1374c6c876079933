// Device-side access to Strided operands (strided.h): element offsets from a flat index, and
// loads that convert any of the kernels' dtypes (labels of any real type) to the compute type.
#pragma once

#include <cstdint>

#include "strided.h"

namespace fastloss::cuda {

// The byte offset of flat (C-order) element i in each of `count` operands.
__device__ inline void element_offsets(const Shape& shape, const Strided* ops, int count,
                                       int64_t i, int64_t* offsets) {
  if (shape.ndim == 1) {  // the common case, a contiguous or evenly strided run: no division
    for (int k = 0; k < count; ++k) offsets[k] = i * ops[k].strides[0];
    return;
  }
  for (int k = 0; k < count; ++k) offsets[k] = 0;
  for (int d = shape.ndim - 1; d >= 0; --d) {
    const int64_t index = i % shape.dims[d];
    i /= shape.dims[d];
    for (int k = 0; k < count; ++k) offsets[k] += index * ops[k].strides[d];
  }
}

template <class T>
__device__ inline T load_as(const Strided& s, int64_t offset) {
  const char* p = s.data + offset;
  switch (s.dtype) {
    case DType::f32: return T(*reinterpret_cast<const float*>(p));
    case DType::f64: return T(*reinterpret_cast<const double*>(p));
    case DType::i8: return T(*reinterpret_cast<const int8_t*>(p));
    case DType::i16: return T(*reinterpret_cast<const int16_t*>(p));
    case DType::i32: return T(*reinterpret_cast<const int32_t*>(p));
    case DType::i64: return T(*reinterpret_cast<const int64_t*>(p));
    case DType::u8: return T(*reinterpret_cast<const uint8_t*>(p));
    case DType::u16: return T(*reinterpret_cast<const uint16_t*>(p));
    case DType::u32: return T(*reinterpret_cast<const uint32_t*>(p));
    case DType::u64: return T(*reinterpret_cast<const uint64_t*>(p));
    case DType::boolean: return T(*reinterpret_cast<const bool*>(p) ? 1 : 0);
  }
  return T(0);
}

// Outputs have the compute type (ops.cc checks it).
template <class T>
__device__ inline void store(const Strided& s, int64_t offset, T v) {
  *reinterpret_cast<T*>(s.data + offset) = v;
}

}  // namespace fastloss::cuda
