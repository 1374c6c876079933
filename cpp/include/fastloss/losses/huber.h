// Huber loss (torch.nn.functional.huber_loss): with z = |x - y|,
//   0.5 z^2 if z < delta, else delta (z - delta / 2);  d/dx = clamp(x - y, -delta, delta).
// params: [delta], delta > 0.
#pragma once
#include "fastloss/math.h"

FL_ISA_NAMESPACE_BEGIN

template <class T>
struct Huber {
  static constexpr bool kUsesParamArray = false;
  static constexpr bool kChecksDomain = false;
  T delta;
  FL_HOST_DEVICE explicit Huber(const double* params) : delta(T(params[0])) {}
  FL_HOST_DEVICE void operator()(T x, T y, T, T& value, T& grad) const {
    T d = x - y;
    T z = fl_abs(d);
    value = z < delta ? T(0.5) * z * z : delta * (z - T(0.5) * delta);
    grad = d < -delta ? -delta : (d > delta ? delta : d);  // NaN d falls through to d
  }
};

FL_ISA_NAMESPACE_END
