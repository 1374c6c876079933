// _core.run_tensors: the one native call of a fastloss.torch loss on CPU tensors.
//
// The general entry (_core.run) takes NumPy arrays that the Python layers made, checked and
// broadcast; for a 32-element loss those layers cost ~50x the kernel. Here fastloss.torch hands
// over each tensor as (data pointer, dtype code, shape, strides in elements), read straight off
// the tensor, and this entry does the rest natively: the class axis moved last, the weights
// checked (finite, >= 0) and broadcast, a scalar parameter made a broadcast operand, the outputs
// allocated (bindings/output_buffers.cc), the request run. The caller holds the tensors for the
// call, so the memory stays valid; what this entry is given is validated as the DLPack path is:
// dtype codes, dimensions, extents, non-null data.
//
// It computes exactly the request the general path would build, or declines (returns None):
// anything the general path handles differently or rejects (another dtype, a shape or broadcast
// mismatch, a negative or non-finite weight, a label or element outside the loss's domain). The
// caller then takes the general path, which computes the same or raises the documented error,
// so results and messages are the general path's (tests/test_torch_native.py).
#include "raw_entry.h"

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <optional>
#include <vector>

#include "arrays.h"
#include "fastloss/check.h"
#include "fastloss/config.h"
#include "fastloss/kernels.h"
#include "ops.h"
#include "output_buffers.h"
#include "weight_scan.h"

namespace fastloss::bindings {
namespace {

namespace py = pybind11;

// Why a tensor cannot be read here: the call declines (the general path decides).
struct Decline {};

int64_t as_int64(PyObject* o, const char* what) {
  const long long v = PyLong_AsLongLong(o);
  if (v == -1 && PyErr_Occurred()) {
    PyErr_Clear();
    throw TypeError(detail::concat("[fastloss.run_tensors] ", what, " must be an integer"));
  }
  return v;
}

// (data pointer, dtype code, shape, strides in elements) -> View, or None -> nullopt.
std::optional<View> tensor_view(py::handle desc) {
  if (desc.is_none()) return std::nullopt;
  PyObject* t = desc.ptr();
  FL_CHECK_TYPE(PyTuple_Check(t) && PyTuple_GET_SIZE(t) == 4, "run_tensors",
                "a tensor is (data pointer, dtype code, shape, strides)");
  PyObject* shape = PyTuple_GET_ITEM(t, 2);
  PyObject* strides = PyTuple_GET_ITEM(t, 3);
  FL_CHECK_TYPE(PyTuple_Check(shape) && PyTuple_Check(strides), "run_tensors",
                "shape and strides must be tuples");
  const int64_t code = as_int64(PyTuple_GET_ITEM(t, 1), "a dtype code");
  FL_CHECK_TYPE(code >= 0 && code <= int64_t(DType::boolean), "run_tensors", "unknown dtype code ",
                code);
  const Py_ssize_t ndim = PyTuple_GET_SIZE(shape);
  FL_CHECK(PyTuple_GET_SIZE(strides) == ndim, "run_tensors", "shape and strides differ in length");
  if (ndim > kMaxDims) throw Decline{};  // the general path says how many it takes
  View v;
  v.dtype = DType(code);
  v.ndim = int(ndim);
  const int64_t item = dtype_size(v.dtype);
  for (int d = 0; d < v.ndim; ++d) {
    v.shape[d] = as_int64(PyTuple_GET_ITEM(shape, d), "a dimension");
    FL_CHECK(v.shape[d] >= 0, "run_tensors", "negative dimension ", v.shape[d]);
    v.strides[d] = as_int64(PyTuple_GET_ITEM(strides, d), "a stride") * item;
  }
  const uintptr_t data = uintptr_t(PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(t, 0)));
  if (PyErr_Occurred()) {
    PyErr_Clear();
    throw TypeError("[fastloss.run_tensors] a data pointer must be a non-negative integer");
  }
  FL_CHECK(data != 0 || v.numel() == 0, "run_tensors", "null data pointer for a non-empty tensor");
  v.data = reinterpret_cast<void*>(data);
  return v;
}

bool is_integer(DType t) { return !is_floating(t) && t != DType::boolean; }

// `v` with dimension `axis` moved last (a view; as np.transpose).
View axis_last(View v, int axis) {
  if (axis < 0 || axis == v.ndim - 1) return v;
  const int64_t size = v.shape[axis], stride = v.strides[axis];
  for (int d = axis; d + 1 < v.ndim; ++d) {
    v.shape[d] = v.shape[d + 1];
    v.strides[d] = v.strides[d + 1];
  }
  v.shape[v.ndim - 1] = size;
  v.strides[v.ndim - 1] = stride;
  return v;
}

// `v` broadcast to `shape` (NumPy's rules: dimensions aligned right, 1 stretches), else Decline.
View broadcast(const View& v, const View& like) {
  if (v.ndim > like.ndim) throw Decline{};
  View out = like;
  out.data = v.data;
  out.dtype = v.dtype;
  const int lead = like.ndim - v.ndim;
  for (int d = 0; d < like.ndim; ++d) {
    if (d < lead) {
      out.strides[d] = 0;
      continue;
    }
    const int64_t n = v.shape[d - lead];
    if (n == like.shape[d]) out.strides[d] = n == 1 ? 0 : v.strides[d - lead];
    else if (n == 1) out.strides[d] = 0;
    else throw Decline{};
  }
  return out;
}

// A weight-like operand: float32/float64 with valid values, else Decline.
View weights(const View& v) {
  if (!is_floating(v.dtype) || !fastloss::scan_weights(v).valid) throw Decline{};
  return v;
}

// A view of `like`'s shape whose every element is the value at `data` (strides 0).
View constant_view(const View& like, void* data, DType dtype) {
  View v = like;
  v.data = data;
  v.dtype = dtype;
  for (int d = 0; d < v.ndim; ++d) v.strides[d] = 0;
  return v;
}

std::vector<py::ssize_t> shape_of(const View& v) {
  return std::vector<py::ssize_t>(v.shape, v.shape + v.ndim);
}

template <class T>
py::array scalar_array(double value) {
  py::array_t<T> out(py::array::ShapeContainer{});
  *out.mutable_data() = T(value);
  return std::move(out);
}

// run_tensors(kernel, reduction, params, ignore_index, upstream_scalar, weight_total,
//             class_axis, aux0_constant, want_grad, x, target, aux0, aux1, weight, grad_into)
//   -> (loss, grad) NumPy arrays (grad None without want_grad or with grad_into), or None.
// The loss is 0-d for mean/sum. class_axis (rows) is moved last in x, a dense target and the
// gradient; aux0_constant (pointwise) makes aux0 that value broadcast; a reduction 'none' with
// upstream_scalar != 1 gets it as a broadcast float64 grad_output (as the general path does).
py::object run_tensors(int kernel, int reduction, const std::vector<double>& params,
                       std::optional<int64_t> ignore_index, double upstream_scalar,
                       double weight_total, int class_axis, std::optional<double> aux0_constant,
                       bool want_grad, py::handle x_desc, py::handle y_desc, py::handle aux0_desc,
                       py::handle aux1_desc, py::handle weight_desc, py::handle grad_into_desc) {
  FL_CHECK(kernel >= 0 && kernel < kNumKernels, "run_tensors", "unknown kernel id ", kernel);
  FL_CHECK(reduction >= 0 && reduction <= 2, "run_tensors", "bad reduction code ", reduction);
  FL_CHECK(params.size() <= size_t(kMaxParams), "run_tensors", "too many parameters");
  const KernelInfo& info = kernel_info(Kernel(kernel));
  const bool rows = info.family == Family::row;
  try {
    // The general path runs the embedding and in-batch losses.
    if (info.family == Family::embedding || info.family == Family::batch) throw Decline{};
    // And the ranking lists (their optional mask is a third array), and the costed rows (their
    // costs are a third array or a table).
    if (info.ranks_lists() || info.target == TargetKind::sparse_cost) throw Decline{};
    const std::optional<View> x0 = tensor_view(x_desc), y0 = tensor_view(y_desc);
    FL_CHECK(x0 && y0, "run_tensors", "input and target are required");
    if (!is_floating(x0->dtype)) throw Decline{};
    if (rows && x0->ndim == 0) throw Decline{};  // no class axis: the general path says so
    FL_CHECK(!rows || (class_axis >= 0 && class_axis < x0->ndim), "run_tensors",
             "bad class axis ", class_axis);
    const View x = rows ? axis_last(*x0, class_axis) : *x0;
    // The target: x's dtype, except labels (any real dtype) and class indices (integers).
    const bool per_class = info.target_per_class();
    const bool any_real = info.target == TargetKind::label;
    const bool indices =
        info.target == TargetKind::sparse || info.target == TargetKind::index_list;
    if (indices ? !is_integer(y0->dtype)
        : any_real                        ? y0->dtype == DType::boolean
                                          : y0->dtype != x.dtype)
      throw Decline{};
    const View y = rows && per_class ? axis_last(*y0, class_axis) : *y0;
    View loss_shape = x;  // pointwise: x's shape; rows: x without its class axis
    if (rows) loss_shape.ndim = x.ndim - 1;

    LossRequest req;
    req.kernel = Kernel(kernel);
    req.name = info.stem;
    for (size_t i = 0; i < params.size(); ++i) req.params[i] = params[i];
    req.reduction = Reduction(reduction);
    req.has_ignore_index = ignore_index.has_value();
    req.ignore_index = ignore_index.value_or(0);
    req.weight_total = weight_total;
    req.upstream_scalar = upstream_scalar;
    req.inputs[0] = &x;
    req.inputs[1] = &y;

    // Operands: per-element (pointwise aux 0, broadcast to x) or per-class (rows, as given).
    const float constant_f = float(aux0_constant.value_or(0.0));
    const double constant_d = aux0_constant.value_or(0.0);
    View aux[2], weight, upstream;
    const std::optional<View> aux0 = tensor_view(aux0_desc), aux1 = tensor_view(aux1_desc);
    if (aux0_constant) {
      aux[0] = constant_view(x, const_cast<void*>(x.dtype == DType::f32
                                                      ? static_cast<const void*>(&constant_f)
                                                      : static_cast<const void*>(&constant_d)),
                             x.dtype);
      req.aux[0] = &aux[0];
    } else if (aux0) {
      aux[0] = rows ? weights(*aux0) : broadcast(weights(*aux0), x);
      req.aux[0] = &aux[0];
    }
    if (aux1) {
      aux[1] = weights(*aux1);
      req.aux[1] = &aux[1];
    }
    if (const std::optional<View> w = tensor_view(weight_desc)) {
      weight = broadcast(weights(*w), loss_shape);
      req.weight = &weight;
    }
    const double upstream_value = upstream_scalar;
    if (req.reduction == Reduction::none && upstream_scalar != 1.0) {
      upstream = constant_view(loss_shape, const_cast<double*>(&upstream_value), DType::f64);
      req.upstream = &upstream;
    }

    // Outputs: new C-contiguous arrays, or the given gradient buffer (the logits, in place).
    py::object loss_out = py::none(), grad_out = py::none();
    View loss_view, grad_view;
    if (req.reduction == Reduction::none) {
      py::array a = new_output(shape_of(loss_shape), x.dtype);
      loss_view = numpy_view(a, x.dtype);
      loss_out = std::move(a);
      req.loss_out = &loss_view;
    }
    if (const std::optional<View> into = tensor_view(grad_into_desc)) {
      grad_view = rows ? axis_last(*into, class_axis) : *into;
      req.grads[0] = &grad_view;
    } else if (want_grad) {
      py::array a = new_output(shape_of(*x0), x.dtype);
      grad_view = numpy_view(a, x.dtype);
      if (rows) grad_view = axis_last(grad_view, class_axis);
      grad_out = std::move(a);
      req.grads[0] = &grad_view;
    }

    LossResult r;
    try {
      if (x.numel() >= kParallelMinElements) {
        py::gil_scoped_release release;
        r = run(req);
      } else {
        r = run(req);  // microseconds at most: keep the GIL
      }
    } catch (const ValueError&) {
      // A structural mismatch ops.cc found (a target of the wrong shape, ...): the general
      // path reports it in the terms of the caller's arguments.
      return py::none();
    }
    if (r.bad_index >= 0) return py::none();
    if (req.reduction != Reduction::none)
      loss_out = x.dtype == DType::f32 ? scalar_array<float>(r.value)
                                       : scalar_array<double>(r.value);
    return py::make_tuple(loss_out, grad_out);
  } catch (const Decline&) {
    return py::none();
  }
}

}  // namespace

void bind_raw_entry(py::module_& m) {
  m.def("run_tensors", &run_tensors, py::arg("kernel"), py::arg("reduction"), py::arg("params"),
        py::arg("ignore_index"), py::arg("upstream_scalar"), py::arg("weight_total"),
        py::arg("class_axis"), py::arg("aux0_constant"), py::arg("want_grad"), py::arg("x"),
        py::arg("target"), py::arg("aux0"), py::arg("aux1"), py::arg("weight"),
        py::arg("grad_into"));
}

}  // namespace fastloss::bindings
