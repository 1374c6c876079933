// Hinge embedding loss (torch.nn.functional.hinge_embedding_loss), on an input x that is usually
// a distance between two embeddings and a label y (1: similar, -1: dissimilar):
//   x                    where y = 1           d/dx = 1
//   max(0, margin - x)   where y = -1          d/dx = -1 where margin - x > 0, else 0
// and, as PyTorch's formula `where(y != 1, clamp(margin - x, 0)) + where(y != -1, x)`, both terms
// for any other y (NaN included). The subgradient at the kink (margin - x exactly 0) is 0, as
// fastloss's other hinges; PyTorch's clamp passes -1 there. params[0] = margin (any finite value,
// as PyTorch). NaN in x propagates to the value and the gradient.
#pragma once
#include "fastloss/math.h"

FL_ISA_NAMESPACE_BEGIN

template <class T>
struct HingeEmbedding {
  static constexpr bool kUsesParamArray = false;
  static constexpr bool kChecksDomain = false;
  T margin;
  FL_HOST_DEVICE explicit HingeEmbedding(const double* params) : margin(T(params[0])) {}
  FL_HOST_DEVICE void operator()(T x, T y, T, T& value, T& grad) const {
    const bool dissimilar = !(y == T(1)), similar = !(y == T(-1));
    const T m = margin - x;
    const T hinge = m < T(0) ? T(0) : m;  // NaN stays NaN
    const T slope = (dissimilar && m > T(0) ? T(-1) : T(0)) + (similar ? T(1) : T(0));
    value = (dissimilar ? hinge : T(0)) + (similar ? x : T(0));
    grad = x != x ? x : slope;
  }
};

FL_ISA_NAMESPACE_END
