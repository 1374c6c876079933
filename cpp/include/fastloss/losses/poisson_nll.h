// Poisson negative log-likelihood (torch.nn.functional.poisson_nll_loss), for a rate r and a
// count y, without the constant log(y!):
//   log_input:   x = log r,  loss = exp(x) - y x,            d/dx = exp(x) - y
//   otherwise:   x = r,      loss = x - y log(x + eps),      d/dx = 1 - y / (x + eps)
//   full adds Stirling's approximation of log(y!), y log y - y + 0.5 log(2 pi y), where y > 1
//   (PyTorch's rule: 0 for y <= 1, so the loss jumps at y = 1).
//   d/dy = -x (log_input) or -log(x + eps), plus log y + 0.5 / y where full and y > 1 (0 at
//   y <= 1, where PyTorch's where() gives nan at y = 0). The functor writes it (kOperandGrads).
// params: [log_input (0 or 1), full (0 or 1), eps > 0]. specialise() hands a driver the variant
// for the call's two flags, so each computes only its own exponential or logarithms.
#pragma once
#include "fastloss/math.h"

FL_ISA_NAMESPACE_BEGIN

template <class T, bool kLogInput = true, bool kFull = false>
struct PoissonNll {
  static constexpr bool kUsesParamArray = false;
  static constexpr bool kChecksDomain = false;
  static constexpr bool kOperandGrads = true;
  T eps;
  FL_HOST_DEVICE explicit PoissonNll(const double* params) : eps(T(params[2])) {}

  static constexpr bool kSpecialises = true;
  template <class Visit>
  FL_HOST_DEVICE static auto specialise(const double* params, Visit&& visit) {
    const bool log_input = params[0] != 0, full = params[1] != 0;
    if (log_input && !full) return visit(PoissonNll<T, true, false>(params));
    if (log_input) return visit(PoissonNll<T, true, true>(params));
    if (!full) return visit(PoissonNll<T, false, false>(params));
    return visit(PoissonNll<T, false, true>(params));
  }

  FL_HOST_DEVICE void operator()(T x, T y, T p, T& value, T& grad) const {
    T grad_y, grad_p;
    (*this)(x, y, p, value, grad, grad_y, grad_p);
  }

  FL_HOST_DEVICE void operator()(T x, T y, T, T& value, T& grad, T& grad_y, T& grad_p) const {
    if constexpr (kLogInput) {
      T e = fl_exp(x);
      value = e - y * x;
      grad = e - y;
      grad_y = -x;
    } else {
      T r = x + eps;
      T log_r = fl_log(r);
      value = x - y * log_r;
      grad = T(1) - y / r;
      grad_y = -log_r;
    }
    if constexpr (kFull) {
      // 0.5 log(2 pi y) = 0.5 log(2 pi) + 0.5 log y: one logarithm for both terms.
      T log_y = fl_log(y);
      T stirling = y * log_y - y + T(0.5) * log_y + T(0.91893853320467274178);
      bool big = y > T(1);
      value += big ? stirling : T(0);
      grad_y += big ? log_y + T(0.5) / y : T(0);
    }
    grad_p = T(0);
  }
};

FL_ISA_NAMESPACE_END
