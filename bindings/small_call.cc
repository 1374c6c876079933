// The small-call path: fn(pred, target[, reduction]) on two NumPy arrays of one shape, default
// hyper-parameters, no weights, forward or forward + gradient (value_and_grad without
// grad_output). At 32 elements the loss costs nanoseconds and the
// general path's Python checks and 11-argument call cost microseconds, so this one entry reads
// the arrays' headers directly, checks what the Python layer would, and runs the same request.
// It returns None for anything it does not handle (another type or dtype, a shape mismatch, an
// element outside the loss's domain); the caller then takes the general path, which computes
// the same or raises the proper error. python/fastloss/_small_call.py is the caller.
#include "small_call.h"

#include <pybind11/numpy.h>

#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "arrays.h"
#include "fastloss/config.h"
#include "fastloss/kernels.h"
#include "ops.h"
#include "output_buffers.h"

namespace fastloss::bindings {
namespace {

namespace py = pybind11;
using py::detail::npy_api;

bool is_exact_ndarray(py::handle h) {
  return Py_TYPE(h.ptr()) == npy_api::get().PyArray_Type_;
}

template <class T>
py::object scalar_array(double value) {
  py::array_t<T> out(py::array::ShapeContainer{});
  *out.mutable_data() = T(value);
  return std::move(out);
}

// `labels`: the target holds labels of any real dtype (hinge); else it has pred's dtype.
// Returns the loss, or (loss, gradient) with `with_grad`, or None.
py::object small_pointwise(Kernel kernel, bool labels, py::handle x,
                           py::handle y, int reduction, double p0, double p1, bool with_grad) {
  if (!is_exact_ndarray(x) || !is_exact_ndarray(y) || reduction < 0 || reduction > 2)
    return py::none();
  // bool, float16, other byte orders, ...: the general path decides (and rejects bool labels)
  const std::optional<DType> xt = numpy_dtype(x), yt = numpy_dtype(y);
  if (!xt || !yt || !is_floating(*xt) || *yt == DType::boolean || (!labels && *yt != *xt))
    return py::none();
  if (py::detail::array_proxy(x.ptr())->nd > kMaxDims) return py::none();
  View xv = numpy_view(x, *xt), yv = numpy_view(y, *yt);
  if (xv.ndim != yv.ndim ||
      std::memcmp(xv.shape, yv.shape, sizeof(int64_t) * size_t(xv.ndim)) != 0)
    return py::none();
  LossRequest req;
  req.kernel = kernel;
  req.name = kernel_info(kernel).stem;
  req.params[0] = p0;
  req.params[1] = p1;
  req.inputs[0] = &xv;
  req.inputs[1] = &yv;
  req.reduction = Reduction(reduction);
  const std::vector<py::ssize_t> shape(xv.shape, xv.shape + xv.ndim);
  auto new_like_x = [&] { return new_output(shape, *xt); };
  py::array loss_out, grad_out;
  View loss_view, grad_view;
  if (req.reduction == Reduction::none) {
    loss_out = new_like_x();
    loss_view = numpy_view(loss_out, *xt);
    req.loss_out = &loss_view;
  }
  if (with_grad) {
    grad_out = new_like_x();
    grad_view = numpy_view(grad_out, *xt);
    req.grads[0] = &grad_view;
  }
  LossResult r;
  if (xv.numel() >= kParallelMinElements) {
    py::gil_scoped_release release;
    r = run(req);
  } else {
    r = run(req);  // a few hundred nanoseconds at most: keep the GIL
  }
  if (r.bad_index >= 0) return py::none();
  py::object value = req.reduction == Reduction::none ? py::object(loss_out)
                     : *xt == DType::f32               ? scalar_array<float>(r.value)
                                                       : scalar_array<double>(r.value);
  if (with_grad) return py::make_tuple(value, grad_out);
  return value;
}

}  // namespace

void bind_small_calls(py::module_& m) {
  // Every pointwise kernel without a per-element operand (those read an array beside the two
  // the small path takes): <name>_small(x, y, reduction, p0, p1, with_grad).
  for (int k = 0; k < kNumKernels; ++k) {
    const KernelInfo& info = kKernels[k];
    if (info.family != Family::pointwise || info.aux != AuxKind::none) continue;
    const Kernel kernel = Kernel(k);
    const bool labels = info.target == TargetKind::label;
    m.def((std::string(info.name) + "_small").c_str(),
          [kernel, labels](py::handle x, py::handle y, int reduction, double p0, double p1,
                           bool with_grad) {
            return small_pointwise(kernel, labels, x, y, reduction, p0, p1, with_grad);
          });
  }
}

}  // namespace fastloss::bindings
