// The device-neutral entry point: one request type for every loss. The bindings (and the native
// benchmark) fill a request with views; ops.cc checks it once and sends it to the backend of the
// arrays' device. Requests never own memory: outputs are allocated by the caller.
#pragma once

#include <cstdint>

#include "fastloss/kernels.h"
#include "fastloss/tensor.h"

namespace fastloss {

enum class Reduction : int { none = 0, mean = 1, sum = 2 };

// Inputs of a kernel, in the order of its public function's array arguments: (x, target) for
// every kernel so far; the embedding losses will use a third.
constexpr int kMaxInputs = 3;
// Auxiliary arrays: pointwise aux 0 is the per-element operand (tau, pos_weight); row aux 0 the
// per-class weights, aux 1 the per-class value of each row's label (focal alpha).
constexpr int kMaxAux = 2;
constexpr int kMaxParams = 8;

struct LossRequest {
  const char* name = "";               // public name, for messages
  Kernel kernel = Kernel::mse;
  const View* inputs[kMaxInputs] = {};  // inputs[0] defines the compute dtype
  View* grads[kMaxInputs] = {};         // d(upstream . loss) / d inputs[i], or nullptr; for a
                                        // pointwise kernel whose aux is differentiable, grads[2]
                                        // is d / d aux[0] at x's shape
  const View* aux[kMaxAux] = {};
  double params[kMaxParams] = {};       // hyper-parameters, already validated, in declared order
  const View* weight = nullptr;         // sample weights (broadcast to the loss shape), or nullptr
  double weight_total = 0.0;            // pointwise: sum of the broadcast weights (for mean)
  const View* upstream = nullptr;       // grad_output of the unreduced loss (reduction none)
  double upstream_scalar = 1.0;         // grad_output of a reduced loss
  Reduction reduction = Reduction::mean;
  View* loss_out = nullptr;             // the unreduced loss (reduction none), else nullptr
  bool has_ignore_index = false;        // sparse rows: skip targets equal to ignore_index
  int64_t ignore_index = -100;
  intptr_t stream = 0;                  // CUDA stream to order the work on (device arrays only)

  const View* x() const { return inputs[0]; }
  const View* target() const { return inputs[1]; }
};

struct LossResult {
  double value = 0.0;       // the reduced loss (mean or sum); unused for none
  int64_t bad_index = -1;   // flat index of the first element (pointwise) or row (rows) whose
                            // input is outside the loss's domain or label out of range, or -1
  int64_t bad_label = 0;    // rows: that label
};

LossResult run(const LossRequest& req);

}  // namespace fastloss
