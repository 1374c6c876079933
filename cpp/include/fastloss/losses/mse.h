// Mean squared error: (x - y)^2, d/dx = 2 (x - y).
#pragma once
#include "fastloss/math.h"

FL_ISA_NAMESPACE_BEGIN

template <class T>
struct Mse {
  static constexpr bool kUsesParamArray = false;
  static constexpr bool kChecksDomain = false;
  FL_HOST_DEVICE explicit Mse(const double*) {}
  FL_HOST_DEVICE void operator()(T x, T y, T, T& value, T& grad) const {
    T d = x - y;
    value = d * d;
    grad = T(2) * d;
  }
};

FL_ISA_NAMESPACE_END
