// Binary cross-entropy on logits (torch.nn.functional.binary_cross_entropy_with_logits):
//   (1 - y) softplus(x) + w y softplus(-x),   d/dx = (1 - y) sigmoid(x) - w y sigmoid(-x),
// with w = pos_weight (the per-element parameter p, 1 when not given). This equals PyTorch's
// (1 - y) x + (1 + (w - 1) y) softplus(-x); written this way a term whose coefficient is exactly 0
// contributes 0, so logits of +-inf give the finite limits instead of inf - inf = NaN.
#pragma once
#include "fastloss/math.h"

FL_ISA_NAMESPACE_BEGIN

template <class T>
struct BinaryCrossEntropyWithLogits {
  static constexpr bool kUsesParamArray = true;
  static constexpr bool kChecksDomain = false;
  FL_HOST_DEVICE explicit BinaryCrossEntropyWithLogits(const double*) {}
  FL_HOST_DEVICE void operator()(T x, T y, T pos_weight, T& value, T& grad) const {
    const LogitTerms<T> t = fl_logit_terms(x);
    T c_neg = T(1) - y;
    T c_pos = pos_weight * y;
    value = t.cross_entropy(c_neg, c_pos);
    grad = c_neg * t.sigmoid_pos - c_pos * t.sigmoid_neg;
    value = x != x ? x : value;
    grad = x != x ? x : grad;
  }
};

FL_ISA_NAMESPACE_END
