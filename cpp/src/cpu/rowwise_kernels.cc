// Row kernels (softmax family and multi-class hinge), compiled once per ISA. Each takes one
// contiguous row of C logits. Sums run in kSumLanes double accumulators indexed by position, so
// their order is fixed by C alone; the exponential of each logit is evaluated once and kept in
// the gradient row until the normaliser is known.
#include <type_traits>

#include "cpu/kernels.h"
#include "fastloss/config.h"
#include "fastloss/losses/cross_entropy.h"
#include "fastloss/losses/multiclass_hinge.h"
#include "fastloss/losses/softmax_focal.h"

FL_ISA_NAMESPACE_BEGIN
namespace {

constexpr int L = kSumLanes;

double sum_lanes(const double* lanes) {
  // Fixed pairwise order.
  return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
}

// max over the row, NaNs ignored (they reach the loss through the exponentials instead).
template <class T>
T row_max(const T* __restrict x, int64_t n) {
  T lanes[L];
  for (int k = 0; k < L; ++k) lanes[k] = -fl_inf<T>();
  int64_t full = n - n % L;
  for (int64_t j = 0; j < full; j += L)
    for (int k = 0; k < L; ++k) lanes[k] = x[j + k] > lanes[k] ? x[j + k] : lanes[k];
  for (int64_t j = full; j < n; ++j) lanes[0] = x[j] > lanes[0] ? x[j] : lanes[0];
  T m = lanes[0];
  for (int k = 1; k < L; ++k) m = lanes[k] > m ? lanes[k] : m;
  return m;
}

// The exponential pass shared by the softmax losses. For each j: e_j = exp(x_j - m), stored in
// `e` when it is not null; accumulates the sum of the non-maximal e_j, the count of maxima, and,
// with kTargetSums (and per-class weights c, or 1), sum c_j q_j and sum c_j q_j (m - x_j), where
// q_j = q_scale * probs_j + q_shift (dense) or q_shift for every j (sparse).
struct ExpSums {
  double s_small = 0;  // sum of e_j over x_j != m
  double ties = 0;     // number of j with x_j == m
  double cq = 0;       // sum c_j q_j
  double cq_gap = 0;   // sum c_j q_j (m - x_j)
};

template <class T, bool kStore, bool kTargetSums, bool kDense, bool kWeighted>
ExpSums exp_pass(const T* __restrict x, int64_t n, T m, T* __restrict e, const T* __restrict probs,
                 const T* __restrict c, T q_scale, T q_shift) {
  double s_small[L] = {}, ties[L] = {}, cq[L] = {}, cq_gap[L] = {};
  auto one = [&](int64_t j, int k) {
    T ej = fl_exp(x[j] - m);
    if (kStore) e[j] = ej;
    bool is_max = x[j] == m;
    s_small[k] += is_max ? 0.0 : double(ej);
    ties[k] += is_max ? 1.0 : 0.0;
    if (kTargetSums) {
      T q = kDense ? q_scale * probs[j] + q_shift : q_shift;
      T cqj = kWeighted ? c[j] * q : q;
      cq[k] += double(cqj);
      cq_gap[k] += double(cqj) * (double(m) - double(x[j]));
    }
  };
  int64_t full = n - n % L;
  for (int64_t j = 0; j < full; j += L)
    for (int k = 0; k < L; ++k) one(j + k, k);
  for (int64_t j = full; j < n; ++j) one(j, int(j - full));
  ExpSums out;
  out.s_small = sum_lanes(s_small);
  out.ties = sum_lanes(ties);
  out.cq = sum_lanes(cq);
  out.cq_gap = sum_lanes(cq_gap);
  return out;
}

// grad_j = a * e_j - b * c_j q_j (dense) or a * e_j - b * c_j (sparse smoothing), in place.
template <class T, bool kDense, bool kWeighted>
void softmax_grad_pass(T* __restrict g, int64_t n, T a, T b, const T* __restrict probs,
                       const T* __restrict c, T q_scale, T q_shift) {
  for (int64_t j = 0; j < n; ++j) {
    T q = kDense ? q_scale * probs[j] + q_shift : q_shift;
    T cq = kWeighted ? c[j] * q : q;
    g[j] = a * g[j] - b * cq;
  }
}

template <class T, bool kDense, bool kWeighted>
double cross_entropy_row_impl(const cpu::RowArgs<T>& a) {
  const T* x = a.x;
  const int64_t n = a.classes;
  const double eps = a.smoothing;
  const double classes = double(n);
  const T m = row_max(x, n);
  // Sparse rows only need the target sums for the smoothing mass.
  const bool target_sums = kDense || eps > 0;
  const T q_scale = T(1.0 - eps);
  const T q_shift = T(eps / classes);
  ExpSums sums;
  // Sparse rows accumulate sum_j c_j (m - x_j) (q = 1); eps / C is applied in double below.
  const T sums_shift = kDense ? q_shift : T(1);
  auto pass = [&](auto store, auto tsums) {
    sums = exp_pass<T, decltype(store)::value, decltype(tsums)::value, kDense, kWeighted>(
        x, n, m, a.grad, a.probs, a.class_weight, q_scale, sums_shift);
  };
  using True = std::true_type;
  using False = std::false_type;
  if (a.grad && target_sums) pass(True{}, True{});
  else if (a.grad) pass(True{}, False{});
  else if (target_sums) pass(False{}, True{});
  else pass(False{}, False{});

  const double s_minus_1 = (sums.ties - 1.0) + sums.s_small;
  const double s = 1.0 + s_minus_1;
  const double log_s = fl_log1p(s_minus_1);
  double loss, total_cq;
  double c_t = 1.0;
  if (kDense) {
    total_cq = sums.cq;
    loss = total_cq * log_s + sums.cq_gap;
  } else {
    c_t = kWeighted ? double(a.class_weight[a.label]) : 1.0;
    double x_t = double(x[a.label]);
    loss = cross_entropy_sparse_loss(log_s, double(m) - x_t, c_t, eps, classes,
                                     a.class_weight_sum, sums.cq_gap);
    total_cq = (1.0 - eps) * c_t + eps / classes * a.class_weight_sum;
  }
  if (a.grad) {
    const double scale = a.grad_scale;
    if (kDense) {
      softmax_grad_pass<T, true, kWeighted>(a.grad, n, T(scale * total_cq / s), T(scale), a.probs,
                                            a.class_weight, q_scale, q_shift);
    } else {
      softmax_grad_pass<T, false, kWeighted>(a.grad, n, T(scale * total_cq / s), T(scale), nullptr,
                                             a.class_weight, q_scale, q_shift);
      const double x_t = double(x[a.label]);
      const double e_t = double(fl_exp(T(x_t - double(m))));
      const double p_t = e_t / s;
      const double p_t_minus_1 = (x_t == double(m) ? -s_minus_1 : e_t - s) / s;
      a.grad[a.label] = T(scale * cross_entropy_sparse_target_grad(p_t, p_t_minus_1, c_t, eps,
                                                                   classes, a.class_weight_sum));
    }
  }
  return loss;
}

template <class T>
double cross_entropy_sparse_row(const cpu::RowArgs<T>& a) {
  return a.class_weight ? cross_entropy_row_impl<T, false, true>(a)
                        : cross_entropy_row_impl<T, false, false>(a);
}

template <class T>
double cross_entropy_dense_row(const cpu::RowArgs<T>& a) {
  return a.class_weight ? cross_entropy_row_impl<T, true, true>(a)
                        : cross_entropy_row_impl<T, true, false>(a);
}

template <class T, bool kStore>
void focal_exp_pass(const T* __restrict x, int64_t n, T m, int64_t t, T* __restrict e,
                    double& s_rest) {
  double lanes[L] = {};
  auto one = [&](int64_t j, int k) {
    T ej = fl_exp(x[j] - m);
    if (kStore) e[j] = ej;
    lanes[k] += j == t ? 0.0 : double(ej);
  };
  int64_t full = n - n % L;
  for (int64_t j = 0; j < full; j += L)
    for (int k = 0; k < L; ++k) one(j + k, k);
  for (int64_t j = full; j < n; ++j) one(j, int(j - full));
  s_rest = sum_lanes(lanes);
}

template <class T>
double softmax_focal_row(const cpu::RowArgs<T>& a) {
  const T* x = a.x;
  const int64_t n = a.classes;
  const int64_t t = a.label;
  const T m = row_max(x, n);
  double s_rest;
  if (a.grad) focal_exp_pass<T, true>(x, n, m, t, a.grad, s_rest);
  else focal_exp_pass<T, false>(x, n, m, t, nullptr, s_rest);
  const double gap = double(x[t]) - double(m);  // <= 0
  const double e_t = double(fl_exp(T(gap)));
  const double s = s_rest + e_t;
  const double p_t = e_t / s;
  const double one_minus_p_t = s_rest / s;
  const double log_p_t = p_t > 0.5 ? -fl_log1p(s_rest / e_t) : gap - fl_log(s);
  FocalTerms terms = softmax_focal_terms(p_t, one_minus_p_t, log_p_t, a.alpha_t, a.gamma);
  if (a.grad) {
    const T coef = T(a.grad_scale * terms.k / s);
    T* __restrict g = a.grad;
    for (int64_t j = 0; j < n; ++j) g[j] = coef * g[j];
    g[t] = T(-a.grad_scale * terms.k * one_minus_p_t);
  }
  return terms.loss;
}

template <class T>
double multiclass_hinge_ww_row(const cpu::RowArgs<T>& a) {
  const T* __restrict x = a.x;
  const int64_t n = a.classes;
  const int64_t t = a.label;
  const T x_t = x[t];
  const T margin = T(a.margin);
  const T scale = T(a.grad_scale);
  const bool squared = a.squared;
  T* __restrict g = a.grad;
  double loss[L] = {}, slope_sum[L] = {};
  auto one = [&](int64_t j, int k) {
    T value, slope;
    hinge_term(margin + x[j] - x_t, squared, value, slope);
    value = j == t ? T(0) : value;
    slope = j == t ? T(0) : slope;
    loss[k] += double(value);
    slope_sum[k] += double(slope);
    if (g) g[j] = scale * slope;
  };
  int64_t full = n - n % L;
  for (int64_t j = 0; j < full; j += L)
    for (int k = 0; k < L; ++k) one(j + k, k);
  for (int64_t j = full; j < n; ++j) one(j, int(j - full));
  if (g) g[t] = T(-a.grad_scale * sum_lanes(slope_sum));
  return sum_lanes(loss);
}

template <class T>
double multiclass_hinge_cs_row(const cpu::RowArgs<T>& a) {
  const T* __restrict x = a.x;
  const int64_t n = a.classes;
  const int64_t t = a.label;
  // The largest competitor (first index on ties); any NaN in the row makes the loss NaN.
  int64_t best = -1;
  bool any_nan = false;
  for (int64_t j = 0; j < n; ++j) {
    any_nan |= x[j] != x[j];
    if (j != t && (best < 0 || x[j] > x[best])) best = j;
  }
  T value = T(0), slope = T(0);
  if (best >= 0) hinge_term(T(a.margin) + x[best] - x[t], a.squared, value, slope);
  if (any_nan) value = slope = fl_nan<T>();
  if (a.grad) {
    for (int64_t j = 0; j < n; ++j) a.grad[j] = any_nan ? fl_nan<T>() : T(0);
    if (best >= 0 && !any_nan) {
      a.grad[best] = T(a.grad_scale) * slope;
      a.grad[t] = -T(a.grad_scale) * slope;
    }
  }
  return double(value);
}

template <class T>
struct RowFns {
  static constexpr cpu::RowFn<T> table[cpu::kNumRow] = {
      cross_entropy_sparse_row<T>, cross_entropy_dense_row<T>, softmax_focal_row<T>,
      multiclass_hinge_ww_row<T>, multiclass_hinge_cs_row<T>};
};

}  // namespace
FL_ISA_NAMESPACE_END

#define FL_CAT_(a, b) a##b
#define FL_CAT(a, b) FL_CAT_(a, b)

namespace fastloss::cpu {

const RowTable& FL_CAT(row_table_, FL_ISA)() {
  using F = ::fastloss::FL_ISA::RowFns<float>;
  using D = ::fastloss::FL_ISA::RowFns<double>;
  static const RowTable table = {
      {F::table[0], F::table[1], F::table[2], F::table[3], F::table[4]},
      {D::table[0], D::table[1], D::table[2], D::table[3], D::table[4]},
  };
  return table;
}

}  // namespace fastloss::cpu
