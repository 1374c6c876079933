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

FL_HOST_DEVICE FocalTerms softmax_focal_terms(double p_t, double one_minus_p_t, double log_p_t,
                                              double alpha_t, double gamma) {
  double mod = gamma == 0 ? 1.0 : fl_pow(one_minus_p_t, gamma);
  double dmod = gamma == 0 || one_minus_p_t == 0 ? 0.0 : gamma * fl_pow(one_minus_p_t, gamma - 1);
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
};

FL_ISA_NAMESPACE_END
