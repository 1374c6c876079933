// Structured hinge (the lecture's structured hinge loss; I. Tsochantaridis, T. Joachims,
// T. Hofmann and Y. Altun, "Large Margin Methods for Structured and Interdependent Output
// Variables", 2005) of one row of K candidate scores f with the true candidate t and the task
// loss c_j = Delta(t, j) of every candidate (0/1 costs when none are given):
//   margin rescaling: loss = max_j (c_j + f_j - f_t)
//   slack rescaling:  loss = max_j c_j (1 + f_j - f_t)
// over every candidate, t included, whose term is c_t exactly (f_t - f_t = 0 even where f_t is
// infinite): 0 for a task loss, so loss >= 0. With 0/1 costs both are Crammer and Singer's
// multi-class hinge with margin 1. The subgradient: t wins ties, and then the gradient is 0;
// else for the first j (in class order) that reaches the max, d/df_j = 1 (margin) or c_j
// (slack) and d/df_t minus that, all else 0. A NaN score makes the loss and the whole gradient
// row NaN; infinities follow IEEE rules (a +inf competitor gives +inf with a finite gradient,
// inf - inf is NaN).
//
// params: [slack (0: margin rescaling, 1: slack rescaling)].
#pragma once
#include "fastloss/math.h"
#include "fastloss/row.h"

FL_ISA_NAMESPACE_BEGIN

template <class T>
struct StructuredHinge {
  template <class Ops>
  FL_HOST_DEVICE double operator()(const RowArgs<T>& a, Ops& ops) const {
    const int64_t n = a.classes;
    const int64_t t = a.label;
    const T x_t = a.x[t];  // every read of x precedes the first write of the gradient row
    const bool slack = a.params[0] != 0;
    const FirstMax<T> best =
        slack ? ops.first_max(a.x, a.cost, n, t,
                              [x_t](T x_j, T c_j) { return c_j * (T(1) + x_j - x_t); })
              : ops.first_max(a.x, a.cost, n, t, [x_t](T x_j, T c_j) { return c_j + x_j - x_t; });
    const T own = a.cost ? a.cost[t] : T(0);  // the candidate t's term
    const bool nan = best.nan || x_t != x_t;   // (x_t alone reaches no term when K = 1)
    const bool counts = !nan && best.index >= 0 && best.value > own;
    const T value = nan ? fl_nan<T>() : counts ? best.value : own;
    if (a.grad) {
      ops.fill(a.grad, n, nan ? fl_nan<T>() : T(0));
      if (counts) {
        const T slope = slack && a.cost ? a.cost[best.index] : T(1);
        a.grad[best.index] = T(a.grad_scale) * slope;
        a.grad[t] = -T(a.grad_scale) * slope;
      }
    }
    return double(value);
  }
};

FL_ISA_NAMESPACE_END
