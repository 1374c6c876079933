// Log-cosh loss: log(cosh(d)), d = x - y;  d/dx = tanh(d).
// Both come from one a = expm1(-|d|) (so e^-|d| = 1 + a):
//   |d| < 1:  log cosh d = log1p(a^2 / (2 (1 + a)))      (cosh d - 1 = (e^|d| - 1)^2 / (2 e^|d|),
//                                                          accurate down to d^2/2 for tiny d)
//   |d| >= 1: log cosh d = |d| - log 2 + log1p((1 + a)^2) (no overflow, -> |d| - log 2)
//   tanh |d| = -a (2 + a) / (1 + (1 + a)^2).
#pragma once
#include "fastloss/math.h"

FL_ISA_NAMESPACE_BEGIN

template <class T>
struct LogCosh {
  static constexpr bool kUsesParamArray = false;
  static constexpr bool kChecksDomain = false;
  FL_HOST_DEVICE explicit LogCosh(const double*) {}
  FL_HOST_DEVICE void operator()(T x, T y, T, T& value, T& grad) const {
    constexpr T kLn2 = T(0.693147180559945309417);
    T d = x - y;
    T z = fl_abs(d);
    T a = fl_expm1(-z);
    T e = T(1) + a;
    bool small = z < T(1);
    T arg = small ? a * a / (T(2) * e) : e * e;
    value = fl_log1p(arg) + (small ? T(0) : z - kLn2);
    T t = -a * (T(2) + a) / (T(1) + e * e);
    grad = d < T(0) ? -t : t;
  }
};

FL_ISA_NAMESPACE_END
