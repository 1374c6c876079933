// Pointwise loss loops, compiled once per ISA (CMake defines FL_ISA and the -m flags). Each loop
// calls the loss's scalar math from losses/*.h; the compiler vectorises it for the target ISA.
#include "cpu/kernels.h"
#include "cpu/lanes.h"
#include "fastloss/config.h"
#include "fastloss/losses/binary_cross_entropy.h"
#include "fastloss/losses/binary_cross_entropy_with_logits.h"
#include "fastloss/losses/hinge.h"
#include "fastloss/losses/huber.h"
#include "fastloss/losses/log_cosh.h"
#include "fastloss/losses/mae.h"
#include "fastloss/losses/mse.h"
#include "fastloss/losses/quantile.h"
#include "fastloss/losses/sigmoid_focal.h"
#include "fastloss/losses/smooth_l1.h"
#include "fastloss/losses/squared_hinge.h"

FL_ISA_NAMESPACE_BEGIN
namespace {

template <class Loss, class T>
int64_t first_invalid_index(const T* __restrict x, const T* __restrict y, int64_t n) {
  if constexpr (Loss::kChecksDomain) {
    int64_t invalid = 0;
    for (int64_t i = 0; i < n; ++i) invalid += Loss::valid(x[i], y[i]) ? 0 : 1;
    if (invalid > 0)
      for (int64_t i = 0; i < n; ++i)
        if (!Loss::valid(x[i], y[i])) return i;
  }
  return -1;
}

// Values into the lanes in the loop that computes them, 8 x kLanes elements per step (a fixed
// trip count the compiler vectorises): no chunk-long value array is written and then read back
// in a second pass, which made a memory-bound fused pass (mse) take 1.7x the time of a plain
// stream of the same traffic; now it takes about the same. The lanes receive the values in
// accumulate()'s order, so the sums are the same bits as those of the value-array path. `loss`
// is taken by value: a local object, whose fields the compiler keeps in registers.
template <class Loss, class T, bool kGrad>
void sum_values(const Loss loss, const T* __restrict x, const T* __restrict y,
                const T* __restrict p, T* __restrict grad, T grad_scale, int64_t n,
                double* lanes) {
  constexpr int64_t kStep = 8 * kLanes;
  LanesD acc;
  std::memcpy(&acc, lanes, sizeof acc);
  alignas(64) T v[kStep];
  const int64_t full = n - n % kStep;
  for (int64_t i = 0; i < full; i += kStep) {
    // Kept a loop for the vectoriser: unrolled completely, the SLP pass misses some loss bodies.
#pragma GCC unroll 1
    for (int64_t k = 0; k < kStep; ++k) {
      T pk = Loss::kUsesParamArray ? p[i + k] : T(0);
      T gk;
      loss(x[i + k], y[i + k], pk, v[k], gk);
      if (kGrad) grad[i + k] = gk * grad_scale;
    }
    for (int64_t k = 0; k < kStep; k += kLanes) acc += load_lanes(v + k);
  }
  for (int64_t i = full; i < n; ++i) {
    T pi = Loss::kUsesParamArray ? p[i] : T(0);
    T gi;
    loss(x[i], y[i], pi, v[i - full], gi);
    if (kGrad) grad[i] = gi * grad_scale;
  }
  accumulate(acc, v, n - full);
  std::memcpy(lanes, &acc, sizeof acc);
}

template <class Loss, class T>
int64_t pointwise_chunk(const double* params, const T* __restrict x, const T* __restrict y,
                        const T* __restrict p, T* __restrict value, T* __restrict grad,
                        T grad_scale, int64_t n, double* lanes) {
  const Loss loss(params);
  const int64_t first_invalid = first_invalid_index<Loss>(x, y, n);
  if (value == nullptr) {
    if (grad != nullptr) sum_values<Loss, T, true>(loss, x, y, p, grad, grad_scale, n, lanes);
    else sum_values<Loss, T, false>(loss, x, y, p, nullptr, grad_scale, n, lanes);
  } else if (grad != nullptr) {
    // The scale (1/n for mean, times a scalar grad_output) is applied here, in the loop that
    // writes the gradient, not in a second pass over it.
    for (int64_t i = 0; i < n; ++i) {
      T pi = Loss::kUsesParamArray ? p[i] : T(0);
      T gi;
      loss(x[i], y[i], pi, value[i], gi);
      grad[i] = gi * grad_scale;
    }
  } else {
    for (int64_t i = 0; i < n; ++i) {
      T pi = Loss::kUsesParamArray ? p[i] : T(0);
      T unused;
      loss(x[i], y[i], pi, value[i], unused);
    }
  }
  return first_invalid;
}

// gamma 0, 1 and 2 are exact integer powers; anything else goes through exp(gamma log b).
template <class T>
int64_t sigmoid_focal_chunk(const double* params, const T* x, const T* y, const T* p, T* value,
                            T* grad, T scale, int64_t n, double* lanes) {
  const double gamma = params[1];
  if (gamma == 0)
    return pointwise_chunk<SigmoidFocal<T, 0>>(params, x, y, p, value, grad, scale, n, lanes);
  if (gamma == 1)
    return pointwise_chunk<SigmoidFocal<T, 1>>(params, x, y, p, value, grad, scale, n, lanes);
  if (gamma == 2)
    return pointwise_chunk<SigmoidFocal<T, 2>>(params, x, y, p, value, grad, scale, n, lanes);
  return pointwise_chunk<SigmoidFocal<T, -1>>(params, x, y, p, value, grad, scale, n, lanes);
}

// Short loops over the L1-resident chunk, each of which vectorises on its own: weight the values
// (in place), weight the (already scaled) gradient into its output when there is anything to
// do, and add the values into the lanes.
template <class T, bool kWeight, bool kUpstream, bool kLossOut, bool kGrad>
void finish_variant(const cpu::FinishArgs<T>& a) {
  const int64_t n = a.n;
  T* value = a.value;
  const T* __restrict w = a.weight;
  const T* __restrict g = a.upstream;
  if (kWeight)
    for (int64_t i = 0; i < n; ++i) value[i] = value[i] * w[i];
  if (kLossOut && a.loss_out != value) {
    T* __restrict out = a.loss_out;
    for (int64_t i = 0; i < n; ++i) out[i] = value[i];
  }
  if (kGrad && (kWeight || kUpstream)) {
    // grad and grad_out are the same array (computed in place): no __restrict.
    const T* grad = a.grad;
    T* grad_out = a.grad_out;
    for (int64_t i = 0; i < n; ++i) {
      T gi = grad[i];
      if (kWeight) gi *= w[i];
      if (kUpstream) gi *= g[i];
      grad_out[i] = gi;
    }
  }
  LanesD lanes;
  std::memcpy(&lanes, a.lanes, sizeof lanes);
  accumulate(lanes, value, n);
  std::memcpy(a.lanes, &lanes, sizeof lanes);
}

template <class T>
void finish_chunk(const cpu::FinishArgs<T>& a) {
  int key = (a.weight ? 8 : 0) | (a.upstream ? 4 : 0) | (a.loss_out ? 2 : 0) | (a.grad_out ? 1 : 0);
  switch (key) {
#define FL_CASE(k)                                                              \
  case k:                                                                       \
    return finish_variant<T, (k & 8) != 0, (k & 4) != 0, (k & 2) != 0, (k & 1) != 0>(a);
    FL_CASE(0) FL_CASE(1) FL_CASE(2) FL_CASE(3) FL_CASE(4) FL_CASE(5) FL_CASE(6) FL_CASE(7)
    FL_CASE(8) FL_CASE(9) FL_CASE(10) FL_CASE(11) FL_CASE(12) FL_CASE(13) FL_CASE(14) FL_CASE(15)
#undef FL_CASE
  }
}

template <class T, int kFn>
void math_probe(const T* __restrict x, T* __restrict y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    if constexpr (kFn == int(cpu::MathFn::exp)) y[i] = fl_exp(x[i]);
    else if constexpr (kFn == int(cpu::MathFn::expm1)) y[i] = fl_expm1(x[i]);
    else if constexpr (kFn == int(cpu::MathFn::log)) y[i] = fl_log(x[i]);
    else y[i] = fl_log1p(x[i]);
  }
}

template <class T>
struct PointwiseFns {
  static constexpr cpu::PointwiseFn<T> mse = pointwise_chunk<Mse<T>, T>;
  static constexpr cpu::PointwiseFn<T> mae = pointwise_chunk<Mae<T>, T>;
  static constexpr cpu::PointwiseFn<T> huber = pointwise_chunk<Huber<T>, T>;
  static constexpr cpu::PointwiseFn<T> smooth_l1 = pointwise_chunk<SmoothL1<T>, T>;
  static constexpr cpu::PointwiseFn<T> quantile = pointwise_chunk<Quantile<T>, T>;
  static constexpr cpu::PointwiseFn<T> log_cosh = pointwise_chunk<LogCosh<T>, T>;
  static constexpr cpu::PointwiseFn<T> binary_cross_entropy =
      pointwise_chunk<BinaryCrossEntropy<T>, T>;
  static constexpr cpu::PointwiseFn<T> binary_cross_entropy_with_logits =
      pointwise_chunk<BinaryCrossEntropyWithLogits<T>, T>;
  static constexpr cpu::PointwiseFn<T> hinge = pointwise_chunk<Hinge<T>, T>;
  static constexpr cpu::PointwiseFn<T> squared_hinge = pointwise_chunk<SquaredHinge<T>, T>;
  static constexpr cpu::PointwiseFn<T> sigmoid_focal = sigmoid_focal_chunk<T>;
};

}  // namespace
FL_ISA_NAMESPACE_END

#define FL_CAT_(a, b) a##b
#define FL_CAT(a, b) FL_CAT_(a, b)

namespace fastloss::cpu {

const ElementwiseTable& FL_CAT(elementwise_table_, FL_ISA)() {
  static const ElementwiseTable table = {
#define FL_ENTRY(name) ::fastloss::FL_ISA::PointwiseFns<float>::name,
      {FL_POINTWISE_LOSSES(FL_ENTRY)},
#undef FL_ENTRY
#define FL_ENTRY(name) ::fastloss::FL_ISA::PointwiseFns<double>::name,
      {FL_POINTWISE_LOSSES(FL_ENTRY)},
#undef FL_ENTRY
      ::fastloss::FL_ISA::finish_chunk<float>,
      ::fastloss::FL_ISA::finish_chunk<double>,
#define FL_PROBES(T)                                                                       \
  {::fastloss::FL_ISA::math_probe<T, 0>, ::fastloss::FL_ISA::math_probe<T, 1>,             \
   ::fastloss::FL_ISA::math_probe<T, 2>, ::fastloss::FL_ISA::math_probe<T, 3>}
      FL_PROBES(float),
      FL_PROBES(double),
#undef FL_PROBES
  };
  return table;
}

}  // namespace fastloss::cpu
