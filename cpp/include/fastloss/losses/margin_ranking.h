// Margin ranking loss (torch.nn.functional.margin_ranking_loss): for a pair of scores x1, x2 and
// a preference y (1: x1 should rank higher, -1: x2 should),
//   max(0, -y (x1 - x2) + margin),   d/dx1 = -y where the hinge is active (> 0), else 0,
// and d/dx2 = -d/dx1 (the table's `difference` kind: the driver negates the pass's gradient).
// The subgradient at the kink (the argument exactly 0) is 0, as fastloss's other hinges; PyTorch's
// clamp passes -y there. y is the per-element operand p (any real value, as PyTorch: y = 0 gives
// max(0, margin)); params[0] = margin. NaN propagates to the value and the gradient.
#pragma once
#include "fastloss/math.h"

FL_ISA_NAMESPACE_BEGIN

template <class T>
struct MarginRanking {
  static constexpr bool kUsesParamArray = true;
  static constexpr bool kChecksDomain = false;
  T margin;
  FL_HOST_DEVICE explicit MarginRanking(const double* params) : margin(T(params[0])) {}
  FL_HOST_DEVICE void operator()(T x1, T x2, T y, T& value, T& grad) const {
    T m = margin - y * (x1 - x2);
    value = m < T(0) ? T(0) : m;  // NaN stays NaN
    grad = m != m ? m : (m > T(0) ? -y : T(0));
  }
};

FL_ISA_NAMESPACE_END
