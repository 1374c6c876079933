// pybind11 bindings: NumPy arrays in (as views, never copied), results out, GIL released around
// the kernels. The Python package (python/fastloss) is the public API; this module is private.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <vector>

#include "cpu/kernels.h"
#include "cpu/parallel.h"
#include "cpu/stream.h"
#include "fastloss/check.h"
#include "ops.h"

namespace py = pybind11;
using namespace fastloss;

namespace {

DType dtype_of(const py::array& a, const char* name) {
  const py::dtype dt = a.dtype();
  const char kind = dt.kind();
  const auto size = dt.itemsize();
  const char order = dt.byteorder();  // '=' native, '|' not applicable, '<' / '>' explicit
  constexpr bool little = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
  if ((order == '>' && little) || (order == '<' && !little))
    throw fastloss::TypeError(detail::concat("[fastloss.", name, "] arrays in non-native byte order (",
                                             std::string(py::str(dt)), ") are not supported"));
  if (kind == 'f' && size == 4) return DType::f32;
  if (kind == 'f' && size == 8) return DType::f64;
  if (kind == 'b') return DType::boolean;
  if (kind == 'i') {
    switch (size) {
      case 1: return DType::i8;
      case 2: return DType::i16;
      case 4: return DType::i32;
      case 8: return DType::i64;
    }
  }
  if (kind == 'u') {
    switch (size) {
      case 1: return DType::u8;
      case 2: return DType::u16;
      case 4: return DType::u32;
      case 8: return DType::u64;
    }
  }
  throw fastloss::TypeError(detail::concat("[fastloss.", name, "] unsupported dtype ",
                                           std::string(py::str(dt))));
}

View to_view(const py::array& a, const char* name) {
  FL_CHECK(a.ndim() <= kMaxDims, name, "arrays may have at most ", kMaxDims, " dimensions");
  View v;
  v.data = const_cast<void*>(a.data());
  v.dtype = dtype_of(a, name);
  v.ndim = int(a.ndim());
  for (int d = 0; d < v.ndim; ++d) {
    v.shape[d] = a.shape(d);
    v.strides[d] = a.strides(d);
  }
  return v;
}

// An optional input: keeps the view alive for the duration of the call.
struct OptionalView {
  View view;
  bool given = false;
  OptionalView(const std::optional<py::array>& a, const char* name) {
    if (a) {
      view = to_view(*a, name);
      given = true;
    }
  }
  const View* get() const { return given ? &view : nullptr; }
};

struct OptionalOutput : OptionalView {
  OptionalOutput(const std::optional<py::array>& a, const char* name) : OptionalView(a, name) {
    if (a) FL_CHECK(a->writeable(), name, "output array is read-only");
  }
  View* get() { return given ? &view : nullptr; }
};

Reduction to_reduction(int r) {
  if (r < 0 || r > 2) throw fastloss::ValueError("[fastloss] bad reduction code");
  return Reduction(r);
}

void bind_pointwise(py::module_& m, const char* name, cpu::Pointwise loss) {
  m.def(
      name,
      [name, loss](const py::array& x, const py::array& y, std::optional<py::array> param,
                   std::optional<py::array> weight, std::optional<py::array> upstream,
                   double upstream_scalar, double weight_total, int reduction,
                   const std::vector<double>& params, std::optional<py::array> loss_out,
                   std::optional<py::array> grad_out) {
        PointwiseRequest req;
        req.name = name;
        req.loss = loss;
        FL_CHECK(params.size() <= 4, name, "too many parameters");
        for (size_t i = 0; i < params.size(); ++i) req.params[i] = params[i];
        View xv = to_view(x, name), yv = to_view(y, name);
        OptionalView pv(param, name), wv(weight, name), uv(upstream, name);
        OptionalOutput lo(loss_out, name), go(grad_out, name);
        req.x = &xv;
        req.y = &yv;
        req.param = pv.get();
        req.weight = wv.get();
        req.upstream = uv.get();
        req.upstream_scalar = upstream_scalar;
        req.weight_total = weight_total;
        req.reduction = to_reduction(reduction);
        req.loss_out = lo.get();
        req.grad_out = go.get();
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

py::tuple run_rows_py(const char* name, cpu::Row kind, const py::array& x, const py::array& target,
                      std::optional<py::array> weight, std::optional<py::array> upstream,
                      double upstream_scalar, std::optional<py::array> class_weight,
                      double smoothing, double gamma, double alpha,
                      std::optional<py::array> alpha_array, double margin, bool squared,
                      std::optional<int64_t> ignore_index, int reduction,
                      std::optional<py::array> loss_out, std::optional<py::array> grad_out) {
  RowRequest req;
  req.name = name;
  req.kind = kind;
  View xv = to_view(x, name), tv = to_view(target, name);
  OptionalView wv(weight, name), uv(upstream, name), cv(class_weight, name), av(alpha_array, name);
  OptionalOutput lo(loss_out, name), go(grad_out, name);
  req.x = &xv;
  req.target = &tv;
  req.weight = wv.get();
  req.upstream = uv.get();
  req.upstream_scalar = upstream_scalar;
  req.class_weight = cv.get();
  req.smoothing = smoothing;
  req.gamma = gamma;
  req.alpha = alpha;
  req.alpha_array = av.get();
  req.margin = margin;
  req.squared = squared;
  req.has_ignore_index = ignore_index.has_value();
  req.ignore_index = ignore_index.value_or(0);
  req.reduction = to_reduction(reduction);
  req.loss_out = lo.get();
  req.grad_out = go.get();
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

void bind_rows(py::module_& m, const char* name, cpu::Row kind) {
  m.def(
      name,
      [name, kind](const py::array& x, const py::array& target, std::optional<py::array> weight,
                   std::optional<py::array> upstream, double upstream_scalar,
                   std::optional<py::array> class_weight, double smoothing, double gamma,
                   double alpha, std::optional<py::array> alpha_array, double margin,
                   bool squared, std::optional<int64_t> ignore_index, int reduction,
                   std::optional<py::array> loss_out, std::optional<py::array> grad_out) {
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
  bind_rows(m, "cross_entropy_sparse", cpu::Row::cross_entropy_sparse);
  bind_rows(m, "cross_entropy_dense", cpu::Row::cross_entropy_dense);
  bind_rows(m, "softmax_focal", cpu::Row::softmax_focal);
  bind_rows(m, "multiclass_hinge_weston_watkins", cpu::Row::multiclass_hinge_weston_watkins);
  bind_rows(m, "multiclass_hinge_crammer_singer", cpu::Row::multiclass_hinge_crammer_singer);

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
