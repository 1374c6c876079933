// pybind11 bindings: arrays in (as views, never copied: arrays.h), results out, GIL released
// around the kernels. The Python package (python/fastloss) is the public API; this module is
// private.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <vector>

#include "arrays.h"
#include "output_buffers.h"
#include "raw_entry.h"
#include "small_call.h"
#include "weights.h"
#include "xla_ffi.h"
#include "backend.h"
#include "fastloss/check.h"
#include "fastloss/kernels.h"
#include "ops.h"
#include "runtime.h"

namespace py = pybind11;
using namespace fastloss;

namespace {

Reduction to_reduction(int r) {
  if (r < 0 || r > 2) throw fastloss::ValueError("[fastloss] bad reduction code");
  return Reduction(r);
}

// The one entry of every loss: run(kernel, inputs, grads, aux, params, weight, weight_total,
// upstream, upstream_scalar, reduction, ignore_index, loss_out) -> (value, bad_index, bad_label).
// inputs/grads/aux are tuples of arrays or None in the kernel's declared order (ops.h).
py::tuple run_kernel(int kernel, const py::tuple& inputs, const py::tuple& grads,
                     const py::tuple& aux, const std::vector<double>& params, py::handle weight,
                     double weight_total, py::handle upstream, double upstream_scalar,
                     int reduction, std::optional<int64_t> ignore_index, py::handle loss_out) {
  FL_CHECK(kernel >= 0 && kernel < kNumKernels, "run", "unknown kernel id ", kernel);
  LossRequest req;
  req.kernel = Kernel(kernel);
  req.name = kernel_info(req.kernel).stem;
  const char* name = req.name;
  FL_CHECK(inputs.size() <= size_t(kMaxInputs) && grads.size() <= size_t(kMaxInputs), name,
           "at most ", kMaxInputs, " inputs and one gradient per input");
  FL_CHECK(aux.size() <= size_t(kMaxAux), name, "at most ", kMaxAux, " auxiliary arrays");
  FL_CHECK(params.size() <= size_t(kMaxParams), name, "too many parameters");
  bindings::CallArrays arrays(name);
  for (size_t i = 0; i < inputs.size(); ++i) req.inputs[i] = arrays.input(inputs[i]);
  for (size_t i = 0; i < grads.size(); ++i) req.grads[i] = arrays.output(grads[i]);
  for (size_t i = 0; i < aux.size(); ++i) req.aux[i] = arrays.optional(aux[i]);
  for (size_t i = 0; i < params.size(); ++i) req.params[i] = params[i];
  req.weight = arrays.optional(weight);
  req.weight_total = weight_total;
  req.upstream = arrays.optional(upstream);
  req.upstream_scalar = upstream_scalar;
  req.reduction = to_reduction(reduction);
  req.has_ignore_index = ignore_index.has_value();
  req.ignore_index = ignore_index.value_or(0);
  req.loss_out = arrays.output(loss_out);
  req.stream = arrays.stream();
  LossResult r;
  {
    py::gil_scoped_release release;
    r = fastloss::run(req);
  }
  return py::make_tuple(r.value, r.bad_index, r.bad_label);
}

// The loss table (losses.def) as Python sees it: {name: facts}, id being run()'s kernel.
py::dict kernel_table() {
  py::dict out;
  for (int k = 0; k < kNumKernels; ++k) {
    const KernelInfo& info = kKernels[k];
    py::dict facts;
    facts["id"] = k;
    facts["stem"] = info.stem;
    facts["family"] = fact_name(info.family);
    facts["target"] = fact_name(info.target);
    facts["aux"] = fact_name(info.aux);
    facts["class_weight"] = fact_name(info.class_weight);
    facts["target_differentiable"] = info.target_differentiable();
    facts["inputs"] = int(info.embedding_inputs);
    facts["row_label"] = fact_name(info.row_label);
    out[info.name] = facts;
  }
  return out;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "fastloss native kernels (private; use the fastloss package)";

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const fastloss::TypeError& e) {
      PyErr_SetString(PyExc_TypeError, e.what());
    } catch (const fastloss::ValueError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });

  m.def("run", &run_kernel, py::arg("kernel"), py::arg("inputs"), py::arg("grads"),
        py::arg("aux"), py::arg("params"), py::arg("weight"), py::arg("weight_total"),
        py::arg("upstream"), py::arg("upstream_scalar"), py::arg("reduction"),
        py::arg("ignore_index"), py::arg("loss_out"));
  m.def("kernels", &kernel_table);

  // Evaluates one of math.h's vectorised functions (exp, expm1, log, log1p) with the active ISA,
  // for the ULP tests. x must be a contiguous float32 or float64 array; returns a new array.
  m.def("math_probe", [](const std::string& fn, const py::array& x) {
    FL_CHECK(x.flags() & py::array::c_style, "math_probe", "x must be C-contiguous");
    const bool f32 = py::isinstance<py::array_t<float>>(x);
    FL_CHECK_TYPE(f32 || py::isinstance<py::array_t<double>>(x), "math_probe",
                  "x must be float32 or float64");
    py::array out(x.dtype(), x.request().shape);
    FL_CHECK(runtime::math_probe(fn.c_str(), f32 ? DType::f32 : DType::f64, x.data(),
                                 out.mutable_data(), x.size()),
             "math_probe", "unknown function '", fn, "'");
    return out;
  });

  // The benchmark's roofline: reads the float32 arrays `reads`, writes their sum to `writes`.
  m.def("stream", [](const std::vector<py::array_t<float, 0>>& reads,
                     const std::vector<py::array_t<float, 0>>& writes) {
    FL_CHECK(!reads.empty(), "stream", "needs at least one input");
    const int64_t n = reads[0].size();
    std::vector<const float*> r;
    std::vector<float*> w;
    for (const auto& a : reads) {
      FL_CHECK(a.size() == n && (a.flags() & py::array::c_style), "stream", "inputs must be C-contiguous and equal in size");
      r.push_back(a.data());
    }
    for (auto a : writes) {
      FL_CHECK(a.size() == n && (a.flags() & py::array::c_style) && a.writeable(), "stream", "outputs must be writable, C-contiguous and equal in size");
      w.push_back(a.mutable_data());
    }
    py::gil_scoped_release release;
    return runtime::stream_f32(r.data(), int(r.size()), w.data(), int(w.size()), n);
  });

  bindings::bind_small_calls(m);
  bindings::bind_raw_entry(m);
  bindings::bind_output_buffers(m);
  bindings::bind_weights(m);
  bindings::bind_xla_ffi(m);  // fastloss.jax's XLA custom call (xla_ffi.cc)
  m.def("dlpack_info", &bindings::dlpack_info, py::arg("capsule"));

  m.def("get_num_threads", &runtime::num_threads);
  m.def("set_num_threads", [](int n) {
    FL_CHECK(n >= 1, "set_num_threads", "n must be >= 1, got ", n);
    runtime::set_num_threads(n);
  });
  m.def("compiled_isas", [] {
    int count = 0;
    const char* const* names = runtime::compiled_isas(&count);
    std::vector<std::string> out(names, names + count);
    return out;
  });
  m.def("active_isa", [] { return std::string(runtime::active_isa()); });
  m.def("isa_override_problem", [] { return std::string(runtime::isa_override_problem()); });
  m.def("isa_supported", [](const std::string& name) { return runtime::isa_supported(name.c_str()); });
  m.def("select_isa", [](const std::string& name) {
    FL_CHECK(runtime::select_isa(name.c_str()), "select_isa", "ISA '", name,
             "' is not compiled into this build or not supported by this CPU");
  });
  // A device module (fastloss._cuda) hands its backend table over at import (cpp/src/backend.h).
  m.def("register_backend", [](py::capsule table) {
    FL_CHECK(std::string(table.name() ? table.name() : "") == "fastloss.DeviceBackend",
             "register_backend", "expected a fastloss.DeviceBackend capsule");
    const char* why = "";
    FL_CHECK(register_backend(table.get_pointer<DeviceBackend>(), &why), "register_backend",
             "cannot use this device backend: ", why);
  });
  // Names of the registered device backends, and how many devices each sees.
  m.def("backends", [] {
    py::dict out;
    for (DeviceKind kind : {DeviceKind::cuda})
      if (const DeviceBackend* b = device_backend(kind)) out[b->name] = b->device_count();
    return out;
  });
  m.attr("version") = FL_VERSION;
}
