// Cross-entropy over one row of C logits x with a target distribution q and class weights c:
//   loss = sum_j c_j q_j (lse - x_j),   d loss / d x_j = (sum_k c_k q_k) softmax_j - c_j q_j,
// where q is the label-smoothed one-hot of a class index t, q_j = (1 - eps) [j == t] + eps / C,
// or a row of probabilities smoothed the same way. With m = max_j x_j and s = sum_j e^(x_j - m),
// lse = m + log s. The CPU row kernel evaluates one exponential per logit; the pieces it combines
// are below, written so that no term cancels:
//   * log s = log1p((ties - 1) + sum over non-maximal e_j): exact for confident rows, where s is
//     1 + (something tiny) and a plain log(s) would lose the tiny part.
//   * lse - x_j = log s + (m - x_j), a sum of two non-negative terms.
//   * p_t - 1 = -(s - e_t) / s, with s - e_t = s - 1 taken from the same sum when x_t == m.
//
// params: [label_smoothing]. Class weights are read in the row (ClassWeight::in_row*); the
// sparse kernel's mean also divides by the targets' weights (the driver's part).
#pragma once
#include <type_traits>

#include "fastloss/math.h"
#include "fastloss/row.h"

FL_ISA_NAMESPACE_BEGIN

// loss of a sparse row: (1 - eps) c_t (log s + m - x_t) + eps / C * (sum_c log s + sum_j c_j (m - x_j)).
FL_HOST_DEVICE double cross_entropy_sparse_loss(double log_s, double m_minus_xt, double c_t,
                                                double eps, double classes, double sum_c,
                                                double sum_c_m_minus_x) {
  double loss = (1.0 - eps) * c_t * (log_s + m_minus_xt);
  if (eps > 0) loss += eps / classes * (sum_c * log_s + sum_c_m_minus_x);
  return loss;
}

// d loss / d x_t of a sparse row, from p_t and p_t - 1 computed without cancellation.
FL_HOST_DEVICE double cross_entropy_sparse_target_grad(double p_t, double p_t_minus_1, double c_t,
                                                       double eps, double classes, double sum_c) {
  return c_t * (1.0 - eps) * p_t_minus_1 + eps / classes * (sum_c * p_t - c_t);
}

// kTileRows sparse rows at once (the RowTile contract of fastloss/row.h): the same formulas as
// the row above, with every per-row quantity an array over the lanes and the sums over the row
// taken in class order. Each lane's bits depend only on its own row.
template <class T>
struct CrossEntropySparseTile {
  FL_HOST_DEVICE void operator()(RowTile<T>& t) const {
    const bool smoothing = t.params[0] > 0;
    if (t.class_weight) smoothing ? run<true, true>(t) : run<true, false>(t);
    else smoothing ? run<false, true>(t) : run<false, false>(t);
  }

  // kSmoothing: eps > 0, the only case that needs sum_j c_j (m - x_j).
  template <bool kWeighted, bool kSmoothing>
  FL_HOST_DEVICE static void run(RowTile<T>& t) {
    constexpr int R = kTileRows;
    const int64_t n = t.classes;
    const T* x = t.x;
    const double eps = t.params[0];
    const double classes = double(n);
    T m[R], x_t[R];
    double s_small[R], ties[R], gap[R];
    for (int r = 0; r < R; ++r) {
      m[r] = -fl_inf<T>();
      s_small[r] = ties[r] = gap[r] = 0.0;
      x_t[r] = x[t.label[r] * R + r];
    }
    for (int64_t j = 0; j < n; ++j) {
      const T* xj = x + j * R;
      for (int r = 0; r < R; ++r) m[r] = xj[r] > m[r] ? xj[r] : m[r];
    }
    // e_j goes into the gradient tile when there is one (the softmax's numerators), else nowhere.
    T* e = t.grad;
    for (int64_t j = 0; j < n; ++j) {
      const double c_j = kWeighted ? double(t.class_weight[j]) : 1.0;
      for (int r = 0; r < R; ++r) {
        const T xj = x[j * R + r];
        const T ej = fl_exp_nonpositive(xj - m[r]);
        if (e) e[j * R + r] = ej;
        const bool is_max = xj == m[r];
        s_small[r] += is_max ? 0.0 : double(ej);
        ties[r] += is_max ? 1.0 : 0.0;
        if (kSmoothing) gap[r] += c_j * (double(m[r]) - double(xj));
      }
    }
    double s[R], s_minus_1[R], total_cq[R], c_t[R];
    for (int r = 0; r < R; ++r) {
      s_minus_1[r] = (ties[r] - 1.0) + s_small[r];
      s[r] = 1.0 + s_minus_1[r];
      const double log_s = double(fl_log1p(T(s_minus_1[r])));
      c_t[r] = kWeighted ? double(t.class_weight[t.label[r]]) : 1.0;
      const double loss = cross_entropy_sparse_loss(log_s, double(m[r]) - double(x_t[r]), c_t[r],
                                                    eps, classes, t.class_weight_sum, gap[r]);
      t.loss[r] = m[r] == fl_inf<T>() ? fl_nan<double>() : loss;
      total_cq[r] = (1.0 - eps) * c_t[r] + eps / classes * t.class_weight_sum;
    }
    if (!t.grad) return;
    T a[R], b[R];
    for (int r = 0; r < R; ++r) {
      a[r] = T(total_cq[r] / s[r]);
      b[r] = T(t.grad_scale[r]);
    }
    const T q_shift = T(eps / classes);
    for (int64_t j = 0; j < n; ++j) {
      const T cq = kWeighted ? t.class_weight[j] * q_shift : q_shift;
      for (int r = 0; r < R; ++r) t.grad[j * R + r] = b[r] * (a[r] * t.grad[j * R + r] - cq);
    }
    T target_grad[R];  // computed across the lanes first, scattered to each lane's label after
    bool any_inf = false;
    for (int r = 0; r < R; ++r) {
      const double e_t = double(fl_exp_nonpositive(T(double(x_t[r]) - double(m[r]))));
      const double p_t = e_t / s[r];
      const double p_t_minus_1 = (x_t[r] == m[r] ? -s_minus_1[r] : e_t - s[r]) / s[r];
      target_grad[r] = T(t.grad_scale[r] * cross_entropy_sparse_target_grad(
                                               p_t, p_t_minus_1, c_t[r], eps, classes,
                                               t.class_weight_sum));
    }
    for (int r = 0; r < R; ++r) any_inf |= m[r] == fl_inf<T>();
    for (int r = 0; r < R; ++r) t.grad[t.label[r] * R + r] = target_grad[r];
    // A +inf logit makes the row NaN, as the row kernel's nan_row.
    if (any_inf)
      for (int64_t j = 0; j < n; ++j)
        for (int r = 0; r < R; ++r)
          t.grad[j * R + r] = m[r] == fl_inf<T>() ? fl_nan<T>() : t.grad[j * R + r];
  }
};

template <class T, bool kDense>
struct CrossEntropyRow {
  template <class Ops>
  FL_HOST_DEVICE double operator()(const RowArgs<T>& a, Ops& ops) const {
    return a.class_weight ? row<true>(a, ops) : row<false>(a, ops);
  }

  // Short sparse rows, kTileRows at a time (the RowTile contract of fastloss/row.h).
  template <bool kSparse = !kDense, class = std::enable_if_t<kSparse>>
  FL_HOST_DEVICE void tile(RowTile<T>& t) const {
    CrossEntropySparseTile<T>{}(t);
  }

  template <bool kWeighted, class Ops>
  FL_HOST_DEVICE static double row(const RowArgs<T>& a, Ops& ops) {
    const T* x = a.x;
    const int64_t n = a.classes;
    const double eps = a.params[0];
    const double classes = double(n);
    const T m = ops.max(x, n);
    if (m == fl_inf<T>()) return nan_row(a, ops);
    const double x_t = kDense ? 0.0 : double(x[a.label]);  // read before the gradient row is written
    // Sparse rows only need the target sums for the smoothing mass.
    const bool target_sums = kDense || eps > 0;
    const T q_scale = T(1.0 - eps);
    const T q_shift = T(eps / classes);
    // Sparse rows accumulate sum_j c_j (m - x_j) (q = 1); eps / C is applied in double below.
    const double sums_shift = kDense ? eps / classes : 1.0;
    const SoftmaxSums sums =
        target_sums ? ops.template softmax_sums<true, kDense, kWeighted>(
                          x, n, m, a.grad, a.probs, a.class_weight, 1.0 - eps, sums_shift)
                    : ops.template softmax_sums<false, kDense, kWeighted>(
                          x, n, m, a.grad, a.probs, a.class_weight, 1.0 - eps, sums_shift);
    const double s_minus_1 = (sums.ties - 1.0) + sums.s_small;
    const double s = 1.0 + s_minus_1;
    // In the row's own precision: a float32 row's loss needs no double logarithm (1-2 ulp of
    // float is far inside its accuracy), and the scalar double one is a long dependency chain
    // that dominated rows of a few classes.
    const double log_s = double(fl_log1p(T(s_minus_1)));
    double loss, total_cq;
    double c_t = 1.0;
    if (kDense) {
      total_cq = sums.cq;
      loss = total_cq * log_s + sums.cq_gap;
    } else {
      c_t = kWeighted ? double(a.class_weight[a.label]) : 1.0;
      loss = cross_entropy_sparse_loss(log_s, double(m) - x_t, c_t, eps, classes,
                                       a.class_weight_sum, sums.cq_gap);
      total_cq = (1.0 - eps) * c_t + eps / classes * a.class_weight_sum;
    }
    if (a.grad) {
      const double scale = a.grad_scale;
      ops.template softmax_grad<kDense, kWeighted>(a.grad, n, T(total_cq / s), T(scale), a.probs,
                                                   a.class_weight, q_scale, q_shift);
      if (!kDense) {
        const double e_t = double(fl_exp_nonpositive(T(x_t - double(m))));
        const double p_t = e_t / s;
        const double p_t_minus_1 = (x_t == double(m) ? -s_minus_1 : e_t - s) / s;
        a.grad[a.label] = T(scale * cross_entropy_sparse_target_grad(p_t, p_t_minus_1, c_t, eps,
                                                                     classes, a.class_weight_sum));
      }
    }
    return loss;
  }
};

template <class T>
using CrossEntropySparse = CrossEntropyRow<T, false>;
template <class T>
using CrossEntropyDense = CrossEntropyRow<T, true>;

FL_ISA_NAMESPACE_END
