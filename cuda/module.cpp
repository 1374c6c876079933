// fastloss._cuda: hands the CUDA backend to fastloss._core (python/fastloss/cuda.py calls
// backend() at import) and says how many devices the CUDA runtime sees.
#include <pybind11/pybind11.h>

#include "cuda_backend.h"

namespace py = pybind11;

PYBIND11_MODULE(_cuda, m) {
  m.doc() = "fastloss CUDA backend (private; use fastloss.cuda)";
  m.def("backend", [] {
    return py::capsule(const_cast<fastloss::DeviceBackend*>(&fastloss::cuda::backend()),
                       "fastloss.DeviceBackend");
  });
  m.def("device_count", [] { return fastloss::cuda::backend().device_count(); });
}
