// Binary cross-entropy on probabilities (torch.nn.functional.binary_cross_entropy):
//   -(y max(log p, -100) + (1 - y) max(log(1 - p), -100))
// The log terms are clamped at -100 as PyTorch does, so p = 0 or 1 gives a finite loss. The
// gradient is PyTorch's: (p - y) / max(p (1 - p), 1e-12). p outside [0, 1] is a domain error;
// NaN propagates.
#pragma once
#include "fastloss/math.h"

FL_ISA_NAMESPACE_BEGIN

template <class T>
struct BinaryCrossEntropy {
  static constexpr bool kUsesParamArray = false;
  static constexpr bool kChecksDomain = true;
  FL_HOST_DEVICE explicit BinaryCrossEntropy(const double*) {}
  FL_HOST_DEVICE static bool valid(T p, T) { return !(p < T(0) || p > T(1)); }
  FL_HOST_DEVICE void operator()(T p, T y, T, T& value, T& grad) const {
    T log_p = fl_log(p);
    T log_q = fl_log1p(-p);
    log_p = log_p < T(-100) ? T(-100) : log_p;
    log_q = log_q < T(-100) ? T(-100) : log_q;
    value = -(y * log_p + (T(1) - y) * log_q);
    T denom = p * (T(1) - p);
    denom = denom < T(1e-12) ? T(1e-12) : denom;
    grad = (p - y) / denom;
  }
};

FL_ISA_NAMESPACE_END
