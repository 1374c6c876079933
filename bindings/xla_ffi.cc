// fastloss's XLA FFI handler: fastloss.jax calls the fused kernels as an XLA custom call
// (jax.ffi.ffi_call) on XLA's own buffers, with no host round trip and no Python at run time.
// The ABI is declared in xla_ffi_abi.h (no jaxlib needed to build). python/fastloss/jax/_ffi.py
// registers the handler and is its only caller; it validates everything that is known at trace
// time (shapes, dtypes, hyper-parameters), so what reaches this file is checked again only to
// never crash, and the data-dependent checks (labels, the domain of an input, weights) end here
// as an FFI error carrying the NumPy API's message.
//
// The call's contract (_ffi.py builds it):
//   operands  x, target, then per the `operands` bitmask: aux 0 (1), aux 1 (2), sample weight
//             (4), class-index labels of the loss shape (8: a target of logits, distillation);
//             dense row-major buffers of their own shapes (aux and weights broadcast here)
//   results   the loss (0-d for mean/sum, the unreduced shape for none), then d loss / d x when
//             asked for (a second result), and for a target of logits d loss / d target (a
//             third)
//   attrs     name (for messages), kernel (ops.h id), reduction, params (f64 array), axis (row
//             losses: the class axis of x), ignore_index + has_ignore_index, operands,
//             aux0_name / aux1_name / aux0_check (aux 0's values: 0 weights, >= 0; 1 tau, in
//             (0, 1); 2 any real, margin_ranking's preference), aux0_value (a
//             pointwise kernel's per-element operand when given as one number), domain (the
//             message for a pointwise input outside the loss's domain, "{x}"/"{y}" = the values)
#include "xla_ffi.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>

#include "fastloss/check.h"
#include "fastloss/kernels.h"
#include "ops.h"
#include "xla_ffi_abi.h"

namespace fastloss::bindings {
namespace {

namespace ffi = xla_ffi;

constexpr int64_t kAux0 = 1, kAux1 = 2, kWeight = 4, kLabels = 8;  // the `operands` bits
                                                                    // (_ffi.py's too)

// A problem in the call itself, reported as an FFI error rather than a crash.
struct CallError {
  ffi::ErrorCode code;
  std::string message;
};

[[noreturn]] void invalid(std::string message) {
  throw CallError{ffi::kInvalidArgument, std::move(message)};
}

class Attributes {
 public:
  explicit Attributes(const ffi::Attrs& attrs) : attrs_(attrs) {}

  int64_t integer(std::string_view name) const {
    const auto* s = static_cast<const ffi::Scalar*>(find(name, ffi::kAttrScalar));
    switch (s->dtype) {
      case ffi::kS64: return *static_cast<const int64_t*>(s->value);
      case ffi::kS32: return *static_cast<const int32_t*>(s->value);
      default: invalid(std::string("attribute ") + std::string(name) + " must be an integer");
    }
  }
  double real(std::string_view name) const {
    const auto* s = static_cast<const ffi::Scalar*>(find(name, ffi::kAttrScalar));
    if (s->dtype != ffi::kF64) invalid(std::string("attribute ") + std::string(name) + " must be f64");
    return *static_cast<const double*>(s->value);
  }
  std::string_view string(std::string_view name) const {
    const auto* s = static_cast<const ffi::ByteSpan*>(find(name, ffi::kAttrString));
    return {s->ptr, s->len};
  }
  const ffi::Array& doubles(std::string_view name) const {
    const auto* a = static_cast<const ffi::Array*>(find(name, ffi::kAttrArray));
    if (a->dtype != ffi::kF64) invalid(std::string("attribute ") + std::string(name) + " must be f64");
    return *a;
  }

 private:
  const void* find(std::string_view name, ffi::AttrType type) const {
    for (int64_t i = 0; i < attrs_.size; ++i) {
      const ffi::ByteSpan* n = attrs_.names[i];
      if (std::string_view(n->ptr, n->len) != name) continue;
      if (attrs_.types[i] != type) invalid("attribute " + std::string(name) + " has the wrong type");
      return attrs_.attrs[i];
    }
    invalid("missing attribute " + std::string(name));
  }
  const ffi::Attrs& attrs_;
};

DType to_dtype(ffi::DataType t, const std::string& what) {
  switch (t) {
    case ffi::kPred: return DType::boolean;
    case ffi::kS8: return DType::i8;
    case ffi::kS16: return DType::i16;
    case ffi::kS32: return DType::i32;
    case ffi::kS64: return DType::i64;
    case ffi::kU8: return DType::u8;
    case ffi::kU16: return DType::u16;
    case ffi::kU32: return DType::u32;
    case ffi::kU64: return DType::u64;
    case ffi::kF32: return DType::f32;
    case ffi::kF64: return DType::f64;
    default: invalid(what + " has an unsupported XLA dtype (" + std::to_string(int(t)) + ")");
  }
}

// A row-major buffer as a View; `order` (if given) lists the buffer's dimensions in the order
// the view shows them (the class axis moved last, without a copy).
View buffer_view(const ffi::Buffer& b, const std::string& what, const int* order = nullptr) {
  if (b.rank > kMaxDims) invalid(what + " has more than 16 dimensions");
  View v;
  v.data = b.data;
  v.dtype = to_dtype(b.dtype, what);
  v.ndim = int(b.rank);
  int64_t strides[kMaxDims];
  int64_t step = dtype_size(v.dtype);
  for (int d = v.ndim - 1; d >= 0; --d) {
    strides[d] = step;
    step *= b.dims[d];
  }
  for (int d = 0; d < v.ndim; ++d) {
    const int src = order ? order[d] : d;
    v.shape[d] = b.dims[src];
    v.strides[d] = strides[src];
  }
  return v;
}

// `v` broadcast (NumPy rules, right-aligned) to `like`'s shape: stride 0 where it repeats.
View broadcast_to(const View& v, const View& like, const std::string& what) {
  if (v.ndim > like.ndim) invalid(what + " has more dimensions than the loss");
  View out = v;
  out.ndim = like.ndim;
  const int lead = like.ndim - v.ndim;
  for (int d = like.ndim - 1; d >= 0; --d) {
    const int src = d - lead;
    const int64_t size = src >= 0 ? v.shape[src] : 1;
    if (size != like.shape[d] && size != 1) invalid(what + " does not broadcast to the loss shape");
    out.shape[d] = like.shape[d];
    out.strides[d] = src >= 0 && size != 1 ? v.strides[src] : 0;
  }
  return out;
}

double element(const View& v, int64_t i) {  // contiguous buffers only (XLA's)
  const char* p = static_cast<const char*>(v.data);
  switch (v.dtype) {
    case DType::f32: return reinterpret_cast<const float*>(p)[i];
    case DType::f64: return reinterpret_cast<const double*>(p)[i];
    case DType::i8: return reinterpret_cast<const int8_t*>(p)[i];
    case DType::i16: return reinterpret_cast<const int16_t*>(p)[i];
    case DType::i32: return reinterpret_cast<const int32_t*>(p)[i];
    case DType::i64: return double(reinterpret_cast<const int64_t*>(p)[i]);
    case DType::u8: return reinterpret_cast<const uint8_t*>(p)[i];
    case DType::u16: return reinterpret_cast<const uint16_t*>(p)[i];
    case DType::u32: return reinterpret_cast<const uint32_t*>(p)[i];
    case DType::u64: return double(reinterpret_cast<const uint64_t*>(p)[i]);
    case DType::boolean: return reinterpret_cast<const uint8_t*>(p)[i];
  }
  return 0.0;
}

// A pairwise sum: its error does not grow with the length, and its order is fixed.
double pairwise_sum(const View& v, int64_t begin, int64_t end) {
  if (end - begin <= 64) {
    double s = 0.0;
    for (int64_t i = begin; i < end; ++i) s += element(v, i);
    return s;
  }
  const int64_t mid = begin + (end - begin) / 2;
  return pairwise_sum(v, begin, mid) + pairwise_sum(v, mid, end);
}

std::string number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", value);
  return text;
}

// Weights (and tau) are data: checked here, with the NumPy API's message, before the kernel.
void check_weights(const View& v, std::string_view name, bool open_unit, const std::string& fn) {
  const int64_t n = v.numel();
  for (int64_t i = 0; i < n; ++i) {
    const double w = element(v, i);
    if (!(std::isfinite(w) && w >= 0))
      invalid("[fastloss." + fn + "] " + std::string(name) + " must be finite and >= 0, got " +
              number(w));
    if (open_unit && !(w > 0 && w < 1))
      invalid("[fastloss." + fn + "] " + std::string(name) + " must be in (0, 1), got " +
              number(w));
  }
}

std::string index_text(int64_t flat, const View& shape) {
  int64_t index[kMaxDims];
  for (int d = shape.ndim - 1; d >= 0; --d) {
    index[d] = shape.shape[d] ? flat % shape.shape[d] : 0;
    flat = shape.shape[d] ? flat / shape.shape[d] : 0;
  }
  std::string out = "(";
  for (int d = 0; d < shape.ndim; ++d)
    out += std::to_string(index[d]) + (d + 1 < shape.ndim || shape.ndim == 1 ? "," : "") +
           (d + 1 < shape.ndim ? " " : "");
  return out + ")";
}

std::string replace_all(std::string text, std::string_view key, const std::string& value) {
  for (size_t at = text.find(key); at != std::string::npos; at = text.find(key, at + value.size()))
    text.replace(at, key.size(), value);
  return text;
}

const ffi::Buffer& arg(const ffi::CallFrame& frame, int64_t i) {
  if (i >= frame.args.size || frame.args.types[i] != ffi::kArgBuffer)
    invalid("expected at least " + std::to_string(i + 1) + " array operands");
  return *static_cast<const ffi::Buffer*>(frame.args.args[i]);
}

const ffi::Buffer& ret(const ffi::CallFrame& frame, int64_t i) {
  if (i >= frame.rets.size || frame.rets.types[i] != ffi::kRetBuffer)
    invalid("expected at least " + std::to_string(i + 1) + " results");
  return *static_cast<const ffi::Buffer*>(frame.rets.rets[i]);
}

void execute(const ffi::CallFrame& frame) {
  const Attributes attrs(frame.attrs);
  const std::string fn(attrs.string("name"));
  const int64_t kernel = attrs.integer("kernel");
  if (kernel < 0 || kernel >= kNumKernels) invalid("[fastloss." + fn + "] unknown kernel id");
  const KernelInfo& info = kKernels[kernel];
  const bool row = info.family == Family::row;
  if (info.family == Family::embedding || info.family == Family::batch || info.ranks_lists() ||
      info.target == TargetKind::sparse_cost)
    invalid("[fastloss." + fn + "] the embedding, in-batch, listwise ranking and structured "
            "losses have no XLA custom call yet");
  const int64_t reduction = attrs.integer("reduction");
  if (reduction < 0 || reduction > 2) invalid("[fastloss." + fn + "] bad reduction code");
  const int64_t operands = attrs.integer("operands");

  LossRequest req;
  req.name = fn.c_str();
  req.kernel = Kernel(kernel);
  req.reduction = Reduction(reduction);
  const ffi::Array& params = attrs.doubles("params");
  if (params.size > size_t(kMaxParams)) invalid("[fastloss." + fn + "] too many parameters");
  std::memcpy(req.params, params.data, params.size * sizeof(double));
  req.has_ignore_index = attrs.integer("has_ignore_index") != 0;
  req.ignore_index = attrs.integer("ignore_index");

  // x, with a row loss's class axis moved last (the kernels' layout), and the shape of the loss.
  const ffi::Buffer& xb = arg(frame, 0);
  int order[kMaxDims];
  const int rank = int(xb.rank);
  if (row) {
    int64_t axis = attrs.integer("axis");  // negative: vmap may add leading axes
    if (axis < 0) axis += rank;
    if (rank < 1 || rank > kMaxDims || axis < 0 || axis >= rank)
      invalid("[fastloss." + fn + "] bad class axis");
    int k = 0;
    for (int d = 0; d < rank; ++d)
      if (d != axis) order[k++] = d;
    order[k] = int(axis);
  }
  const View x = buffer_view(xb, "[fastloss." + fn + "] the input", row ? order : nullptr);
  View loss_shape = x;
  if (row) loss_shape.ndim = x.ndim - 1;
  const bool pair = info.target == TargetKind::logits;  // a second logits array: x's layout
  const View target = buffer_view(arg(frame, 1), "[fastloss." + fn + "] target",
                                  row && info.target_per_class() ? order : nullptr);

  int64_t next = 2;
  View aux[kMaxAux], weight;
  const std::string_view aux_names[kMaxAux] = {attrs.string("aux0_name"),
                                               attrs.string("aux1_name")};
  for (int i = 0; i < kMaxAux; ++i) {
    if (!(operands & (i == 0 ? kAux0 : kAux1))) continue;
    const View a = buffer_view(arg(frame, next++), "[fastloss." + fn + "] " + std::string(aux_names[i]));
    const int64_t check = i == 0 ? attrs.integer("aux0_check") : 0;
    if (check != 2) check_weights(a, aux_names[i], check == 1, fn);
    // Pointwise: one operand broadcast to x; rows: one value per class (checked by ops.cc).
    aux[i] = row ? a : broadcast_to(a, x, "[fastloss." + fn + "] " + std::string(aux_names[i]));
    req.aux[i] = &aux[i];
  }
  // A pointwise kernel's per-element operand given as one number (a scalar tau, the default
  // pos_weight of 1): a 0-d view of it, so that no constant buffer is an operand (see vmap).
  float aux0_f32 = 0.0f;
  double aux0_f64 = 0.0;
  if (!row && info.has_operand() && !(operands & kAux0)) {
    aux0_f64 = attrs.real("aux0_value");
    aux0_f32 = float(aux0_f64);
    aux[0] = x;
    aux[0].data = x.dtype == DType::f32 ? static_cast<void*>(&aux0_f32) : &aux0_f64;
    for (int d = 0; d < x.ndim; ++d) aux[0].strides[d] = 0;
    req.aux[0] = &aux[0];
  }
  if (operands & kWeight) {
    const View w = buffer_view(arg(frame, next++), "[fastloss." + fn + "] sample_weight");
    check_weights(w, "sample_weight", false, fn);
    weight = broadcast_to(w, loss_shape, "[fastloss." + fn + "] sample_weight");
    req.weight = &weight;
    // The mean's denominator of a pointwise loss: the sum of the broadcast weights.
    const int64_t n = loss_shape.numel(), own = w.numel();
    req.weight_total = own ? pairwise_sum(w, 0, own) * (double(n) / double(own)) : 0.0;
  }
  View labels;
  if (operands & kLabels) {
    labels = buffer_view(arg(frame, next++), "[fastloss." + fn + "] labels");
    req.inputs[2] = &labels;
  }
  req.inputs[0] = &x;
  req.inputs[1] = &target;

  // Results: the loss, then the gradient of x (in x's layout, so through the same order), then
  // for the kernels whose functor writes them the target's and the per-element operand's (at
  // x's shape; the caller sums a broadcast operand's).
  const ffi::Buffer& loss_b = ret(frame, 0);
  View loss_out, grad, grad_y, grad_p;
  if (req.reduction == Reduction::none) {
    loss_out = buffer_view(loss_b, "[fastloss." + fn + "] the loss");
    req.loss_out = &loss_out;
  } else if (loss_b.rank != 0 || loss_b.dtype != xb.dtype) {
    invalid("[fastloss." + fn + "] a reduced loss is a 0-d result of the input's dtype");
  }
  if (frame.rets.size > 1) {
    grad = buffer_view(ret(frame, 1), "[fastloss." + fn + "] the gradient", row ? order : nullptr);
    req.grads[0] = &grad;
  }
  if (frame.rets.size > 2) {
    // A second logits array's gradient (rows, in x's layout), or the functor's d/dtarget.
    if (!pair && (row || !info.functor_grads()))
      invalid("[fastloss." + fn + "] only d/dx is a result of this loss");
    grad_y = buffer_view(ret(frame, 2), "[fastloss." + fn + "] the target's gradient",
                         row ? order : nullptr);
    req.grads[1] = &grad_y;
  }
  if (frame.rets.size > 3) {
    grad_p = buffer_view(ret(frame, 3), "[fastloss." + fn + "] the operand's gradient");
    req.grads[2] = &grad_p;
  }

  const LossResult r = run(req);  // checks the request's structure once more (ops.cc)
  if (r.bad_index >= 0) {
    if (row)  // (an index list's row may also end with -1: its range starts there)
      invalid("[fastloss." + fn + (pair ? "] labels label " : "] target label ") +
              std::to_string(r.bad_label) + " out of range [" +
              (info.target == TargetKind::index_list ? "-1" : "0") + ", " +
              std::to_string(x.shape[x.ndim - 1]) + ") at index " +
              index_text(r.bad_index, loss_shape));
    std::string message = replace_all(std::string(attrs.string("domain")), "{x}",
                                      number(element(x, r.bad_index)));
    message = replace_all(message, "{y}", number(element(target, r.bad_index)));
    invalid("[fastloss." + fn + "] " + message + " at index " + index_text(r.bad_index, x));
  }
  if (req.reduction != Reduction::none) {
    if (x.dtype == DType::f32) *static_cast<float*>(loss_b.data) = float(r.value);
    else *static_cast<double*>(loss_b.data) = r.value;
  }
}

ffi::Error* make_error(const ffi::CallFrame* frame, ffi::ErrorCode code, const std::string& text) {
  const ffi::Api* api = frame->api;
  if (!api || api->struct_size < FL_XLA_FFI_STRUCT_SIZE(ffi::Api, error_create) ||
      !api->error_create)
    return nullptr;  // no way to report it: nothing better than success is possible
  ffi::ErrorCreateArgs args{FL_XLA_FFI_STRUCT_SIZE(ffi::ErrorCreateArgs, errc), nullptr,
                            text.c_str(), code};
  return api->error_create(&args);
}

// XLA asks a handler for its metadata (the FFI version it was built against, its traits) by
// calling it with this extension instead of operands.
ffi::Error* report_metadata(ffi::CallFrame* frame) {
  auto* ext = reinterpret_cast<ffi::MetadataExtension*>(frame->extension_start);
  if (ext->extension_base.struct_size < FL_XLA_FFI_STRUCT_SIZE(ffi::MetadataExtension, metadata) ||
      !ext->metadata ||
      ext->metadata->struct_size < FL_XLA_FFI_STRUCT_SIZE(ffi::Metadata, traits))
    return make_error(frame, ffi::kInvalidArgument, "[fastloss] unexpected FFI metadata layout");
  ffi::Metadata* m = ext->metadata;
  m->api_version = ffi::ApiVersion{FL_XLA_FFI_STRUCT_SIZE(ffi::ApiVersion, minor_version), nullptr,
                                   ffi::kApiMajor, ffi::kApiMinor};
  m->traits = 0;  // a plain CPU handler: nothing to capture in command buffers
  if (m->struct_size >= FL_XLA_FFI_STRUCT_SIZE(ffi::Metadata, state_type_id))
    m->state_type_id = ffi::TypeId{0};  // no per-instance state
  return nullptr;
}

extern "C" ffi::Error* fastloss_xla_ffi_loss(ffi::CallFrame* frame) {
  if (frame->extension_start && frame->extension_start->type == ffi::kExtensionMetadata)
    return report_metadata(frame);
  // A single-stage handler: only the execute stage does work (XLA may call the others).
  if (frame->stage != ffi::kExecute) return nullptr;
  try {
    execute(*frame);
    return nullptr;
  } catch (const CallError& e) {
    return make_error(frame, e.code, e.message);
  } catch (const std::invalid_argument& e) {  // fastloss::ValueError / TypeError from ops.cc
    return make_error(frame, ffi::kInvalidArgument, e.what());
  } catch (const std::exception& e) {
    return make_error(frame, ffi::kInternal, std::string("[fastloss] ") + e.what());
  } catch (...) {
    return make_error(frame, ffi::kInternal, "[fastloss] unknown error in the XLA FFI handler");
  }
}

}  // namespace

void bind_xla_ffi(pybind11::module_& m) {
  // {target: capsule of its XLA_FFI_Handler*}, for jax.ffi.register_ffi_target (api_version 1).
  m.def("xla_ffi_handlers", [] {
    pybind11::dict out;
    out["fastloss_loss"] = pybind11::capsule(reinterpret_cast<void*>(&fastloss_xla_ffi_loss));
    return out;
  });
}

}  // namespace fastloss::bindings
