// A plain, non-owning view of an n-d array: data, dtype, device, shape and byte strides.
// No Python and no CUDA here; every backend and the bindings speak this type.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fastloss {

enum class DType : int8_t { f32, f64, i8, i16, i32, i64, u8, u16, u32, u64, boolean };

enum class DeviceKind : int8_t { cpu, cuda };

struct Device {
  DeviceKind kind = DeviceKind::cpu;
  int index = 0;
};

constexpr int kMaxDims = 16;

inline bool is_floating(DType t) { return t == DType::f32 || t == DType::f64; }

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "float32";
    case DType::f64: return "float64";
    case DType::i8: return "int8";
    case DType::i16: return "int16";
    case DType::i32: return "int32";
    case DType::i64: return "int64";
    case DType::u8: return "uint8";
    case DType::u16: return "uint16";
    case DType::u32: return "uint32";
    case DType::u64: return "uint64";
    case DType::boolean: return "bool";
  }
  return "?";
}

inline int64_t dtype_size(DType t) {
  switch (t) {
    case DType::f64: case DType::i64: case DType::u64: return 8;
    case DType::f32: case DType::i32: case DType::u32: return 4;
    case DType::i16: case DType::u16: return 2;
    case DType::i8: case DType::u8: case DType::boolean: return 1;
  }
  return 1;
}

struct View {
  void* data = nullptr;
  DType dtype = DType::f32;
  Device device;
  int ndim = 0;
  int64_t shape[kMaxDims] = {};
  int64_t strides[kMaxDims] = {};  // in bytes; 0 for broadcast dimensions

  int64_t numel() const {
    int64_t n = 1;
    for (int d = 0; d < ndim; ++d) n *= shape[d];
    return n;
  }
};

}  // namespace fastloss
