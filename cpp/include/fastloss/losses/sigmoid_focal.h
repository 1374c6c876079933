// Sigmoid focal loss (torchvision.ops.sigmoid_focal_loss, per element): with p = sigmoid(x),
//   ce = BCE-with-logits(x, y),  b = 1 - p_t = y (1 - p) + (1 - y) p,
//   loss = a_t b^gamma ce,  a_t = alpha y + (1 - alpha)(1 - y)  (1 when alpha is disabled),
//   d/dx = a_t (b^gamma (p - y) + gamma b^(gamma - 1) (1 - 2y) p (1 - p) ce).
// params: [alpha (< 0 disables it), gamma]. kGamma selects an exact integer power (0, 1, 2) or,
// for -1, b^gamma = exp(gamma log b) evaluated in double (its error grows with |gamma log b|);
// specialise() hands a driver the variant for the call's gamma.
#pragma once
#include "fastloss/math.h"

FL_ISA_NAMESPACE_BEGIN

template <class T, int kGamma = -1>
struct SigmoidFocal {
  static constexpr bool kUsesParamArray = false;
  static constexpr bool kChecksDomain = false;
  T alpha;
  bool weighted;
  double gamma;
  FL_HOST_DEVICE explicit SigmoidFocal(const double* params)
      : alpha(T(params[0])), weighted(params[0] >= 0), gamma(params[1]) {}

  static constexpr bool kSpecialises = true;
  // Calls visit(SigmoidFocal<T, k>{params}) for the exact power k of gamma (or the general form).
  template <class Visit>
  FL_HOST_DEVICE static auto specialise(const double* params, Visit&& visit) {
    const double g = params[1];
    if (g == 0) return visit(SigmoidFocal<T, 0>(params));
    if (g == 1) return visit(SigmoidFocal<T, 1>(params));
    if (g == 2) return visit(SigmoidFocal<T, 2>(params));
    return visit(SigmoidFocal<T, -1>(params));
  }

  // b^gamma and gamma b^(gamma - 1), the latter taken as 0 where b == 0 (there p (1 - p) == 0).
  FL_HOST_DEVICE void modulate(T b, T& mod, T& dmod) const {
    if constexpr (kGamma == 0) {
      mod = T(1);
      dmod = T(0);
    } else if constexpr (kGamma == 1) {
      mod = b;
      dmod = T(1);
    } else if constexpr (kGamma == 2) {
      mod = b * b;
      dmod = T(2) * b;
    } else {
      double bd = double(b);
      double m = fl_exp(gamma * fl_log(bd));
      mod = T(m);
      dmod = bd > 0 ? T(gamma * m / bd) : T(0);
    }
  }

  FL_HOST_DEVICE void operator()(T x, T y, T, T& value, T& grad) const {
    const LogitTerms<T> t = fl_logit_terms(x);
    T c_neg = T(1) - y;
    T ce = t.cross_entropy(c_neg, y);
    T p = t.sigmoid_pos;
    T q = t.sigmoid_neg;  // 1 - p, without cancellation
    T b = y * q + c_neg * p;
    T mod, dmod;
    modulate(b, mod, dmod);
    T a_t = weighted ? alpha * y + (T(1) - alpha) * c_neg : T(1);
    T dce = c_neg * p - y * q;  // p - y
    // Zero factors win over an infinite ce (a logit of +-inf): p q == 0 there, and a_t == 0
    // when alpha excludes the class, so the limits are finite instead of 0 * inf.
    T pq = p * q;
    T curvature = pq == T(0) ? T(0) : dmod * (T(1) - T(2) * y) * pq * ce;
    value = a_t == T(0) ? T(0) : a_t * mod * ce;
    grad = a_t == T(0) ? T(0) : a_t * (mod * dce + curvature);
    value = x != x ? x : value;
    grad = x != x ? x : grad;
  }
};

FL_ISA_NAMESPACE_END
