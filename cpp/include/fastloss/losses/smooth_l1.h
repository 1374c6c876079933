// Smooth L1 loss (torch.nn.functional.smooth_l1_loss): with z = |x - y|,
//   0.5 z^2 / beta if z < beta, else z - beta / 2;  d/dx = (x - y) / beta inside, sign outside.
// beta == 0 is exactly the absolute error (as in PyTorch). params: [beta], beta >= 0.
#pragma once
#include "fastloss/math.h"

FL_ISA_NAMESPACE_BEGIN

template <class T>
struct SmoothL1 {
  static constexpr bool kUsesParamArray = false;
  static constexpr bool kChecksDomain = false;
  T beta, inv_beta;
  FL_HOST_DEVICE explicit SmoothL1(const double* params)
      : beta(T(params[0])), inv_beta(params[0] > 0 ? T(1.0 / params[0]) : T(0)) {}
  FL_HOST_DEVICE void operator()(T x, T y, T, T& value, T& grad) const {
    T d = x - y;
    T z = fl_abs(d);
    bool inside = z < beta;  // never true for beta == 0
    value = inside ? T(0.5) * z * z * inv_beta : z - T(0.5) * beta;
    grad = inside ? d * inv_beta : fl_sign(d);
  }
};

FL_ISA_NAMESPACE_END
