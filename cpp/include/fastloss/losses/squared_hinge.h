// Squared hinge loss for labels in {-1, +1} (or {0, 1}, with 0 read as -1):
//   max(0, 1 - y f)^2,   d/df = -2 y max(0, 1 - y f).
#pragma once
#include "fastloss/losses/hinge.h"

FL_ISA_NAMESPACE_BEGIN

template <class T>
struct SquaredHinge {
  static constexpr bool kUsesParamArray = false;
  static constexpr bool kChecksDomain = true;
  FL_HOST_DEVICE explicit SquaredHinge(const double*) {}
  FL_HOST_DEVICE static bool valid(T, T y) { return is_binary_label(y); }
  FL_HOST_DEVICE void operator()(T f, T y, T, T& value, T& grad) const {
    T s = signed_label(y);
    T m = T(1) - s * f;
    T h = m < T(0) ? T(0) : m;
    value = h * h;
    grad = T(-2) * s * h;
  }
};

FL_ISA_NAMESPACE_END
