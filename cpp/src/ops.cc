// Checks each request once (structure, dtypes, devices) and sends it to the backend of the
// arrays' device. User-facing validation of values and hyper-parameters happens in the Python
// layer before a request is built; these checks guard the native boundary itself.
#include "ops.h"

#include "cpu/drivers.h"
#include "fastloss/check.h"

namespace fastloss {
namespace {

bool same_shape(const View& a, const View& b) {
  if (a.ndim != b.ndim) return false;
  for (int d = 0; d < a.ndim; ++d)
    if (a.shape[d] != b.shape[d]) return false;
  return true;
}

// The device every given view shares; a mismatch is an error naming both.
Device common_device(const char* name, std::initializer_list<const View*> views) {
  const View* first = nullptr;
  for (const View* v : views) {
    if (!v) continue;
    if (!first) {
      first = v;
      continue;
    }
    FL_CHECK(v->device.kind == first->device.kind && v->device.index == first->device.index, name,
             "arrays are on different devices");
  }
  return first ? first->device : Device{};
}

// Device arrays reach this point with their device and stream; a CUDA backend plugs in here.
[[noreturn]] void no_backend(const char* name, Device d, intptr_t stream) {
#ifdef FL_WITH_CUDA
  const char* why = "this build of fastloss has no CUDA kernel for this loss";
#else
  const char* why = "this build of fastloss was built without CUDA (CPU kernels only)";
#endif
  throw ValueError(detail::concat("[fastloss.", name, "] arrays on cuda:", d.index, " (stream ",
                                  stream, ") cannot be computed: ", why));
}

void check_output(const char* name, const char* what, const View* out, const View& like,
                  DType dtype) {
  if (!out) return;
  FL_CHECK(same_shape(*out, like), name, what, " has the wrong shape");
  FL_CHECK(out->dtype == dtype, name, what, " has dtype ", dtype_name(out->dtype), ", expected ",
           dtype_name(dtype));
}

bool same_strides(const View& a, const View& b) {
  for (int d = 0; d < a.ndim; ++d)
    if (a.strides[d] != b.strides[d] && a.shape[d] > 1) return false;
  return true;
}

}  // namespace

PointwiseResult run_pointwise(const PointwiseRequest& req) {
  const char* name = req.name;
  FL_CHECK(req.x && req.y, name, "missing input");
  FL_CHECK_TYPE(is_floating(req.x->dtype), name, "expected a float32 or float64 input, got ",
                dtype_name(req.x->dtype));
  for (const View* v : {req.y, req.param, req.weight, req.upstream})
    if (v) FL_CHECK(same_shape(*v, *req.x), name, "operands must be broadcast to the input's shape");
  FL_CHECK(req.reduction == Reduction::none ? req.loss_out != nullptr : req.loss_out == nullptr,
           name, "loss output must be given exactly for reduction='none'");
  check_output(name, "loss output", req.loss_out, *req.x, req.x->dtype);
  check_output(name, "gradient output", req.grad_out, *req.x, req.x->dtype);
  FL_CHECK(!req.grad_out || req.grad_out->data != req.x->data, name,
           "the gradient output must not be the input (in-place gradients: row losses only)");
  Device device = common_device(name, {req.x, req.y, req.param, req.weight, req.upstream,
                                       req.loss_out, req.grad_out});
  if (device.kind != DeviceKind::cpu) no_backend(name, device, req.stream);
  return cpu::pointwise(req);
}

RowResult run_rows(const RowRequest& req) {
  const char* name = req.name;
  FL_CHECK(req.x && req.target, name, "missing input");
  FL_CHECK_TYPE(is_floating(req.x->dtype), name, "expected float32 or float64 logits, got ",
                dtype_name(req.x->dtype));
  FL_CHECK(req.x->ndim >= 1, name, "logits need a class axis");
  Device device = common_device(name, {req.x, req.target, req.weight, req.upstream,
                                       req.class_weight, req.alpha_array, req.loss_out,
                                       req.grad_out});
  if (device.kind != DeviceKind::cpu) no_backend(name, device, req.stream);
  check_output(name, "gradient output", req.grad_out, *req.x, req.x->dtype);
  // The row kernels may overwrite the logits with their gradient (each row reads what it needs
  // first), provided both are the same view; a shifted or restrided alias would be garbage.
  FL_CHECK(!req.grad_out || req.grad_out->data != req.x->data || same_strides(*req.grad_out, *req.x),
           name, "a gradient output at the logits' address must have the logits' strides");
  return cpu::rows(req);
}

}  // namespace fastloss
