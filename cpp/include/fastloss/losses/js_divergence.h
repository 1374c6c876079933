// Generalised Jensen-Shannon divergence between the softmaxes p = softmax(x / T), q =
// softmax(y / T) of two logits rows, with the mixture m = beta p + (1 - beta) q:
//   JS = beta KL(p || m) + (1 - beta) KL(q || m) = beta K_p + (1 - beta) K_q,
//   K_p = sum_j p_j a_j,  a_j = lp_j - lm_j,   K_q = sum_j q_j b_j,  b_j = lq_j - lm_j = a_j - delta_j,
// where delta_j = lp_j - lq_j (kl_divergence.h's log ratio, in double) and, with
// E = expm1(-|delta_j|) in (-1, 0] (no overflow for any delta),
//   a_j = -log1p((1 - beta) E)            for delta_j >= 0,
//   b_j = -log1p(beta E)                  for delta_j < 0:
// no term cancels when p is close to q (the value is then O(delta^2)), and 0 log 0 = 0. Since d JS / d p_j =
// beta a_j and d JS / d q_j = (1 - beta) b_j, through the softmaxes
//   d JS / d x_j = beta p_j (a_j - K_p) / T,   d JS / d y_j = (1 - beta) q_j (b_j - K_q) / T.
// At beta = 0 or 1 the mixture is q or p and JS is 0 (value and gradients) for every input
// without a NaN or +inf logit (those give a NaN row, as at any beta). The value is clamped at 0
// (JS >= 0; its rounding can leave -eps).
//
// params: [beta, temperature].
#pragma once

#include "fastloss/losses/kl_divergence.h"
#include "fastloss/math.h"
#include "fastloss/row.h"

FL_ISA_NAMESPACE_BEGIN

template <class T>
struct JsDivergence {
  template <class Ops>
  FL_HOST_DEVICE double operator()(const RowArgs<T>& a, Ops& ops) const {
    if (a.grad) return a.grad_y ? row<true, true>(a, ops) : row<true, false>(a, ops);
    return a.grad_y ? row<false, true>(a, ops) : row<false, false>(a, ops);
  }

  // (a_j, b_j) from the log ratio delta_j (taken in double), in the rows' precision: the
  // expm1 and log1p keep their relative accuracy near delta = 0 in float32 too, and float32
  // rows run them at twice the vector width.
  FL_HOST_DEVICE static void log_ratios_to_mixture(double delta_d, double beta, T& a_j, T& b_j) {
    const T delta = T(delta_d);
    const bool p_larger = delta >= T(0);
    const T e = fl_expm1(-fl_abs(delta));
    const T l = -fl_log1p(T(p_larger ? 1.0 - beta : beta) * e);
    a_j = p_larger ? l : l + delta;
    b_j = p_larger ? l - delta : l;
  }

  template <bool kGx, bool kGy, class Ops>
  FL_HOST_DEVICE static double row(const RowArgs<T>& a, Ops& ops) {
    const double beta = a.params[0];
    if (beta == 0.0 || beta == 1.0) {  // the mixture is one of the two: JS = 0
      const int64_t n = a.classes;
      if (ops.has_nan(a.x, n) || ops.has_nan(a.y, n) || ops.max(a.x, n) == fl_inf<T>() ||
          ops.max(a.y, n) == fl_inf<T>())
        return nan_pair_row(a, ops);
      if (a.grad) ops.fill(a.grad, a.classes, T(0));
      if (a.grad_y) ops.fill(a.grad_y, a.classes, T(0));
      return 0.0;
    }
    SoftmaxPair<T> sp;
    if (!softmax_pair(a, ops, a.params[1], sp)) return nan_pair_row(a, ops);
    const T inv_s_x = T(sp.inv_s_x), inv_s_y = T(sp.inv_s_y);
    const PairSums k = ops.pair_map_sums(
        a.x, a.y, a.classes, a.grad, a.grad_y, [=](T x, T y, T& gx, T& gy, T& v0, T& v1, T& v2) {
          const T p = kGx ? gx * inv_s_x : sp.p(x);
          const T q = kGy ? gy * inv_s_y : sp.q(y);
          T a_j, b_j;
          log_ratios_to_mixture(sp.log_ratio(x, y), beta, a_j, b_j);
          v0 = p == T(0) ? T(0) : p * a_j;
          v1 = q == T(0) ? T(0) : q * b_j;
          v2 = T(0);
        });
    if (kGx || kGy) {
      const double k_p = k.v0, k_q = k.v1;
      const T gx_scale = T(a.grad_scale * beta * double(sp.tau));
      const T gy_scale = T(a.grad_scale * (1.0 - beta) * double(sp.tau));
      ops.pair_map_sums(a.x, a.y, a.classes, a.grad, a.grad_y,
                        [=](T x, T y, T& gx, T& gy, T& v0, T& v1, T& v2) {
                          T a_j, b_j;
                          log_ratios_to_mixture(sp.log_ratio(x, y), beta, a_j, b_j);
                          // a_j, b_j rounded as in the value's pass (a one-hot row: exactly 0)
                          if (kGx) {
                            const T p = gx * inv_s_x;
                            gx = p == T(0) ? T(0) : gx_scale * (p * (a_j - T(k_p)));
                          }
                          if (kGy) {
                            const T q = gy * inv_s_y;
                            gy = q == T(0) ? T(0) : gy_scale * (q * (b_j - T(k_q)));
                          }
                          v0 = v1 = v2 = T(0);
                        });
    }
    const double js = beta * k.v0 + (1.0 - beta) * k.v1;
    return js < 0.0 ? 0.0 : js;  // (NaN stays NaN)
  }
};

FL_ISA_NAMESPACE_END
