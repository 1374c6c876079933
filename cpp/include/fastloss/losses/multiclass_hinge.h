// Multi-class hinge of one row with class t and margin m, h_j = max(0, m + x_j - x_t) for j != t:
//   weston_watkins: sum_{j != t} h_j^p          (the seed's one-vs-all sum; not divided by C)
//   crammer_singer: (max_{j != t} h_j)^p
// with p = 2 when squared. d/dx_j = p h_j^(p-1) [h_j > 0] for the terms that count, and d/dx_t is
// minus their sum; the subgradient at h_j == 0 is 0 and crammer_singer credits the first argmax.
#pragma once
#include "fastloss/math.h"

FL_ISA_NAMESPACE_BEGIN

// h^p and its derivative, NaN-propagating.
template <class T>
FL_HOST_DEVICE void hinge_term(T h, bool squared, T& value, T& slope) {
  T hp = h < T(0) ? T(0) : h;
  value = squared ? hp * hp : hp;
  T s = squared ? T(2) * hp : (hp > T(0) ? T(1) : T(0));
  slope = h != h ? h : s;
}

FL_ISA_NAMESPACE_END
