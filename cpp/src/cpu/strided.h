// Helpers for the drivers: walking n-d views in runs along the innermost dimension, and moving a
// run between a strided (or foreign-dtype, or misaligned) operand and a contiguous buffer.
#pragma once

#include <cstdint>
#include <cstring>

#include "fastloss/tensor.h"

namespace fastloss::cpu {

template <class T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() { return DType::f32; }
template <>
constexpr DType dtype_of<double>() { return DType::f64; }

// Reads one element of any real dtype as T (unaligned-safe).
template <class T>
inline T read_as(const char* p, DType dt) {
  switch (dt) {
#define FL_READ(tag, ctype) \
  case DType::tag: { ctype v; std::memcpy(&v, p, sizeof v); return T(v); }
    FL_READ(f32, float) FL_READ(f64, double) FL_READ(i8, int8_t) FL_READ(i16, int16_t)
    FL_READ(i32, int32_t) FL_READ(i64, int64_t) FL_READ(u8, uint8_t) FL_READ(u16, uint16_t)
    FL_READ(u32, uint32_t) FL_READ(u64, uint64_t) FL_READ(boolean, bool)
#undef FL_READ
  }
  return T(0);
}

inline int64_t read_label(const char* p, DType dt) {
  if (dt == DType::u64) {  // keep huge unsigned labels out of range instead of wrapping negative
    uint64_t v;
    std::memcpy(&v, p, sizeof v);
    return v > uint64_t(INT64_MAX) ? INT64_MAX : int64_t(v);
  }
  return read_as<int64_t>(p, dt);
}

// True when n elements of type T at p with this byte stride can be used in place.
template <class T>
inline bool usable_in_place(const char* p, int64_t stride, DType dt) {
  return dt == dtype_of<T>() && stride == int64_t(sizeof(T)) &&
         reinterpret_cast<uintptr_t>(p) % alignof(T) == 0;
}

// Returns a pointer to n contiguous T values of the run: the operand itself when possible, else
// `buf` filled by converting the strided elements.
// Converts n elements of source type S at byte stride `stride` into buf (one typed loop, so the
// dtype switch happens once per run, not per element).
template <class T, class S>
inline void convert_run(const char* p, int64_t stride, int64_t n, T* buf) {
  for (int64_t i = 0; i < n; ++i) {
    S v;
    std::memcpy(&v, p + i * stride, sizeof v);
    buf[i] = T(v);
  }
}

// n elements at p as contiguous T: p itself when usable in place (and allowed), else converted
// into buf. A copy (in_place = false) is read from the caller's memory exactly once, so code that
// reads each element twice cannot see two values of one written concurrently.
template <class T>
inline const T* load_run(const char* p, int64_t stride, DType dt, int64_t n, T* buf,
                         bool in_place = true) {
  if (in_place && usable_in_place<T>(p, stride, dt)) return reinterpret_cast<const T*>(p);
  if (stride == 0) {
    T v = read_as<T>(p, dt);
    for (int64_t i = 0; i < n; ++i) buf[i] = v;
    return buf;
  }
  switch (dt) {
#define FL_CONVERT(tag, ctype) \
  case DType::tag: convert_run<T, ctype>(p, stride, n, buf); break;
    FL_CONVERT(f32, float) FL_CONVERT(f64, double) FL_CONVERT(i8, int8_t) FL_CONVERT(i16, int16_t)
    FL_CONVERT(i32, int32_t) FL_CONVERT(i64, int64_t) FL_CONVERT(u8, uint8_t)
    FL_CONVERT(u16, uint16_t) FL_CONVERT(u32, uint32_t) FL_CONVERT(u64, uint64_t)
    FL_CONVERT(boolean, bool)
#undef FL_CONVERT
  }
  return buf;
}

// Writes n values from buf to a strided output of dtype T.
template <class T>
inline void store_run(char* p, int64_t stride, int64_t n, const T* buf) {
  for (int64_t i = 0; i < n; ++i) std::memcpy(p + i * stride, &buf[i], sizeof(T));
}

// Walks the flat index range [begin, end) of an n-d shape in runs along the last dimension,
// keeping one byte offset per operand.
template <int kOperands>
struct RunWalker {
  int ndim;
  const int64_t* shape;
  const int64_t (*strides)[kMaxDims];  // strides[operand][dim]
  int64_t index[kMaxDims] = {};
  int64_t offset[kOperands] = {};

  RunWalker(int ndim_, const int64_t* shape_, const int64_t (*strides_)[kMaxDims], int64_t flat)
      : ndim(ndim_), shape(shape_), strides(strides_) {
    for (int d = ndim - 1; d >= 0; --d) {
      index[d] = flat % shape[d];
      flat /= shape[d];
    }
    recompute();
  }

  void recompute() {
    for (int k = 0; k < kOperands; ++k) {
      int64_t off = 0;
      for (int d = 0; d < ndim; ++d) off += index[d] * strides[k][d];
      offset[k] = off;
    }
  }

  int64_t run_left() const { return shape[ndim - 1] - index[ndim - 1]; }

  void advance(int64_t n) {
    index[ndim - 1] += n;
    if (index[ndim - 1] < shape[ndim - 1]) {
      for (int k = 0; k < kOperands; ++k) offset[k] += n * strides[k][ndim - 1];
      return;
    }
    index[ndim - 1] = 0;
    for (int d = ndim - 2; d >= 0; --d) {
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
    recompute();
  }
};

// Merges adjacent dimensions that every operand traverses uniformly, and drops size-1 ones, so
// that contiguous arrays become one long run. Returns the new ndim (>= 1).
template <int kOperands>
inline int coalesce(int ndim, int64_t* shape, int64_t (*strides)[kMaxDims]) {
  int out = 0;
  for (int d = 0; d < ndim; ++d) {
    if (shape[d] == 1) continue;
    if (out > 0) {
      bool mergeable = true;
      for (int k = 0; k < kOperands; ++k)
        mergeable &= strides[k][out - 1] == strides[k][d] * shape[d];
      if (mergeable) {
        shape[out - 1] *= shape[d];
        for (int k = 0; k < kOperands; ++k) strides[k][out - 1] = strides[k][d];
        continue;
      }
    }
    shape[out] = shape[d];
    for (int k = 0; k < kOperands; ++k) strides[k][out] = strides[k][d];
    ++out;
  }
  if (out == 0) {
    shape[0] = 1;
    for (int k = 0; k < kOperands; ++k) strides[k][0] = 0;
    out = 1;
  }
  return out;
}

}  // namespace fastloss::cpu
