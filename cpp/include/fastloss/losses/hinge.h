// Hinge loss for labels in {-1, +1} (or {0, 1}, with 0 read as -1):
//   max(0, 1 - y f),   d/df = -y where 1 - y f > 0, else 0.
// Other label values are a domain error; NaN propagates.
#pragma once
#include "fastloss/math.h"

FL_ISA_NAMESPACE_BEGIN

template <class T>
FL_HOST_DEVICE bool is_binary_label(T y) {
  return y == T(1) || y == T(-1) || y == T(0) || y != y;
}

template <class T>
FL_HOST_DEVICE T signed_label(T y) {
  return y == T(0) ? T(-1) : y;
}

template <class T>
struct Hinge {
  static constexpr bool kUsesParamArray = false;
  static constexpr bool kChecksDomain = true;
  FL_HOST_DEVICE explicit Hinge(const double*) {}
  FL_HOST_DEVICE static bool valid(T, T y) { return is_binary_label(y); }
  FL_HOST_DEVICE void operator()(T f, T y, T, T& value, T& grad) const {
    T s = signed_label(y);
    T m = T(1) - s * f;
    value = m < T(0) ? T(0) : m;  // NaN stays NaN
    grad = m != m ? m : (m > T(0) ? -s : T(0));
  }
};

FL_ISA_NAMESPACE_END
