// Softmax focal loss of one row with class t: with p_t = softmax_t and its class factor a_t,
//   loss = -a_t (1 - p_t)^gamma log p_t,
//   d loss / d x_j = K (p_j - [j == t]),
//   K = a_t ((1 - p_t)^gamma - gamma (1 - p_t)^(gamma - 1) p_t log p_t)   (K = a_t at gamma = 0),
// the gamma (1 - p_t)^(gamma - 1) term being 0 where 1 - p_t == 0. The row kernel passes
// 1 - p_t as the sum of the other probabilities and log p_t from log1p, so neither cancels.
//
// params: [gamma, alpha (< 0: none)]; a per-class alpha arrives as the label's value.
#pragma once
#include "fastloss/math.h"
#include "fastloss/row.h"

FL_ISA_NAMESPACE_BEGIN

struct FocalTerms {
  double loss;
  double k;  // gradient factor K
};

// (1 - p_t)^gamma and gamma (1 - p_t)^(gamma - 1): exact products for the common gammas 0, 1
// and 2 (the default), the library pow otherwise.
FL_HOST_DEVICE void focal_modulator(double b, double gamma, double& mod, double& dmod) {
  if (gamma == 0) {
    mod = 1.0, dmod = 0.0;
  } else if (gamma == 1) {
    mod = b, dmod = 1.0;
  } else if (gamma == 2) {
    mod = b * b, dmod = 2.0 * b;
  } else {
    mod = fl_pow(b, gamma);
    dmod = b == 0 ? 0.0 : gamma * fl_pow(b, gamma - 1);
  }
}

FL_HOST_DEVICE FocalTerms softmax_focal_terms(double p_t, double one_minus_p_t, double log_p_t,
                                              double alpha_t, double gamma) {
  double mod, dmod;
  focal_modulator(one_minus_p_t, gamma, mod, dmod);
  // p_t log p_t -> 0 as p_t -> 0 (a target logit of -inf): the limit, not 0 * -inf.
  double p_log_p = p_t == 0 ? 0.0 : p_t * log_p_t;
  return {-alpha_t * mod * log_p_t, alpha_t * (mod - dmod * p_log_p)};
}

template <class T>
struct SoftmaxFocal {
  template <class Ops>
  FL_HOST_DEVICE double operator()(const RowArgs<T>& a, Ops& ops) const {
    const T* x = a.x;
    const int64_t n = a.classes;
    const int64_t t = a.label;
    const T m = ops.max(x, n);
    if (m == fl_inf<T>()) return nan_row(a, ops);
    const double gamma = a.params[0];
    const double alpha_t = a.has_label_value ? a.label_value
                                             : a.params[1] >= 0 ? a.params[1] : 1.0;
    const double gap = double(x[t]) - double(m);  // <= 0; read before the gradient row is written
    const double s_rest = ops.exp_sum_except(x, n, m, t, a.grad);
    const double e_t = double(fl_exp(T(gap)));
    const double s = s_rest + e_t;
    const double p_t = e_t / s;
    const double one_minus_p_t = s_rest / s;
    const double log_p_t = p_t > 0.5 ? -fl_log1p(s_rest / e_t) : gap - fl_log(s);
    const FocalTerms terms = softmax_focal_terms(p_t, one_minus_p_t, log_p_t, alpha_t, gamma);
    if (a.grad) {
      ops.scale(a.grad, n, T(a.grad_scale * terms.k / s));
      a.grad[t] = T(-a.grad_scale * terms.k * one_minus_p_t);
    }
    return terms.loss;
  }

  // kTileRows short rows at once (the RowTile contract of fastloss/row.h): the formulas above,
  // each per-row quantity an array over the lanes, the sums over the row in class order. The
  // per-lane math is branch-free so that it vectorises across the rows: gamma is a template
  // constant (0, 1, 2, or -1 for the library pow) and log p_t is one log1p of a selected
  // argument (log s = log1p(s - 1), s - 1 = s_rest + e_t - 1 >= 0 being exact enough: the row's
  // largest term is e = 1).
  FL_HOST_DEVICE void tile(RowTile<T>& t) const {
    const double gamma = t.params[0];
    if (gamma == 0) tile_run<0>(t);
    else if (gamma == 1) tile_run<1>(t);
    else if (gamma == 2) tile_run<2>(t);
    else tile_run<-1>(t);
  }

  template <int kGamma>
  FL_HOST_DEVICE static void tile_run(RowTile<T>& t) {
    constexpr int R = kTileRows;
    const int64_t n = t.classes;
    const T* x = t.x;
    const double gamma = t.params[0];
    T m[R], x_t[R];
    double s_rest[R];
    for (int r = 0; r < R; ++r) {
      m[r] = -fl_inf<T>();
      s_rest[r] = 0.0;
      x_t[r] = x[t.label[r] * R + r];
    }
    for (int64_t j = 0; j < n; ++j)
      for (int r = 0; r < R; ++r) m[r] = x[j * R + r] > m[r] ? x[j * R + r] : m[r];
    // sum_{j != t} e_j, each e_j kept in the gradient tile (e_t as 0) when there is one.
    for (int64_t j = 0; j < n; ++j) {
      for (int r = 0; r < R; ++r) {
        const T e = j == t.label[r] ? T(0) : fl_exp_nonpositive(T(x[j * R + r] - m[r]));
        if (t.grad) t.grad[j * R + r] = e;
        s_rest[r] += double(e);
      }
    }
    double alpha_t[R];
    for (int r = 0; r < R; ++r)
      alpha_t[r] = t.has_label_value ? t.label_value[r] : t.params[1] >= 0 ? t.params[1] : 1.0;
    double factor[R], target_grad[R];
    for (int r = 0; r < R; ++r) {
      const double gap = double(x_t[r]) - double(m[r]);
      const double e_t = double(fl_exp_nonpositive(T(gap)));
      const double s = s_rest[r] + e_t;
      const double p_t = e_t / s;
      const double b = s_rest[r] / s;  // 1 - p_t
      const bool likely = p_t > 0.5;
      const double log_p_t = (likely ? 0.0 : gap) -
                             fl_log1p(likely ? s_rest[r] / e_t : (s_rest[r] - 1.0) + e_t);
      double mod, dmod;
      if (kGamma == 0) mod = 1.0, dmod = 0.0;
      else if (kGamma == 1) mod = b, dmod = 1.0;
      else if (kGamma == 2) mod = b * b, dmod = 2.0 * b;
      else focal_modulator(b, gamma, mod, dmod);
      const double p_log_p = p_t == 0 ? 0.0 : p_t * log_p_t;
      const double loss = -alpha_t[r] * mod * log_p_t;
      const double k = alpha_t[r] * (mod - dmod * p_log_p);
      const bool nan_row = m[r] == fl_inf<T>();  // as the row kernel's nan_row
      t.loss[r] = nan_row ? fl_nan<double>() : loss;
      factor[r] = nan_row ? fl_nan<double>() : t.grad_scale[r] * k / s;
      target_grad[r] = nan_row ? fl_nan<double>() : -t.grad_scale[r] * k * b;
    }
    if (!t.grad) return;
    T f[R];
    for (int r = 0; r < R; ++r) f[r] = T(factor[r]);
    for (int64_t j = 0; j < n; ++j)
      for (int r = 0; r < R; ++r) t.grad[j * R + r] = f[r] * t.grad[j * R + r];
    for (int r = 0; r < R; ++r) t.grad[t.label[r] * R + r] = T(target_grad[r]);
  }
};

FL_ISA_NAMESPACE_END
