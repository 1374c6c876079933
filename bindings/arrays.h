// Python array arguments → View. NumPy arrays are read through their buffer; arrays on another
// device arrive as fastloss._device.DeviceArray, a DLPack capsule plus the shape and byte strides
// the Python layer gave it (broadcast, moved axes). Nothing is copied and no device memory is
// touched here: the backend of the views' device does the reading.
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>
#include <optional>

#include "fastloss/tensor.h"

namespace fastloss::bindings {

namespace py = pybind11;

// The views of one call. They point into the arguments, which the caller keeps alive.
class CallArrays {
 public:
  explicit CallArrays(const char* fn) : fn_(fn) {}
  CallArrays(const CallArrays&) = delete;
  CallArrays& operator=(const CallArrays&) = delete;

  const View* input(py::handle obj);     // a required array
  const View* optional(py::handle obj);  // None → nullptr
  View* output(py::handle obj);          // None → nullptr; must be writable

  // The CUDA stream the device arrays were exported on (DLPack's consumer stream): the work
  // must be ordered on it. 0 when every argument is a NumPy array.
  intptr_t stream() const { return stream_; }

 private:
  View* add(py::handle obj, bool writable);

  static constexpr int kMaxArrays = 12;
  const char* fn_;
  View views_[kMaxArrays];
  int count_ = 0;
  intptr_t stream_ = 0;
};

// The dtype of a NumPy array (`array` must be one) if the kernels read it: native byte order,
// bool, integers, float32, float64. Read from the array's header, no Python objects made.
std::optional<DType> numpy_dtype(py::handle array);

// A View of a NumPy array of at most kMaxDims dimensions whose dtype is `dtype`.
View numpy_view(py::handle array, DType dtype);

// (device_type, device_id, dtype name, shape, byte strides) of a DLPack capsule, without
// consuming it (its producer's destructor still owns the tensor). For fastloss._device.
py::tuple dlpack_info(py::handle capsule);

}  // namespace fastloss::bindings
