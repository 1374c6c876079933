#include "arrays.h"

#include <pybind11/numpy.h>

#include <string>

#include "dlpack_abi.h"
#include "fastloss/check.h"

namespace fastloss::bindings {
namespace {

// The DLTensor inside a capsule of either DLPack generation.
const dlpack::Tensor& capsule_tensor(py::handle capsule, const char* fn) {
  PyObject* c = capsule.ptr();
  if (PyCapsule_IsValid(c, "dltensor_versioned")) {
    auto* m = static_cast<dlpack::ManagedTensorVersioned*>(
        PyCapsule_GetPointer(c, "dltensor_versioned"));
    FL_CHECK_TYPE(m->version.major == 1, fn, "DLPack version ", m->version.major, ".",
                  m->version.minor, " is not supported (expected 1.x)");
    return m->dl_tensor;
  }
  if (PyCapsule_IsValid(c, "dltensor"))
    return static_cast<dlpack::ManagedTensor*>(PyCapsule_GetPointer(c, "dltensor"))->dl_tensor;
  throw TypeError(detail::concat("[fastloss.", fn, "] expected an unconsumed DLPack capsule ",
                                 "('dltensor' or 'dltensor_versioned')"));
}

DType dlpack_dtype(dlpack::DataType t, const char* fn) {
  FL_CHECK_TYPE(t.lanes == 1, fn, "vector dtypes (DLPack lanes = ", t.lanes, ") are not supported");
  switch (t.code) {
    case dlpack::kFloat:
      if (t.bits == 32) return DType::f32;
      if (t.bits == 64) return DType::f64;
      break;
    case dlpack::kInt:
    case dlpack::kUInt: {
      const bool is_signed = t.code == dlpack::kInt;
      switch (t.bits) {
        case 8: return is_signed ? DType::i8 : DType::u8;
        case 16: return is_signed ? DType::i16 : DType::u16;
        case 32: return is_signed ? DType::i32 : DType::u32;
        case 64: return is_signed ? DType::i64 : DType::u64;
      }
      break;
    }
    case dlpack::kBool:
      if (t.bits == 8) return DType::boolean;
      break;
  }
  throw TypeError(detail::concat("[fastloss.", fn, "] unsupported DLPack dtype (code ", int(t.code),
                                 ", ", int(t.bits), " bits)"));
}

Device dlpack_device(dlpack::Device d, const char* fn) {
  switch (d.device_type) {
    case dlpack::kCPU: return {DeviceKind::cpu, 0};
    case dlpack::kCUDA: return {DeviceKind::cuda, int(d.device_id)};
  }
  throw ValueError(detail::concat("[fastloss.", fn, "] arrays on DLPack device type ",
                                  d.device_type,
                                  " are not supported (CPU and CUDA only)"));
}

// A DeviceArray: (capsule, shape, byte strides, stream) from its `_fastloss_dlpack`.
View device_view(py::handle obj, const char* fn, intptr_t* stream) {
  const py::tuple t = obj.attr("_fastloss_dlpack");
  const dlpack::Tensor& dl = capsule_tensor(t[0], fn);
  const py::tuple shape = t[1], strides = t[2];
  FL_CHECK(shape.size() == strides.size() && py::len(shape) <= size_t(kMaxDims), fn,
           "arrays may have at most ", kMaxDims, " dimensions");
  View v;
  v.data = static_cast<char*>(dl.data) + dl.byte_offset;
  v.dtype = dlpack_dtype(dl.dtype, fn);
  v.device = dlpack_device(dl.device, fn);
  v.ndim = int(shape.size());
  for (int d = 0; d < v.ndim; ++d) {
    v.shape[d] = shape[d].cast<int64_t>();
    v.strides[d] = strides[d].cast<int64_t>();
  }
  *stream = t[3].cast<intptr_t>();
  return v;
}

// The name of a DLPack dtype ("float32", "bfloat16", ...), "vector" for lanes > 1, or "unknown".
const char* dtype_label(dlpack::DataType t) {
  if (t.lanes != 1) return "vector";
  const int size = t.bits == 8 ? 0 : t.bits == 16 ? 1 : t.bits == 32 ? 2 : t.bits == 64 ? 3 : -1;
  if (size < 0) return "unknown";
  static const char* const floats[] = {"unknown", "float16", "float32", "float64"};
  static const char* const ints[] = {"int8", "int16", "int32", "int64"};
  static const char* const uints[] = {"uint8", "uint16", "uint32", "uint64"};
  switch (t.code) {
    case dlpack::kFloat: return floats[size];
    case dlpack::kBfloat: return size == 1 ? "bfloat16" : "unknown";
    case dlpack::kBool: return size == 0 ? "bool" : "unknown";
    case dlpack::kInt: return ints[size];
    case dlpack::kUInt: return uints[size];
  }
  return "unknown";
}

}  // namespace

std::optional<DType> numpy_dtype(py::handle array) {
  using py::detail::npy_api;
  constexpr bool kLittleEndian = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
  const auto* descr =
      py::detail::array_descriptor_proxy(py::detail::array_proxy(array.ptr())->descr);
  if (descr->byteorder == (kLittleEndian ? '>' : '<')) return std::nullopt;
  const bool long64 = sizeof(long) == 8;
  switch (descr->type_num) {
    case npy_api::NPY_BOOL_: return DType::boolean;
    case npy_api::NPY_FLOAT_: return DType::f32;
    case npy_api::NPY_DOUBLE_: return DType::f64;
    case npy_api::NPY_BYTE_: return DType::i8;
    case npy_api::NPY_UBYTE_: return DType::u8;
    case npy_api::NPY_SHORT_: return DType::i16;
    case npy_api::NPY_USHORT_: return DType::u16;
    case npy_api::NPY_INT_: return DType::i32;
    case npy_api::NPY_UINT_: return DType::u32;
    case npy_api::NPY_LONG_: return long64 ? DType::i64 : DType::i32;
    case npy_api::NPY_ULONG_: return long64 ? DType::u64 : DType::u32;
    case npy_api::NPY_LONGLONG_: return DType::i64;
    case npy_api::NPY_ULONGLONG_: return DType::u64;
  }
  return std::nullopt;
}

View numpy_view(py::handle array, DType dtype) {
  const auto* a = py::detail::array_proxy(array.ptr());
  View v;
  v.data = a->data;
  v.dtype = dtype;
  v.ndim = a->nd;
  for (int d = 0; d < a->nd; ++d) {
    v.shape[d] = a->dimensions[d];
    v.strides[d] = a->strides[d];
  }
  return v;
}

View* CallArrays::add(py::handle obj, bool writable) {
  FL_CHECK(count_ < kMaxArrays, fn_, "too many array arguments");
  View& v = views_[count_++];
  if (py::isinstance<py::array>(obj)) {
    auto a = py::reinterpret_borrow<py::array>(obj);
    if (writable) FL_CHECK(a.writeable(), fn_, "output array is read-only");
    FL_CHECK(a.ndim() <= kMaxDims, fn_, "arrays may have at most ", kMaxDims, " dimensions");
    const std::optional<DType> dtype = numpy_dtype(a);
    if (!dtype) {
      const std::string name = py::str(a.dtype());
      const char order = a.dtype().byteorder();
      if (order == '<' || order == '>')
        throw TypeError(detail::concat("[fastloss.", fn_, "] arrays in non-native byte order (",
                                       name, ") are not supported"));
      throw TypeError(detail::concat("[fastloss.", fn_, "] unsupported dtype ", name));
    }
    v = numpy_view(a, *dtype);
  } else if (py::hasattr(obj, "_fastloss_dlpack")) {
    intptr_t stream = 0;
    v = device_view(obj, fn_, &stream);
    if (v.device.kind != DeviceKind::cpu) stream_ = stream;
  } else {
    throw TypeError(detail::concat("[fastloss.", fn_,
                                   "] expected a NumPy array or a fastloss DeviceArray, got ",
                                   std::string(py::str(py::type::of(obj).attr("__name__")))));
  }
  return &v;
}

const View* CallArrays::input(py::handle obj) { return add(obj, false); }

const View* CallArrays::optional(py::handle obj) {
  return obj.is_none() ? nullptr : add(obj, false);
}

View* CallArrays::output(py::handle obj) { return obj.is_none() ? nullptr : add(obj, true); }

py::tuple dlpack_info(py::handle capsule) {
  const dlpack::Tensor& dl = capsule_tensor(capsule, "dlpack_info");
  FL_CHECK(dl.ndim >= 0 && dl.ndim <= kMaxDims, "dlpack_info", "arrays may have at most ",
           kMaxDims, " dimensions, got ", dl.ndim);
  const int64_t itemsize = (int64_t(dl.dtype.bits) * dl.dtype.lanes + 7) / 8;
  py::tuple shape(dl.ndim), strides(dl.ndim);
  int64_t contiguous = itemsize;  // DLPack's null strides mean C order
  for (int d = dl.ndim - 1; d >= 0; --d) {
    shape[d] = dl.shape[d];
    strides[d] = dl.strides ? dl.strides[d] * itemsize : contiguous;
    contiguous *= dl.shape[d];
  }
  return py::make_tuple(dl.device.device_type, dl.device.device_id, dtype_label(dl.dtype), shape,
                        strides);
}

}  // namespace fastloss::bindings
