// The device-neutral entry points: one request per loss family. The bindings (and the native
// benchmark) fill a request with views; ops.cc checks it once and sends it to the backend of the
// arrays' device. Requests never own memory: outputs are allocated by the caller.
#pragma once

#include <cstdint>

#include "cpu/kernels.h"
#include "fastloss/tensor.h"

namespace fastloss {

enum class Reduction : int { none = 0, mean = 1, sum = 2 };

// A pointwise loss over arrays of one shape. Optional views are nullptr when not given; the
// caller broadcasts every operand to the loss shape (stride 0 along broadcast dimensions).
struct PointwiseRequest {
  const char* name = "";             // public name, for messages
  cpu::Pointwise loss = cpu::Pointwise::mse;
  double params[4] = {};             // hyper-parameters, already validated
  const View* x = nullptr;           // pred / prob / logits: defines shape and compute dtype
  const View* y = nullptr;           // target (any real dtype; converted)
  const View* param = nullptr;       // per-element parameter (tau, pos_weight), or nullptr
  const View* weight = nullptr;      // sample weights, or nullptr
  const View* upstream = nullptr;    // grad_output of the unreduced loss (reduction none)
  double upstream_scalar = 1.0;      // grad_output of a reduced loss
  double weight_total = 0.0;         // sum of the broadcast weights (for mean)
  Reduction reduction = Reduction::mean;
  View* loss_out = nullptr;          // unreduced loss (reduction none), else nullptr
  View* grad_out = nullptr;          // gradient wrt x, or nullptr for the forward only
  intptr_t stream = 0;               // CUDA stream to order the work on (device arrays only)
};

struct PointwiseResult {
  double value = 0.0;          // the reduced loss (mean or sum); unused for none
  int64_t first_invalid = -1;  // flat index of the first element outside the domain, or -1
};

PointwiseResult run_pointwise(const PointwiseRequest& req);

// A row loss: logits with the class axis last, shape (..., C).
struct RowRequest {
  const char* name = "";
  cpu::Row kind = cpu::Row::cross_entropy_sparse;
  const View* x = nullptr;             // (..., C) logits
  const View* target = nullptr;        // sparse: (...) integers; dense: (..., C) probabilities
  const View* weight = nullptr;        // (...) sample weights, or nullptr
  const View* upstream = nullptr;      // (...) grad_output for reduction none, or nullptr
  double upstream_scalar = 1.0;
  const View* class_weight = nullptr;  // (C,) or nullptr
  bool class_weight_is_sample_weight = false;  // sparse CE: mean divides by sum of w[t]
  bool class_weight_is_factor = false;         // multiclass hinge: loss *= w[t]
  double smoothing = 0.0;
  double gamma = 0.0;
  double alpha = -1.0;                 // focal scalar alpha; < 0 with alpha_array null = none
  const View* alpha_array = nullptr;   // focal per-class alpha (C,)
  double margin = 1.0;
  bool squared = false;
  bool has_ignore_index = false;
  int64_t ignore_index = -100;
  Reduction reduction = Reduction::mean;
  View* loss_out = nullptr;            // (...) for reduction none
  View* grad_out = nullptr;            // (..., C) or nullptr
  intptr_t stream = 0;                 // CUDA stream to order the work on (device arrays only)
};

struct RowResult {
  double value = 0.0;
  int64_t bad_row = -1;    // flat row index of the first label out of range, or -1
  int64_t bad_label = 0;   // that label
};

RowResult run_rows(const RowRequest& req);

}  // namespace fastloss
