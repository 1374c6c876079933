// Knowledge distillation (Hinton et al. 2015) on a student row x and a teacher row y, with an
// optional class index t:
//   loss = alpha CE(t, softmax(x)) + c KL(softmax(y / T) || softmax(x / T)),  c = beta T^2
// (beta without t2_scale), the cross-entropy at temperature 1 and absent without a label. With
// s = softmax(x / T), u = softmax(y / T) (the teacher), sigma = softmax(x):
//   d loss / d x_j = alpha (sigma_j - [j == t]) + (c / T) (s_j - u_j),
//   d loss / d y_j = (c / T) u_j (lu_j - ls_j - KL)          (kl_divergence.h with p = u).
// One pass over the two rows after the sums gives both terms and the student's gradient; the
// teacher's gradient, which needs the KL value, takes one more. The student's exponentials at
// temperature 1 (with a label) or T (without) are kept in its gradient row, the teacher's in
// its own, between the passes.
//
// params: [temperature, alpha, beta, t2_scale (0 or 1)]. The label arrives in a.label when
// a.has_label (the driver has checked it and skipped ignored rows).
#pragma once

#include "fastloss/losses/kl_divergence.h"
#include "fastloss/math.h"
#include "fastloss/row.h"

FL_ISA_NAMESPACE_BEGIN

template <class T>
struct Distillation {
  template <class Ops>
  FL_HOST_DEVICE double operator()(const RowArgs<T>& a, Ops& ops) const {
    const bool ce = a.has_label && a.params[1] != 0.0;
    if (ce) {
      if (a.grad) return a.grad_y ? row<true, true, true>(a, ops) : row<true, true, false>(a, ops);
      return a.grad_y ? row<true, false, true>(a, ops) : row<true, false, false>(a, ops);
    }
    if (a.grad) return a.grad_y ? row<false, true, true>(a, ops) : row<false, true, false>(a, ops);
    return a.grad_y ? row<false, false, true>(a, ops) : row<false, false, false>(a, ops);
  }

  // kCe: the row has a label and alpha != 0; kGx, kGy: the student's, the teacher's gradient.
  template <bool kCe, bool kGx, bool kGy, class Ops>
  FL_HOST_DEVICE static double row(const RowArgs<T>& a, Ops& ops) {
    const int64_t n = a.classes;
    const double temperature = a.params[0], alpha = a.params[1];
    const double c = a.params[3] != 0.0 ? a.params[2] * temperature * temperature : a.params[2];
    const T m_s = ops.max(a.x, n), m_t = ops.max(a.y, n);
    if (m_s == fl_inf<T>() || m_t == fl_inf<T>()) return nan_pair_row(a, ops);
    const T tau = T(1.0 / temperature);
    // The sums: sigma's (temperature 1, with a label), s's and u's normalisers.
    const PairSums sums = ops.pair_map_sums(
        a.x, a.y, n, a.grad, a.grad_y, [=](T x, T y, T& gx, T& gy, T& v0, T& v1, T& v2) {
          const T e1 = kCe ? fl_exp_nonpositive(x - m_s) : T(0);
          const T es = fl_exp_nonpositive((x - m_s) * tau);
          const T eu = fl_exp_nonpositive((y - m_t) * tau);
          gx = kCe ? e1 : es;
          gy = eu;
          v0 = e1;
          v1 = es;
          v2 = eu;
        });
    // kl_divergence.h's normalisers with p = u (the teacher, y) and q = s (the student, x).
    SoftmaxPair<T> sp;
    sp.m_x = m_t;
    sp.m_y = m_s;
    sp.tau = tau;
    sp.inv_s_x = 1.0 / sums.v2;
    sp.inv_s_y = 1.0 / sums.v1;
    sp.shift = fl_log(sums.v2) - fl_log(sums.v1);
    const T inv_s1 = T(1.0 / sums.v0), inv_ss = T(sp.inv_s_y), inv_su = T(sp.inv_s_x);
    const T g_ce = T(a.grad_scale * alpha);
    const T g_kl = T(a.grad_scale * c * double(tau));
    // The KL value and the student's gradient (its label entry is set below); u_j from the
    // teacher's row when it holds the exponentials, else recomputed, and likewise s_j.
    const PairSums kl = ops.pair_map_sums(
        a.x, a.y, n, a.grad, a.grad_y, [=](T x, T y, T& gx, T& gy, T& v0, T& v1, T& v2) {
          const T u = kGy ? gy * inv_su : sp.p(y);
          const T d = T(sp.log_ratio(y, x));
          v0 = u == T(0) ? T(0) : u * d;
          v1 = v2 = T(0);
          if (kGx) {
            const T s = kCe ? sp.q(x) : gx * inv_ss;
            const T kl_part = g_kl * (s - u);
            gx = kCe ? g_ce * (gx * inv_s1) + kl_part : kl_part;
          }
        });
    const double kl_value = kl.v0 < 0.0 ? 0.0 : kl.v0;  // KL >= 0; rounding can leave -eps
    double loss = c * kl_value;
    if (kCe) {
      const double x_t = double(a.x[a.label]);
      const double log_s1 = fl_log(sums.v0);
      loss += alpha * (log_s1 + (double(m_s) - x_t));
      if (kGx) {
        // sigma_t - 1 = (e_t - S) / S without cancellation in the rows' precision.
        const double e_t = double(fl_exp_nonpositive(T(x_t - double(m_s))));
        const double sigma_t_minus_1 = (e_t - sums.v0) / sums.v0;
        const T xt = a.x[a.label], yt = a.y[a.label];
        const double kl_t = double(g_kl) * (double(sp.q(xt)) -
                                            (kGy ? double(a.grad_y[a.label] * inv_su)
                                                 : double(sp.p(yt))));
        a.grad[a.label] = T(a.grad_scale * alpha * sigma_t_minus_1 + kl_t);
      }
    }
    if (kGy) {
      ops.pair_map_sums(a.x, a.y, n, nullptr, a.grad_y,
                        [=](T x, T y, T&, T& gy, T& v0, T& v1, T& v2) {
                          const T u = gy * inv_su;
                          // rounded as in the value's pass: a one-hot teacher gets exactly 0
                          const T d = T(sp.log_ratio(y, x)) - T(kl_value);
                          gy = u == T(0) ? T(0) : g_kl * (u * d);
                          v0 = v1 = v2 = T(0);
                        });
    }
    return loss;
  }
};

FL_ISA_NAMESPACE_END
