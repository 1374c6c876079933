// Row kernels (softmax family and multi-class hinge), compiled once per ISA. Each takes one
// contiguous row of C logits. Sums run in kSumLanes double accumulators indexed by position, so
// their order is fixed by C alone; the exponential of each logit is evaluated once and kept in
// the gradient row until the normaliser is known.
//
// The gradient row may be the logits row itself (fastloss.torch's inplace_backward): every kernel
// reads what it needs of a logits tile (into a stack copy) or of the target logit before writing
// that part of the gradient row, so the __restrict loops below never see the two aliased.
#include <cstring>
#include <type_traits>

#include "cpu/kernels.h"
#include "cpu/lanes.h"
#include "fastloss/config.h"
#include "fastloss/losses/cross_entropy.h"
#include "fastloss/losses/multiclass_hinge.h"
#include "fastloss/losses/softmax_focal.h"

FL_ISA_NAMESPACE_BEGIN
namespace {

// Rows are processed in tiles: a map loop writes e_j = exp(x_j - m) (into the gradient row when
// there is one, else into a stack tile), then a reduction loop over the L1-resident tile adds it
// into kSumLanes double lanes. Tiles start at multiples of kLanes, so lane = j % kLanes.
constexpr int64_t kTile = 1024;
static_assert(kTile % kLanes == 0, "tiles must keep the lane of each j fixed");

using LanesI = int64_t __attribute__((vector_size(kLanes * sizeof(int64_t))));

inline LanesD splat(double v) { return LanesD{} + v; }

// max over the row, NaNs ignored (they reach the loss through the exponentials instead).
template <class T>
T row_max(const T* __restrict x, int64_t n) {
  LanesT<T> lanes = LanesT<T>{} - fl_inf<T>();
  const int64_t full = n - n % kLanes;
  for (int64_t j = 0; j < full; j += kLanes) {
    LanesT<T> v;
    std::memcpy(&v, x + j, sizeof v);
    lanes = v > lanes ? v : lanes;
  }
  T m = -fl_inf<T>();
  for (int k = 0; k < kLanes; ++k) m = lanes[k] > m ? lanes[k] : m;
  for (int64_t j = full; j < n; ++j) m = x[j] > m ? x[j] : m;
  return m;
}

template <class T>
void exp_shifted(const T* __restrict x, int64_t n, T m, T* __restrict e) {
  for (int64_t j = 0; j < n; ++j) e[j] = fl_exp(x[j] - m);
}

// Sums of one softmax row: the non-maximal e_j, the number of maxima, and with kTargetSums (and
// per-class weights c, or 1) sum c_j q_j and sum c_j q_j (m - x_j), where q_j = q_scale * probs_j
// + q_shift (dense) or q_shift (sparse).
struct ExpSums {
  LanesD s_small{}, ties{}, cq{}, cq_gap{};
};

template <class T, bool kTargetSums, bool kDense, bool kWeighted>
void reduce_tile(ExpSums& acc, const T* __restrict x, const T* __restrict e, int64_t n, T m,
                 const T* __restrict probs, const T* __restrict c, double q_scale, double q_shift) {
  const LanesD mv = splat(double(m)), zero{}, one = splat(1.0);
  const int64_t full = n - n % kLanes;
  for (int64_t j = 0; j < full; j += kLanes) {
    LanesD xv = load_lanes(x + j), ev = load_lanes(e + j);
    auto is_max = xv == mv;
    acc.s_small += is_max ? zero : ev;
    acc.ties += is_max ? one : zero;
    if (kTargetSums) {
      LanesD q = kDense ? load_lanes(probs + j) * q_scale + q_shift : splat(q_shift);
      LanesD cq = kWeighted ? load_lanes(c + j) * q : q;
      acc.cq += cq;
      acc.cq_gap += cq * (mv - xv);
    }
  }
  for (int64_t j = full; j < n; ++j) {
    const int k = int(j - full);
    const bool is_max = x[j] == m;
    acc.s_small[k] += is_max ? 0.0 : double(e[j]);
    acc.ties[k] += is_max ? 1.0 : 0.0;
    if (kTargetSums) {
      double q = kDense ? double(probs[j]) * q_scale + q_shift : q_shift;
      double cq = kWeighted ? double(c[j]) * q : q;
      acc.cq[k] += cq;
      acc.cq_gap[k] += cq * (double(m) - double(x[j]));
    }
  }
}

// The logits of tile [j0, j0 + len): in place, or copied to `copy` when the tile's outputs are
// about to overwrite them (gradient row == logits row).
template <class T>
const T* logits_tile(const T* x, int64_t j0, int64_t len, const T* out_row, T* copy) {
  if (out_row != x) return x + j0;
  std::memcpy(copy, x + j0, size_t(len) * sizeof(T));
  return copy;
}

// The exponential pass of a softmax row: one exp per logit, stored in e_row when given.
template <class T, bool kTargetSums, bool kDense, bool kWeighted>
ExpSums exp_pass(const T* x, int64_t n, T m, T* e_row, const T* probs, const T* c,
                 double q_scale, double q_shift) {
  ExpSums acc;
  alignas(64) T tile[kTile], x_copy[kTile];
  for (int64_t j0 = 0; j0 < n; j0 += kTile) {
    const int64_t len = std::min(kTile, n - j0);
    T* e = e_row ? e_row + j0 : tile;
    const T* xs = logits_tile(x, j0, len, e_row, x_copy);
    exp_shifted(xs, len, m, e);
    reduce_tile<T, kTargetSums, kDense, kWeighted>(acc, xs, e, len, m,
                                                   kDense ? probs + j0 : nullptr,
                                                   kWeighted ? c + j0 : nullptr, q_scale, q_shift);
  }
  return acc;
}

// grad_j = b * (a * e_j - c_j q_j), q_j = q_scale * probs_j + q_shift (dense) or q_shift
// (sparse), in place. The difference is taken before scaling, so an exact zero stays zero.
template <class T, bool kDense, bool kWeighted>
void softmax_grad_pass(T* __restrict g, int64_t n, T a, T b, const T* __restrict probs,
                       const T* __restrict c, T q_scale, T q_shift) {
  for (int64_t j = 0; j < n; ++j) {
    T q = kDense ? q_scale * probs[j] + q_shift : q_shift;
    T cq = kWeighted ? c[j] * q : q;
    g[j] = b * (a * g[j] - cq);
  }
}

// A +inf logit makes the row NaN (loss and gradient), as in PyTorch.
template <class T>
double nan_row(const cpu::RowArgs<T>& a) {
  if (a.grad)
    for (int64_t j = 0; j < a.classes; ++j) a.grad[j] = fl_nan<T>();
  return fl_nan<double>();
}

template <class T, bool kDense, bool kWeighted>
double cross_entropy_row_impl(const cpu::RowArgs<T>& a) {
  const T* x = a.x;
  const int64_t n = a.classes;
  const double eps = a.smoothing;
  const double classes = double(n);
  const T m = row_max(x, n);
  if (m == fl_inf<T>()) return nan_row(a);
  const double x_t = kDense ? 0.0 : double(x[a.label]);  // read before the gradient row is written
  // Sparse rows only need the target sums for the smoothing mass.
  const bool target_sums = kDense || eps > 0;
  const T q_scale = T(1.0 - eps);
  const T q_shift = T(eps / classes);
  // Sparse rows accumulate sum_j c_j (m - x_j) (q = 1); eps / C is applied in double below.
  const double sums_shift = kDense ? eps / classes : 1.0;
  ExpSums sums = target_sums
      ? exp_pass<T, true, kDense, kWeighted>(x, n, m, a.grad, a.probs, a.class_weight,
                                             1.0 - eps, sums_shift)
      : exp_pass<T, false, kDense, kWeighted>(x, n, m, a.grad, a.probs, a.class_weight,
                                              1.0 - eps, sums_shift);
  const double s_small = lanes_sum(sums.s_small), ties = lanes_sum(sums.ties);
  const double cq_total = lanes_sum(sums.cq), cq_gap = lanes_sum(sums.cq_gap);
  const double s_minus_1 = (ties - 1.0) + s_small;
  const double s = 1.0 + s_minus_1;
  // In the row's own precision: a float32 row's loss needs no double logarithm (1-2 ulp of
  // float is far inside its accuracy), and the scalar double one is a long dependency chain
  // that dominated rows of a few classes.
  const double log_s = double(fl_log1p(T(s_minus_1)));
  double loss, total_cq;
  double c_t = 1.0;
  if (kDense) {
    total_cq = cq_total;
    loss = total_cq * log_s + cq_gap;
  } else {
    c_t = kWeighted ? double(a.class_weight[a.label]) : 1.0;
    loss = cross_entropy_sparse_loss(log_s, double(m) - x_t, c_t, eps, classes,
                                     a.class_weight_sum, cq_gap);
    total_cq = (1.0 - eps) * c_t + eps / classes * a.class_weight_sum;
  }
  if (a.grad) {
    const double scale = a.grad_scale;
    if (kDense) {
      softmax_grad_pass<T, true, kWeighted>(a.grad, n, T(total_cq / s), T(scale), a.probs,
                                            a.class_weight, q_scale, q_shift);
    } else {
      softmax_grad_pass<T, false, kWeighted>(a.grad, n, T(total_cq / s), T(scale), nullptr,
                                             a.class_weight, q_scale, q_shift);
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

// sum_{j != t} exp(x_j - m), storing every e_j in e_row when given (e_t is left out of the sum by
// zeroing it in the tile; the caller overwrites the gradient at t anyway).
template <class T>
double focal_exp_pass(const T* x, int64_t n, T m, int64_t t, T* e_row) {
  LanesD acc{};
  alignas(64) T tile[kTile], x_copy[kTile];
  for (int64_t j0 = 0; j0 < n; j0 += kTile) {
    const int64_t len = std::min(kTile, n - j0);
    T* e = e_row ? e_row + j0 : tile;
    exp_shifted(logits_tile(x, j0, len, e_row, x_copy), len, m, e);
    if (t >= j0 && t < j0 + len) e[t - j0] = T(0);
    accumulate(acc, e, len);
  }
  return lanes_sum(acc);
}

template <class T>
double softmax_focal_row(const cpu::RowArgs<T>& a) {
  const T* x = a.x;
  const int64_t n = a.classes;
  const int64_t t = a.label;
  const T m = row_max(x, n);
  if (m == fl_inf<T>()) return nan_row(a);
  const double gap = double(x[t]) - double(m);  // <= 0; read before the gradient row is written
  const double s_rest = focal_exp_pass(x, n, m, t, a.grad);
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
  const T* x = a.x;
  const int64_t n = a.classes;
  const int64_t t = a.label;
  const T x_t = x[t];
  const T margin = T(a.margin);
  const bool squared = a.squared;
  LanesD loss{}, slope_sum{};
  alignas(64) T values[kTile], slope_tile[kTile], x_copy[kTile];
  for (int64_t j0 = 0; j0 < n; j0 += kTile) {
    const int64_t len = std::min(kTile, n - j0);
    T* __restrict slopes = a.grad ? a.grad + j0 : slope_tile;
    const T* __restrict xs = logits_tile(x, j0, len, a.grad, x_copy);
    for (int64_t j = 0; j < len; ++j) {
      T value, slope;
      hinge_term(margin + xs[j] - x_t, squared, value, slope);
      const bool is_target = j0 + j == t;
      values[j] = is_target ? T(0) : value;
      slopes[j] = is_target ? T(0) : slope;
    }
    accumulate(loss, values, len);
    accumulate(slope_sum, slopes, len);
    if (a.grad) {
      const T scale = T(a.grad_scale);
      for (int64_t j = 0; j < len; ++j) slopes[j] *= scale;
    }
  }
  const double total = lanes_sum(loss);
  if (a.grad) {
    a.grad[t] = T(-a.grad_scale * lanes_sum(slope_sum));
    if (total != total)  // NaN anywhere in the row reaches the whole gradient row
      for (int64_t j = 0; j < n; ++j) a.grad[j] = fl_nan<T>();
  }
  return total;
}

template <class T>
bool has_nan(const T* __restrict x, int64_t n) {
  using Mask = decltype(LanesT<T>{} != LanesT<T>{});
  Mask acc{};
  const int64_t full = n - n % kLanes;
  for (int64_t j = 0; j < full; j += kLanes) {
    LanesT<T> v;
    std::memcpy(&v, x + j, sizeof v);
    acc |= v != v;
  }
  bool nan = false;
  for (int k = 0; k < kLanes; ++k) nan |= acc[k] != 0;
  for (int64_t j = full; j < n; ++j) nan |= x[j] != x[j];
  return nan;
}

template <class T>
double multiclass_hinge_cs_row(const cpu::RowArgs<T>& a) {
  const T* x = a.x;  // every read of x precedes the first write of the gradient row
  const int64_t n = a.classes;
  const int64_t t = a.label;
  // The largest competitor: vectorised maxima on both sides of t, then the first index holding
  // it. Any NaN (or inf - inf) in the row makes the loss NaN.
  const T left = row_max(x, t), right = row_max(x + t + 1, n - t - 1);
  const T best_value = right > left ? right : left;
  int64_t best = -1;
  for (int64_t j = 0; j < n && best < 0; ++j)
    if (j != t && x[j] == best_value) best = j;
  const bool any_nan = has_nan(x, n);
  T value = T(0), slope = T(0);
  if (best >= 0) hinge_term(T(a.margin) + x[best] - x[t], a.squared, value, slope);
  if (any_nan) value = slope = fl_nan<T>();
  if (a.grad) {
    const T fill = any_nan ? fl_nan<T>() : T(0);
    for (int64_t j = 0; j < n; ++j) a.grad[j] = fill;
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
