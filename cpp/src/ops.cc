// Checks each request once (structure, dtypes, devices) and sends it to the backend of the
// arrays' device. User-facing validation of values and hyper-parameters happens in the Python
// layer before a request is built; these checks guard the native boundary itself.
#include "ops.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>

#include "backend.h"
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

// By DeviceKind; the CPU runs in this library. Set at import, read by every device call.
std::atomic<const DeviceBackend*> g_backends[2] = {};

[[noreturn]] void cannot_compute(const char* name, Device d, intptr_t stream, const char* why) {
  throw ValueError(detail::concat("[fastloss.", name, "] arrays on cuda:", d.index, " (stream ",
                                  stream, ") cannot be computed: ", why));
}

// Device arrays reach this point with their device and stream; their backend takes it on.
LossResult run_on_device(const LossRequest& req, Device device) {
  const DeviceBackend* backend = device_backend(device.kind);
  if (!backend)
    cannot_compute(req.name, device, req.stream,
                   "this build of fastloss was built without CUDA (CPU kernels only)");
  if (!backend->has_kernel(int(req.kernel)))
    cannot_compute(req.name, device, req.stream,
                   detail::concat("fastloss._cuda has no CUDA kernel for this loss (",
                                  kernel_info(req.kernel).name, ") yet").c_str());
  LossResult result;
  char error[512] = {};
  if (backend->run(&req, &result, error, sizeof error) != 0)
    throw ValueError(detail::concat("[fastloss.", req.name, "] ", error));
  return result;
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

// Whether no two elements of `v` share memory: with the dimensions ordered by stride, each
// stride must step past everything the smaller ones reach. (Broadcast or self-overlapping
// views, e.g. as_strided(..., (0, 8)), fail it.)
bool non_overlapping(const View& v) {
  int order[kMaxDims];
  int n = 0;
  for (int d = 0; d < v.ndim; ++d)
    if (v.shape[d] > 1) order[n++] = d;
  std::sort(order, order + n, [&](int a, int b) {
    return std::llabs(v.strides[a]) < std::llabs(v.strides[b]);
  });
  int64_t reach = dtype_size(v.dtype);  // bytes spanned by the dimensions so far, plus one item
  for (int i = 0; i < n; ++i) {
    const int64_t stride = std::llabs(v.strides[order[i]]);
    if (stride < reach) return false;
    reach = stride * (v.shape[order[i]] - 1) + reach;
  }
  return true;
}

// Structure of a pointwise request: every operand broadcast to x's shape.
void check_pointwise(const LossRequest& req) {
  const char* name = req.name;
  const View* x = req.x();
  for (const View* v : {req.target(), req.aux[0], req.weight, req.upstream})
    if (v) FL_CHECK(same_shape(*v, *x), name, "operands must be broadcast to the input's shape");
  FL_CHECK(!kernel_info(req.kernel).has_operand() || req.aux[0], name,
           "missing the per-element operand");
  check_output(name, "loss output", req.loss_out, *x, x->dtype);
  // grads[2] is the gradient of the per-element operand (aux 0) at x's full shape: a broadcast
  // operand's gradient is summed over its broadcast axes by the caller.
  const View* operands[3] = {req.inputs[0], req.inputs[1], req.aux[0]};
  for (int i = 0; i < 3; ++i) {
    check_output(name, "gradient output", req.grads[i], *x, x->dtype);
    for (const View* operand : operands)
      FL_CHECK(!req.grads[i] || !operand || req.grads[i]->data != operand->data, name,
               "a gradient output must not be an input (in-place gradients: row losses only)");
    for (int k = 0; k < i; ++k)
      FL_CHECK(!req.grads[i] || !req.grads[k] || req.grads[i]->data != req.grads[k]->data, name,
               "the gradient outputs must be different arrays");
  }
  FL_CHECK(!req.grads[1] || kernel_info(req.kernel).target_differentiable(), name,
           "the target of this loss has no gradient");
  FL_CHECK(!req.grads[2] || (kernel_info(req.kernel).operand_differentiable() && req.aux[0]),
           name, "the per-element operand of this loss has no gradient");
}

// Structure of a row request: logits (..., C), a target per row or per logit.
void check_rows(const LossRequest& req) {
  const char* name = req.name;
  const View* x = req.x();
  FL_CHECK(x->ndim >= 1, name, "logits need a class axis");
  const KernelInfo& info = kernel_info(req.kernel);
  const bool pair = info.target == TargetKind::logits;
  FL_CHECK(!req.grads[2], name, "this loss has no operand gradient");
  FL_CHECK(!req.grads[1] || pair, name, "the target of this loss has no gradient");
  // Every operand's extent is checked here, since the drivers index them without bounds.
  View rows = *x;  // the row shape: x without its class axis
  rows.ndim = x->ndim - 1;
  const int64_t classes = x->shape[x->ndim - 1];
  FL_CHECK(same_shape(*req.target(), info.target_per_class() ? *x : rows), name,
           "target has the wrong shape");
  FL_CHECK_TYPE(info.target != TargetKind::index_list ||
                    (!is_floating(req.target()->dtype) && req.target()->dtype != DType::boolean),
                name, "a target of class-index lists must hold integers");
  if (pair) {
    // The second logits row is read as the first's dtype, and its gradient row is written so.
    FL_CHECK_TYPE(req.target()->dtype == x->dtype, name, "the two logits arrays must share a dtype");
    FL_CHECK(!req.inputs[2] || same_shape(*req.inputs[2], rows), name,
             "labels have the wrong shape");
    check_output(name, "gradient output", req.grads[1], *x, x->dtype);
    // Their functors read both rows again after writing the gradient rows: never in place.
    for (View* g : {req.grads[0], req.grads[1]})
      for (const View* in : {req.inputs[0], req.inputs[1]})
        FL_CHECK(!g || g->data != in->data, name,
                 "a gradient output must not be an input for this loss (no in-place gradients)");
    FL_CHECK(!req.grads[0] || !req.grads[1] || req.grads[0]->data != req.grads[1]->data, name,
             "the two gradient outputs must be different arrays");
  }
  if (info.ranks_lists()) {
    FL_CHECK_TYPE(req.target()->dtype == x->dtype, name,
                  "the relevance labels must have the scores' dtype");
    FL_CHECK(!req.inputs[2] || same_shape(*req.inputs[2], *x), name,
             "the mask must have the scores' shape");
    FL_CHECK_TYPE(!req.inputs[2] || req.inputs[2]->dtype == DType::boolean, name,
                  "the mask must be boolean");
    // In place, the driver hands the kernel a copy of the scores; never over the labels.
    FL_CHECK(!req.grads[0] || req.grads[0]->data != req.target()->data, name,
             "a gradient output must not be the relevance labels");
  }
  const bool costed = info.target == TargetKind::sparse_cost;
  if (costed) {
    // The costs: a row of x's shape per row (input 2) or a (C, C) table (aux 1), x's dtype.
    const View* per_row = req.inputs[2];
    const View* table = req.aux[1];
    FL_CHECK(!per_row || !table, name, "give the costs per row or as a table, not both");
    FL_CHECK(!per_row || same_shape(*per_row, *x), name, "per-row costs must have the scores' shape");
    FL_CHECK(!table || (table->ndim == 2 && table->shape[0] == classes &&
                        table->shape[1] == classes),
             name, "a cost table must have shape (", classes, ", ", classes, ")");
    for (const View* v : {per_row, table}) {
      if (!v) continue;
      FL_CHECK_TYPE(v->dtype == x->dtype, name, "the costs must have the scores' dtype");
      FL_CHECK(!req.grads[0] || req.grads[0]->data != v->data, name,
               "a gradient output must not be the costs");
    }
  }
  for (const View* v : {req.weight, req.upstream})
    if (v) FL_CHECK(same_shape(*v, rows), name, "operands must be broadcast to the row shape");
  for (const View* v : {req.aux[0], costed ? nullptr : req.aux[1]})
    if (v) FL_CHECK(v->ndim == 1 && v->shape[0] == classes, name,
                    "per-class arrays must have one value per class (", classes, ")");
  check_output(name, "loss output", req.loss_out, rows, x->dtype);
  check_output(name, "gradient output", req.grads[0], *x, x->dtype);
  // The row kernels may overwrite the logits with their gradient (each row reads what it needs
  // first), provided both are the same view; a shifted or restrided alias would be garbage.
  FL_CHECK(!req.grads[0] || req.grads[0]->data != x->data || same_strides(*req.grads[0], *x),
           name, "a gradient output at the logits' address must have the logits' strides");
  // In place, a row's gradient would overwrite logits that other elements still read.
  FL_CHECK(!req.grads[0] || req.grads[0]->data != x->data || non_overlapping(*x), name,
           "in-place gradients need logits whose elements do not overlap (got a broadcast or "
           "self-overlapping view)");
}

// Structure of an embedding request: 2 or 3 inputs of one shape (..., D) and dtype, an optional
// label per row, a gradient per input of the inputs' shape; never in place.
void check_embedding(const LossRequest& req) {
  const char* name = req.name;
  const KernelInfo& info = kernel_info(req.kernel);
  const int n = info.embedding_inputs;
  const View* x = req.x();
  FL_CHECK(x->ndim >= 1, name, "embeddings need a feature axis (the last)");
  for (int i = 1; i < n; ++i) {
    FL_CHECK(req.inputs[i], name, "missing input ", i);
    FL_CHECK(same_shape(*req.inputs[i], *x), name, "the embedding arrays must share a shape");
    FL_CHECK_TYPE(req.inputs[i]->dtype == x->dtype, name,
                  "the embedding arrays must share a dtype");
  }
  View rows = *x;  // the row shape: x without its feature axis
  rows.ndim = x->ndim - 1;
  if (info.row_label == RowLabel::row) {
    const View* label = req.inputs[n];
    FL_CHECK(label, name, "missing the labels");
    FL_CHECK(same_shape(*label, rows), name, "labels must have the row shape");
  } else {
    FL_CHECK(n == kMaxInputs || !req.inputs[n], name, "too many inputs");
  }
  for (const View* v : {req.weight, req.upstream})
    if (v) FL_CHECK(same_shape(*v, rows), name, "operands must be broadcast to the row shape");
  FL_CHECK(!req.aux[0] && !req.aux[1], name, "this loss takes no auxiliary arrays");
  check_output(name, "loss output", req.loss_out, rows, x->dtype);
  for (int i = 0; i < kMaxInputs; ++i) {
    FL_CHECK(!req.grads[i] || i < n, name, "input ", i, " has no gradient");
    check_output(name, "gradient output", req.grads[i], *x, x->dtype);
    // A functor may read its inputs again after writing a gradient row: never in place.
    for (const View* in : req.inputs)
      FL_CHECK(!req.grads[i] || !in || req.grads[i]->data != in->data, name,
               "a gradient output must not be an input (no in-place gradients for this loss)");
    for (int k = 0; k < i; ++k)
      FL_CHECK(!req.grads[i] || !req.grads[k] || req.grads[i]->data != req.grads[k]->data, name,
               "the gradient outputs must be different arrays");
  }
}

// Structure of a center request (target kind centers): features (N, D), integer labels (N,) and
// centres (C, D) of the features' dtype; gradients of the features and the centres (or, with
// params[0] = 1, the updated centres in grads[2]); never in place.
void check_centers(const LossRequest& req) {
  const char* name = req.name;
  const View* x = req.x();
  const View* labels = req.inputs[1];
  const View* centers = req.inputs[2];
  FL_CHECK(x->ndim == 2, name, "features must be an (N, D) array");
  FL_CHECK(centers && centers->ndim == 2 && centers->shape[1] == x->shape[1], name,
           "centers must be a (C, D) array with the features' D");
  FL_CHECK_TYPE(centers->dtype == x->dtype, name, "centers must have the features' dtype");
  FL_CHECK(labels->ndim == 1 && labels->shape[0] == x->shape[0], name,
           "labels must have one entry per feature row");
  FL_CHECK_TYPE(!is_floating(labels->dtype) && labels->dtype != DType::boolean, name,
                "labels must hold integers");
  View rows = *labels;
  for (const View* v : {req.weight, req.upstream})
    if (v) FL_CHECK(same_shape(*v, rows), name, "operands must have one value per row");
  FL_CHECK(!req.aux[0] && !req.aux[1], name, "this loss takes no auxiliary arrays");
  check_output(name, "loss output", req.loss_out, rows, x->dtype);
  check_output(name, "gradient output", req.grads[0], *x, x->dtype);
  FL_CHECK(!req.grads[1], name, "the labels have no gradient");
  check_output(name, "centers output", req.grads[2], *centers, x->dtype);
  FL_CHECK(req.params[0] == 0.0 || (req.grads[2] && !req.grads[0]), name,
           "the centre update writes the centres only");
  for (const View* g : {req.grads[0], req.grads[2]})
    for (const View* in : req.inputs)
      FL_CHECK(!g || g->data != in->data, name, "an output must not be an input");
  FL_CHECK(!req.grads[0] || !req.grads[2] || req.grads[0]->data != req.grads[2]->data, name,
           "the gradient outputs must be different arrays");
}

}  // namespace

LossResult run(const LossRequest& req) {
  const char* name = req.name;
  FL_CHECK(int(req.kernel) >= 0 && int(req.kernel) < kNumKernels, name, "unknown kernel");
  FL_CHECK(req.x() && req.target(), name, "missing input");
  FL_CHECK(!req.inputs[2] || kernel_info(req.kernel).target == TargetKind::logits ||
               kernel_info(req.kernel).ranks_lists() ||
               kernel_info(req.kernel).target == TargetKind::sparse_cost ||
               kernel_info(req.kernel).family == Family::embedding ||
               kernel_info(req.kernel).family == Family::batch,
           name, "this loss takes two arrays");
  FL_CHECK_TYPE(is_floating(req.x()->dtype), name, "expected a float32 or float64 input, got ",
                dtype_name(req.x()->dtype));
  FL_CHECK(req.reduction == Reduction::none ? req.loss_out != nullptr : req.loss_out == nullptr,
           name, "loss output must be given exactly for reduction='none'");
  const Family family = kernel_info(req.kernel).family;
  if (family == Family::pointwise) check_pointwise(req);
  else if (family == Family::row) check_rows(req);
  else if (kernel_info(req.kernel).target == TargetKind::centers) check_centers(req);
  else check_embedding(req);
  if (family == Family::batch)
    FL_CHECK(req.x()->ndim == 2, name, "expected (N, D) arrays, got ", req.x()->ndim,
             " dimensions");
  Device device = common_device(name, {req.inputs[0], req.inputs[1], req.inputs[2], req.aux[0],
                                       req.aux[1], req.weight, req.upstream, req.loss_out, req.grads[0],
                                       req.grads[1], req.grads[2]});
  if (device.kind != DeviceKind::cpu) return run_on_device(req, device);
  if (family == Family::embedding) return cpu::embedding(req);
  if (family == Family::batch) return cpu::batch(req);
  return family == Family::pointwise ? cpu::pointwise(req) : cpu::rows(req);
}

bool register_backend(const DeviceBackend* backend, const char** why) {
  if (backend->abi_version != kBackendAbiVersion || backend->request_size != sizeof(LossRequest)) {
    *why = "its ABI differs from fastloss._core's (rebuild both from one checkout)";
    return false;
  }
  g_backends[int(backend->device)] = backend;
  return true;
}

const DeviceBackend* device_backend(DeviceKind kind) { return g_backends[int(kind)]; }

}  // namespace fastloss
