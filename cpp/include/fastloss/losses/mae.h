// Mean absolute error: |x - y|, d/dx = sign(x - y) (0 at x == y, as torch.nn.functional.l1_loss).
#pragma once
#include "fastloss/math.h"

FL_ISA_NAMESPACE_BEGIN

template <class T>
struct Mae {
  static constexpr bool kUsesParamArray = false;
  static constexpr bool kChecksDomain = false;
  FL_HOST_DEVICE explicit Mae(const double*) {}
  FL_HOST_DEVICE void operator()(T x, T y, T, T& value, T& grad) const {
    T d = x - y;
    value = fl_abs(d);
    grad = fl_sign(d);
  }
};

FL_ISA_NAMESPACE_END
