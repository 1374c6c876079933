// Multi-class hinge of one row with class t and margin m, h_j = max(0, m + x_j - x_t) for j != t:
//   weston_watkins: sum_{j != t} h_j^p          (the lecture's one-vs-all sum; not divided by C)
//   crammer_singer: (max_{j != t} h_j)^p
// with p = 2 when squared. d/dx_j = p h_j^(p-1) [h_j > 0] for the terms that count, and d/dx_t is
// minus their sum; the subgradient at h_j == 0 is 0 and crammer_singer credits the first argmax.
// NaN anywhere in the row makes its loss and whole gradient row NaN.
//
// params: [margin, squared (0 or 1)]. Class weights scale the row (ClassWeight::factor: the
// driver's part).
#pragma once
#include "fastloss/math.h"
#include "fastloss/row.h"

FL_ISA_NAMESPACE_BEGIN

// h^p and its derivative, NaN-propagating.
template <class T>
FL_HOST_DEVICE void hinge_term(T h, bool squared, T& value, T& slope) {
  T hp = h < T(0) ? T(0) : h;
  value = squared ? hp * hp : hp;
  T s = squared ? T(2) * hp : (hp > T(0) ? T(1) : T(0));
  slope = h != h ? h : s;
}

template <class T>
struct MulticlassHingeWestonWatkins {
  template <class Ops>
  FL_HOST_DEVICE double operator()(const RowArgs<T>& a, Ops& ops) const {
    const int64_t n = a.classes;
    const int64_t t = a.label;
    const T x_t = a.x[t];  // read before the gradient row is written
    const T margin = T(a.params[0]);
    const bool squared = a.params[1] != 0;
    const MapSums sums =
        ops.map_sums(a.x, n, a.grad, T(a.grad_scale), [&](int64_t j, T x_j, T& value, T& slope) {
          hinge_term(margin + x_j - x_t, squared, value, slope);
          value = j == t ? T(0) : value;
          slope = j == t ? T(0) : slope;
        });
    if (a.grad) {
      a.grad[t] = T(-a.grad_scale * sums.slopes);
      if (sums.values != sums.values) ops.fill(a.grad, n, fl_nan<T>());
    }
    return sums.values;
  }
};

template <class T>
struct MulticlassHingeCrammerSinger {
  template <class Ops>
  FL_HOST_DEVICE double operator()(const RowArgs<T>& a, Ops& ops) const {
    const T* x = a.x;  // every read of x precedes the first write of the gradient row
    const int64_t n = a.classes;
    const int64_t t = a.label;
    // The largest competitor: maxima on both sides of t, then the first index holding it. Any
    // NaN (or inf - inf) in the row makes the loss NaN.
    const T left = ops.max(x, t), right = ops.max(x + t + 1, n - t - 1);
    const T best_value = right > left ? right : left;
    int64_t best = -1;
    for (int64_t j = 0; j < n && best < 0; ++j)
      if (j != t && x[j] == best_value) best = j;
    const bool any_nan = ops.has_nan(x, n);
    T value = T(0), slope = T(0);
    if (best >= 0) hinge_term(T(a.params[0]) + x[best] - x[t], a.params[1] != 0, value, slope);
    if (any_nan) value = slope = fl_nan<T>();
    if (a.grad) {
      ops.fill(a.grad, n, any_nan ? fl_nan<T>() : T(0));
      if (best >= 0 && !any_nan) {
        a.grad[best] = T(a.grad_scale) * slope;
        a.grad[t] = -T(a.grad_scale) * slope;
      }
    }
    return double(value);
  }
};

FL_ISA_NAMESPACE_END
