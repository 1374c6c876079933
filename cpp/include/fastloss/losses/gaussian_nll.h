// Gaussian negative log-likelihood (torch.nn.functional.gaussian_nll_loss) of a target y under
// N(x, var), var the per-element operand p (broadcast to x's shape by the caller):
//   with v = max(p, eps) and d = x - y,
//   loss = 0.5 (log v + d^2 / v) (+ 0.5 log(2 pi) with full),
//   d/dx = d / v,  d/dy = -d / v,  d/dp = 0.5 (1 / v - d^2 / v^2).
// PyTorch clamps var under no_grad, so its gradient passes the clamp unchanged: d/dp is the
// derivative at v also where p < eps (not 0), as here. NaN in p propagates (the clamp does not
// hide it). Negative variances are rejected before the kernel runs.
// params: [full (0 or 1), eps > 0]. The functor writes d/dy and d/dp itself (kOperandGrads).
#pragma once
#include "fastloss/math.h"

FL_ISA_NAMESPACE_BEGIN

template <class T>
struct GaussianNll {
  static constexpr bool kUsesParamArray = true;
  static constexpr bool kChecksDomain = false;
  static constexpr bool kOperandGrads = true;
  T constant;  // 0.5 log(2 pi) with full, else 0
  T eps;
  FL_HOST_DEVICE explicit GaussianNll(const double* params)
      : constant(params[0] != 0 ? T(0.91893853320467274178) : T(0)), eps(T(params[1])) {}

  FL_HOST_DEVICE void operator()(T x, T y, T p, T& value, T& grad) const {
    T grad_y, grad_p;
    (*this)(x, y, p, value, grad, grad_y, grad_p);
  }

  FL_HOST_DEVICE void operator()(T x, T y, T p, T& value, T& grad, T& grad_y, T& grad_p) const {
    T v = p > eps ? p : eps;
    v = p != p ? p : v;
    T inv = T(1) / v;
    T d = x - y;
    T r = d * inv;  // d / v
    value = T(0.5) * (fl_log(v) + d * r) + constant;
    grad = r;
    grad_y = -r;
    grad_p = T(0.5) * (inv - r * r);
  }
};

FL_ISA_NAMESPACE_END
