// Quantile (pinball) loss: with u = y - x,  tau u if u >= 0, else (tau - 1) u.
// d/dx = -tau if u > 0, 1 - tau if u < 0, 0 at u == 0 (the subgradient MAE also uses).
// The per-element parameter p is tau: a scalar, or one tau per position of the last axis.
#pragma once
#include "fastloss/math.h"

FL_ISA_NAMESPACE_BEGIN

template <class T>
struct Quantile {
  static constexpr bool kUsesParamArray = true;
  static constexpr bool kChecksDomain = false;
  FL_HOST_DEVICE explicit Quantile(const double*) {}
  FL_HOST_DEVICE void operator()(T x, T y, T tau, T& value, T& grad) const {
    T u = y - x;
    value = u < T(0) ? (tau - T(1)) * u : tau * u;
    T g = u > T(0) ? -tau : (u < T(0) ? T(1) - tau : T(0));
    grad = u != u ? u : g;
  }
};

FL_ISA_NAMESPACE_END
