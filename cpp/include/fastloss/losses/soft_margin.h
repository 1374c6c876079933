// Soft margin loss (torch.nn.functional.soft_margin_loss), the logistic loss of a margin:
//   softplus(-y x) = log(1 + exp(-y x)),   d/dx = -y sigmoid(-y x),
// for labels y in {-1, 1} (PyTorch accepts any real target, and so does this). Written with
// fl_logit_terms of z = y x, so it is exact for every |x|: PyTorch's log1p(exp(-y x)) overflows
// to inf once -y x > ~709 (float64) or ~88 (float32), this gives -y x. No parameters.
#pragma once
#include "fastloss/math.h"

FL_ISA_NAMESPACE_BEGIN

template <class T>
struct SoftMargin {
  static constexpr bool kUsesParamArray = false;
  static constexpr bool kChecksDomain = false;
  FL_HOST_DEVICE explicit SoftMargin(const double*) {}
  FL_HOST_DEVICE void operator()(T x, T y, T, T& value, T& grad) const {
    const LogitTerms<T> t = fl_logit_terms(y * x);
    value = t.softplus_neg;
    grad = -y * t.sigmoid_neg;
  }
};

FL_ISA_NAMESPACE_END
