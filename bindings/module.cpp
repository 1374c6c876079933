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
#include "small_call.h"
#include "cpu/kernels.h"
#include "cpu/parallel.h"
#include "cpu/stream.h"
#include "fastloss/check.h"
#include "ops.h"

namespace py = pybind11;
using namespace fastloss;

namespace {

Reduction to_reduction(int r) {
  if (r < 0 || r > 2) throw fastloss::ValueError("[fastloss] bad reduction code");
  return Reduction(r);
}

void bind_pointwise(py::module_& m, const char* name, cpu::Pointwise loss) {
  m.def(
      name,
      [name, loss](py::handle x, py::handle y, py::handle param, py::handle weight,
                   py::handle upstream, double upstream_scalar, double weight_total,
                   int reduction, const std::vector<double>& params, py::handle loss_out,
                   py::handle grad_out) {
        PointwiseRequest req;
        req.name = name;
        req.loss = loss;
        FL_CHECK(params.size() <= 4, name, "too many parameters");
        for (size_t i = 0; i < params.size(); ++i) req.params[i] = params[i];
        bindings::CallArrays arrays(name);
        req.x = arrays.input(x);
        req.y = arrays.input(y);
        req.param = arrays.optional(param);
        req.weight = arrays.optional(weight);
        req.upstream = arrays.optional(upstream);
        req.upstream_scalar = upstream_scalar;
        req.weight_total = weight_total;
        req.reduction = to_reduction(reduction);
        req.loss_out = arrays.output(loss_out);
        req.grad_out = arrays.output(grad_out);
        req.stream = arrays.stream();
        PointwiseResult r;
        {
          py::gil_scoped_release release;
          r = run_pointwise(req);
        }
        return py::make_tuple(r.value, r.first_invalid);
      },
      py::arg("x"), py::arg("y"), py::arg("param"), py::arg("weight"), py::arg("upstream"),
      py::arg("upstream_scalar"), py::arg("weight_total"), py::arg("reduction"),
      py::arg("params"), py::arg("loss_out"), py::arg("grad_out"));
}

py::tuple run_rows_py(const char* name, cpu::Row kind, py::handle x, py::handle target,
                      py::handle weight, py::handle upstream, double upstream_scalar,
                      py::handle class_weight, double smoothing, double gamma, double alpha,
                      py::handle alpha_array, double margin, bool squared,
                      std::optional<int64_t> ignore_index, int reduction, py::handle loss_out,
                      py::handle grad_out) {
  RowRequest req;
  req.name = name;
  req.kind = kind;
  bindings::CallArrays arrays(name);
  req.x = arrays.input(x);
  req.target = arrays.input(target);
  req.weight = arrays.optional(weight);
  req.upstream = arrays.optional(upstream);
  req.upstream_scalar = upstream_scalar;
  req.class_weight = arrays.optional(class_weight);
  req.smoothing = smoothing;
  req.gamma = gamma;
  req.alpha = alpha;
  req.alpha_array = arrays.optional(alpha_array);
  req.margin = margin;
  req.squared = squared;
  req.has_ignore_index = ignore_index.has_value();
  req.ignore_index = ignore_index.value_or(0);
  req.reduction = to_reduction(reduction);
  req.loss_out = arrays.output(loss_out);
  req.grad_out = arrays.output(grad_out);
  req.stream = arrays.stream();
  req.class_weight_is_sample_weight = kind == cpu::Row::cross_entropy_sparse;
  req.class_weight_is_factor = kind == cpu::Row::multiclass_hinge_weston_watkins ||
                               kind == cpu::Row::multiclass_hinge_crammer_singer;
  RowResult r;
  {
    py::gil_scoped_release release;
    r = run_rows(req);
  }
  return py::make_tuple(r.value, r.bad_row, r.bad_label);
}

// `kernel` is the module attribute, `name` the public function that errors name.
void bind_rows(py::module_& m, const char* kernel, const char* name, cpu::Row kind) {
  m.def(
      kernel,
      [name, kind](py::handle x, py::handle target, py::handle weight, py::handle upstream,
                   double upstream_scalar, py::handle class_weight, double smoothing,
                   double gamma, double alpha, py::handle alpha_array, double margin,
                   bool squared, std::optional<int64_t> ignore_index, int reduction,
                   py::handle loss_out, py::handle grad_out) {
        return run_rows_py(name, kind, x, target, weight, upstream, upstream_scalar, class_weight,
                           smoothing, gamma, alpha, alpha_array, margin, squared, ignore_index,
                           reduction, loss_out, grad_out);
      },
      py::arg("x"), py::arg("target"), py::arg("weight"), py::arg("upstream"),
      py::arg("upstream_scalar"), py::arg("class_weight"), py::arg("smoothing"),
      py::arg("gamma"), py::arg("alpha"), py::arg("alpha_array"), py::arg("margin"),
      py::arg("squared"), py::arg("ignore_index"), py::arg("reduction"), py::arg("loss_out"),
      py::arg("grad_out"));
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

#define FL_BIND(name) bind_pointwise(m, #name, cpu::Pointwise::name);
  FL_POINTWISE_LOSSES(FL_BIND)
#undef FL_BIND
  bind_rows(m, "cross_entropy_sparse", "cross_entropy", cpu::Row::cross_entropy_sparse);
  bind_rows(m, "cross_entropy_dense", "cross_entropy", cpu::Row::cross_entropy_dense);
  bind_rows(m, "softmax_focal", "softmax_focal", cpu::Row::softmax_focal);
  bind_rows(m, "multiclass_hinge_weston_watkins", "multiclass_hinge",
            cpu::Row::multiclass_hinge_weston_watkins);
  bind_rows(m, "multiclass_hinge_crammer_singer", "multiclass_hinge",
            cpu::Row::multiclass_hinge_crammer_singer);

  // Evaluates one of math.h's vectorised functions (exp, expm1, log, log1p) with the active ISA,
  // for the ULP tests. x must be a contiguous float32 or float64 array; returns a new array.
  m.def("math_probe", [](const std::string& fn, const py::array& x) {
    static const char* names[] = {"exp", "expm1", "log", "log1p"};
    int k = -1;
    for (int i = 0; i < cpu::kNumMathFns; ++i)
      if (fn == names[i]) k = i;
    FL_CHECK(k >= 0, "math_probe", "unknown function '", fn, "'");
    FL_CHECK(x.flags() & py::array::c_style, "math_probe", "x must be C-contiguous");
    const cpu::ElementwiseTable& t = *cpu::active_kernels().elementwise;
    if (py::isinstance<py::array_t<float>>(x)) {
      py::array_t<float> out(x.request().shape);
      t.math_f32[k](static_cast<const float*>(x.data()), out.mutable_data(), x.size());
      return py::array(out);
    }
    FL_CHECK_TYPE(py::isinstance<py::array_t<double>>(x), "math_probe", "x must be float32 or float64");
    py::array_t<double> out(x.request().shape);
    t.math_f64[k](static_cast<const double*>(x.data()), out.mutable_data(), x.size());
    return py::array(out);
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
    return cpu::stream_f32(r.data(), int(r.size()), w.data(), int(w.size()), n);
  });

  bindings::bind_small_calls(m);
  bindings::bind_output_buffers(m);
  m.def("dlpack_info", &bindings::dlpack_info, py::arg("capsule"));

  m.def("get_num_threads", &cpu::num_threads);
  m.def("set_num_threads", [](int n) {
    FL_CHECK(n >= 1, "set_num_threads", "n must be >= 1, got ", n);
    cpu::set_num_threads(n);
  });
  m.def("compiled_isas", [] {
    int count = 0;
    const char* const* names = cpu::compiled_isas(&count);
    std::vector<std::string> out(names, names + count);
    return out;
  });
  m.def("active_isa", [] { return std::string(cpu::active_kernels().name); });
  m.def("isa_supported", [](const std::string& name) { return cpu::isa_supported(name.c_str()); });
  m.def("select_isa", [](const std::string& name) {
    FL_CHECK(cpu::select_isa(name.c_str()), "select_isa", "ISA '", name,
             "' is not compiled into this build or not supported by this CPU");
  });
#ifdef FL_WITH_CUDA
  m.attr("cuda_built") = true;
#else
  m.attr("cuda_built") = false;
#endif
  m.attr("version") = FL_VERSION;
}
