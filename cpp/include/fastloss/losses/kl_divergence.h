// Kullback-Leibler divergence between the softmaxes of two logits rows at temperature T:
//   p = softmax(x / T), q = softmax(y / T),   KL(p || q) = sum_j p_j (lp_j - lq_j),
//   d KL / d x_j = p_j (lp_j - lq_j - KL) / T,   d KL / d y_j = (q_j - p_j) / T,
// with lp = log p, lq = log q the log-softmaxes and 0 log 0 = 0 (a class with p_j = 0 adds
// nothing, whatever q_j). The value is summed from the log-softmaxes, never as the difference of
// two large sums (sum p lp - sum p lq), so rows with p close to q keep their small value:
//   lp_j - lq_j = ((x_j - m_x) - (y_j - m_y)) / T - (log S_x - log S_y),
// taken in double (the differences of the logits are exact there, and never overflow: each
// shifted logit is <= 0, whatever the logits' magnitude), where m are the rows' maxima
// and S = sum_j exp((x_j - m) / T). Passes over the two rows (row.h's pair_map_sums): the
// maxima; the sums S (one exponential per logit of each row, kept in the gradient rows when
// given); the value and the gradient of y; the gradient of x (it needs the value).
//
// params: [temperature]. Also the building blocks of js_divergence.h and distillation.h.
#pragma once

#include "fastloss/math.h"
#include "fastloss/row.h"

FL_ISA_NAMESPACE_BEGIN

// A +inf logit in either row makes the row NaN (loss and both gradients), as a softmax row.
template <class T, class Ops>
FL_HOST_DEVICE double nan_pair_row(const RowArgs<T>& a, Ops& ops) {
  if (a.grad) ops.fill(a.grad, a.classes, fl_nan<T>());
  if (a.grad_y) ops.fill(a.grad_y, a.classes, fl_nan<T>());
  return fl_nan<double>();
}

// The normalisers of softmax(x / T) and softmax(y / T) for one pair of rows.
template <class T>
struct SoftmaxPair {
  T m_x, m_y;          // the rows' maxima (NaNs ignored)
  T tau;               // 1 / T in the rows' precision, the factor of each exponential's argument
  double inv_s_x, inv_s_y;
  double shift;        // log S_x - log S_y

  FL_HOST_DEVICE T p(T x) const { return fl_exp_nonpositive((x - m_x) * tau) * T(inv_s_x); }
  FL_HOST_DEVICE T q(T y) const { return fl_exp_nonpositive((y - m_y) * tau) * T(inv_s_y); }
  // lp_j - lq_j, in double.
  FL_HOST_DEVICE double log_ratio(T x, T y) const {
    return ((double(x) - double(m_x)) - (double(y) - double(m_y))) * double(tau) - shift;
  }
};

// The sums pass: S_x, S_y, with each exp((x_j - m_x) tau) stored in a.grad and each
// exp((y_j - m_y) tau) in a.grad_y where those rows are given. False for a NaN row (+inf logit;
// nan_pair_row has filled the gradients).
template <class T, class Ops>
FL_HOST_DEVICE bool softmax_pair(const RowArgs<T>& a, Ops& ops, double temperature,
                                 SoftmaxPair<T>& sp) {
  const int64_t n = a.classes;
  sp.m_x = ops.max(a.x, n);
  sp.m_y = ops.max(a.y, n);
  if (sp.m_x == fl_inf<T>() || sp.m_y == fl_inf<T>()) return false;
  const double tau = 1.0 / temperature;
  sp.tau = T(tau);
  const T m_x = sp.m_x, m_y = sp.m_y, tau_t = sp.tau;
  const PairSums s = ops.pair_map_sums(
      a.x, a.y, n, a.grad, a.grad_y, [=](T x, T y, T& gx, T& gy, T& v0, T& v1, T& v2) {
        const T ex = fl_exp_nonpositive((x - m_x) * tau_t);
        const T ey = fl_exp_nonpositive((y - m_y) * tau_t);
        gx = ex;
        gy = ey;
        v0 = ex;
        v1 = ey;
        v2 = T(0);
      });
  sp.inv_s_x = 1.0 / s.v0;
  sp.inv_s_y = 1.0 / s.v1;
  sp.shift = fl_log(s.v0) - fl_log(s.v1);
  return true;
}

template <class T>
struct KlDivergence {
  template <class Ops>
  FL_HOST_DEVICE double operator()(const RowArgs<T>& a, Ops& ops) const {
    if (a.grad) return a.grad_y ? row<true, true>(a, ops) : row<true, false>(a, ops);
    return a.grad_y ? row<false, true>(a, ops) : row<false, false>(a, ops);
  }

  // kGx, kGy: the gradient of x, of y is wanted (and its row holds the exponentials).
  template <bool kGx, bool kGy, class Ops>
  FL_HOST_DEVICE static double row(const RowArgs<T>& a, Ops& ops) {
    SoftmaxPair<T> sp;
    if (!softmax_pair(a, ops, a.params[0], sp)) return nan_pair_row(a, ops);
    const T inv_s_x = T(sp.inv_s_x), inv_s_y = T(sp.inv_s_y);
    const T g = T(a.grad_scale * double(sp.tau));  // upstream / T
    // The value, and d/dy = (q - p) / T (y's exponentials are not needed after it).
    const PairSums kl = ops.pair_map_sums(
        a.x, a.y, a.classes, a.grad, a.grad_y, [=](T x, T y, T& gx, T& gy, T& v0, T& v1, T& v2) {
          const T p = kGx ? gx * inv_s_x : sp.p(x);
          const T d = T(sp.log_ratio(x, y));
          v0 = p == T(0) ? T(0) : p * d;
          v1 = v2 = T(0);
          if (kGy) gy = g * (gy * inv_s_y - p);
        });
    const double value = kl.v0 < 0.0 ? 0.0 : kl.v0;  // KL >= 0; rounding can leave -eps
    if (kGx) {
      const double value_d = value;
      ops.pair_map_sums(a.x, a.y, a.classes, a.grad, nullptr,
                        [=](T x, T y, T& gx, T&, T& v0, T& v1, T& v2) {
                          const T p = gx * inv_s_x;
                          // lp - lq rounded as in the value's pass, so that a one-hot p (one
                          // term, KL = its log ratio) gets exactly 0
                          const T d = T(sp.log_ratio(x, y)) - T(value_d);
                          gx = p == T(0) ? T(0) : g * (p * d);
                          v0 = v1 = v2 = T(0);
                        });
    }
    return value;
  }
};

FL_ISA_NAMESPACE_END
