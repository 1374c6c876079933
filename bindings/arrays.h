// Python array arguments → View. NumPy arrays are read through their buffer; arrays on another
// device arrive as fastloss._device.DeviceArray, a DLPack capsule plus the shape and byte strides
// the Python layer gave it (broadcast, moved axes). Nothing is copied and no device memory is
// touched here: the backend of the views' device does the reading.
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>

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

// (device_type, device_id, dtype name, shape, byte strides) of a DLPack capsule, without
// consuming it (its producer's destructor still owns the tensor). For fastloss._device.
py::tuple dlpack_info(py::handle capsule);

}  // namespace fastloss::bindings
