// Pointwise Kullback-Leibler divergence (torch.nn.functional.kl_div): input x holds
// log-probabilities log q, target y the probabilities p (or log p with log_target):
//   y (log y - x),        d/dx = -y,          d/dy = log y + 1 - x
//   log_target, t = y:  exp(t) (t - x),  d/dx = -exp(t),  d/dt = exp(t) (t - x + 1)
// A term whose coefficient (y, or exp(t)) is exactly 0 contributes 0, also where x = -inf (the
// lecture's 0 log 0 = 0; PyTorch's 0 * -inf is nan), and its d/dt is 0; d/dy at y = 0 is the
// limit -inf of log y (PyTorch's is nan). NaN in x or y propagates, to every output.
// params: [log_target (0 or 1)]. The functor writes d/dy itself (kOperandGrads).
#pragma once
#include "fastloss/math.h"

FL_ISA_NAMESPACE_BEGIN

template <class T, bool kLogTarget = false>
struct KlDiv {
  static constexpr bool kUsesParamArray = false;
  static constexpr bool kChecksDomain = false;
  static constexpr bool kOperandGrads = true;
  FL_HOST_DEVICE explicit KlDiv(const double*) {}

  static constexpr bool kSpecialises = true;
  template <class Visit>
  FL_HOST_DEVICE static auto specialise(const double* params, Visit&& visit) {
    if (params[0] != 0) return visit(KlDiv<T, true>(params));
    return visit(KlDiv<T, false>(params));
  }

  FL_HOST_DEVICE void operator()(T x, T y, T p, T& value, T& grad) const {
    T grad_y, grad_p;
    (*this)(x, y, p, value, grad, grad_y, grad_p);
  }

  FL_HOST_DEVICE void operator()(T x, T y, T, T& value, T& grad, T& grad_y, T& grad_p) const {
    if constexpr (kLogTarget) {
      T e = fl_exp(y);
      bool zero = e == T(0);
      value = zero ? T(0) : e * (y - x);
      grad = -e;
      grad_y = zero ? T(0) : e * (y - x + T(1));
    } else {
      T log_y = fl_log(y);  // -inf at 0, nan below
      bool zero = y == T(0);
      value = zero ? T(0) : y * (log_y - x);
      grad = -y;
      grad_y = zero ? -fl_inf<T>() : log_y + T(1) - x;
    }
    value = x != x ? x : value;
    grad = x != x ? x : grad;  // (d/dx does not read x; NaN propagates all the same)
    grad_y = x != x ? x : grad_y;
    grad_p = T(0);
  }
};

FL_ISA_NAMESPACE_END
