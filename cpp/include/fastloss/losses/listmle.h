// ListMLE (Xia et al. 2008, "Listwise Approach to Learning to Rank: Theory and Algorithm"): the
// negative log-likelihood, under the Plackett-Luce model of the scores s, of the list's order by
// decreasing relevance pi (ties in list order, the driver's sort: O(n log n)):
//   loss = sum_k [log sum_{l >= k} e^(s_pi(l)) - s_pi(k)] = sum_k log1p(Z_(k+1) / e_k),
//   d loss / d s_pi(m) = sum_{k <= m} e_m / Z_k - 1 = e_m D_(m-1) - Z_(m+1) / Z_m,
// with e_k = e^(s_pi(k) - M) (M the largest score), Z_k = sum_{l >= k} e_l and
// D_m = sum_{k <= m} 1 / Z_k, all in double. Each term and the gradient are formed without
// cancellation: the loss of a well-ordered list with large gaps keeps its relative accuracy.
// That needs every e_k to be a normal double: lists whose scores span more than kSpan use the
// log-space form instead (lse_k = log Z_k + M online from the list's end; slower, scalar).
// NaN anywhere, or an infinite score, makes the loss and gradient row NaN; infinite relevance
// labels only order the list.
//
// params: none. The driver hands over each list compacted to its valid items, their order in
// RowArgs::labels and a scratch row of 2n doubles in RowArgs::work (losses.def).
#pragma once

#include "fastloss/math.h"
#include "fastloss/row.h"

FL_ISA_NAMESPACE_BEGIN

template <class T>
struct ListMle {
  // e^(-600) ~ 3e-261: a normal double, whose reciprocal and sums of n such do not overflow.
  static constexpr double kSpan = 600.0;

  template <class Ops>
  FL_HOST_DEVICE double operator()(const RowArgs<T>& a, Ops& ops) const {
    const int64_t n = a.classes;
    const T* s = a.x;
    if (ops.has_nan(s, n) || ops.has_nan(a.probs, n)) return nan_row(a, ops);
    const T top = ops.max(s, n);
    T bottom = s[0];
    for (int64_t j = 1; j < n; ++j) bottom = s[j] < bottom ? s[j] : bottom;
    if (top == fl_inf<T>() || bottom == -fl_inf<T>()) return nan_row(a, ops);
    return double(top) - double(bottom) <= kSpan ? linear(a, double(top)) : log_space(a);
  }

  // e_k in work[0, n), Z_k in work[n, 2n).
  FL_HOST_DEVICE static double linear(const RowArgs<T>& a, double top) {
    const int64_t n = a.classes;
    const int64_t* pi = a.labels;
    double* e = a.work;
    double* z = a.work + n;
    for (int64_t k = 0; k < n; ++k) e[k] = double(a.x[pi[k]]) - top;
    for (int64_t k = 0; k < n; ++k) e[k] = fl_exp_nonpositive(e[k]);
    double suffix = 0.0;
    for (int64_t k = n - 1; k >= 0; --k) z[k] = suffix += e[k];
    if (a.grad) {
      double d = 0.0;  // D_(m-1)
      for (int64_t m = 0; m < n; ++m) {
        const double after = m + 1 < n ? z[m + 1] : 0.0;
        a.grad[pi[m]] = T(a.grad_scale * (e[m] * d - after / z[m]));
        d += 1.0 / z[m];
      }
    }
    // The terms log1p(Z_(k+1) / e_k), through e (overwritten), in a loop that vectorises.
    for (int64_t k = 0; k + 1 < n; ++k) e[k] = fl_log1p(z[k + 1] / e[k]);
    double loss = 0.0;
    for (int64_t k = 0; k + 1 < n; ++k) loss += e[k];
    return loss;
  }

  // lse_k = log sum_{l >= k} e^(s_pi(l)) in work[n, 2n); the k-th term is
  // softplus(lse_(k+1) - s_pi(k)), and with B_m = sum_{k <= m} e^(lse_m - lse_k),
  //   d loss / d s_pi(m) = e^(s_pi(m) - lse_(m-1)) B_(m-1) + expm1(s_pi(m) - lse_m).
  FL_HOST_DEVICE static double log_space(const RowArgs<T>& a) {
    const int64_t n = a.classes;
    const int64_t* pi = a.labels;
    double* lse = a.work + n;
    double loss = 0.0;
    double after = -fl_inf<double>();  // lse_(k+1)
    for (int64_t k = n - 1; k >= 0; --k) {
      const double s_k = double(a.x[pi[k]]);
      const double gap = after - s_k;  // -inf for the last item
      const double tail = fl_log1p(fl_exp(-fl_abs(gap)));  // log(1 + e^-|gap|)
      loss += gap > 0.0 ? gap + tail : tail;                // softplus(gap)
      lse[k] = after = (gap > 0.0 ? after : s_k) + tail;    // log(e^s_k + e^after)
    }
    if (a.grad) {
      double b = 0.0, before = 0.0;  // B_(m-1), lse_(m-1)
      for (int64_t m = 0; m < n; ++m) {
        const double s_m = double(a.x[pi[m]]);
        const double g = (m > 0 ? fl_exp(s_m - before) * b : 0.0) + fl_expm1(s_m - lse[m]);
        a.grad[pi[m]] = T(a.grad_scale * g);
        b = (m > 0 ? b * fl_exp(lse[m] - before) : 0.0) + 1.0;
        before = lse[m];
      }
    }
    return loss;
  }
};

FL_ISA_NAMESPACE_END
