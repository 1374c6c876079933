#include "weights.h"

#include <string>

#include "arrays.h"
#include "fastloss/check.h"
#include "weight_scan.h"

namespace fastloss::bindings {

namespace py = pybind11;

void bind_weights(py::module_& m) {
  // scan_weights(fn, w) -> (total, valid, bad_value) for a NumPy array of any real dtype and
  // strides, read in place with the GIL released. `fn` names the caller in errors.
  m.def("scan_weights", [](const std::string& fn, py::handle w) {
    CallArrays arrays(fn.c_str());
    const View* view = arrays.input(w);
    FL_CHECK(view->device.kind == DeviceKind::cpu, fn.c_str(), "weights must be on the CPU");
    WeightScan scan;
    {
      py::gil_scoped_release release;
      scan = scan_weights(*view);
    }
    return py::make_tuple(scan.total, scan.valid, scan.bad_value);
  }, py::arg("fn"), py::arg("w"));
}

}  // namespace fastloss::bindings
