// Multi-label margin loss of one row of C scores x whose target lists the classes t_1..t_K (the
// entries before the first -1; duplicates count once per occurrence, as in PyTorch)
// (torch.nn.functional.multilabel_margin_loss):
//   loss = (1/C) sum_k sum_{i not listed} max(0, 1 - (x_{t_k} - x_i)),
//   d loss / d x_i = (1/C) #{k : z_ki > 0}            for a class i not listed,
//   d loss / d x_{t_k} -= (1/C) #{i not listed : z_ki > 0}   per occurrence k,
// with z_ki = 1 - x_{t_k} + x_i and the subgradient 0 at z_ki == 0 (PyTorch's). Listed classes
// are RowArgs::probs != 0 (the driver's indicator row). NaN anywhere in the row makes its loss
// and whole gradient row NaN (PyTorch drops NaN terms), and so does inf - inf.
//
// Cost: (1 + [gradient]) * K * C terms. The passes read the logits after the first one wrote
// the gradient, which TargetKind::index_list allows (the driver hands over a copy in place).
//
// params: none.
#pragma once
#include "fastloss/math.h"
#include "fastloss/row.h"

FL_ISA_NAMESPACE_BEGIN

template <class T>
struct MultilabelMargin {
  template <class Ops>
  FL_HOST_DEVICE double operator()(const RowArgs<T>& a, Ops& ops) const {
    const T* x = a.x;
    const T* listed = a.probs;
    const int64_t n = a.classes, count = a.label_count;
    const int64_t* labels = a.labels;
    if (ops.has_nan(x, n)) return nan_row(a, ops);
    const double inv_c = 1.0 / double(n);
    // The hinge term of a listed class with score x_t against class i: max(0, z), NaN-propagating
    // (inf - inf), and its slope [z > 0]; 0 for a listed i.
    auto term = [listed](T x_t, int64_t i, T x_i, T& value, T& slope) {
      const T z = T(1) - x_t + x_i;
      const bool other = listed[i] == T(0);
      value = other ? (z < T(0) ? T(0) : z) : T(0);
      slope = other ? (z != z ? z : (z > T(0) ? T(1) : T(0))) : T(0);
    };
    if (a.grad) {
      // Every unlisted class's gradient: the number of listed occurrences it is within the
      // margin of (0 at listed classes, whose gradients follow).
      const T scale = T(a.grad_scale * inv_c);
      ops.map_sums(x, n, a.grad, scale, [&](int64_t i, T x_i, T& value, T& slope) {
        T hits = T(0);
        for (int64_t k = 0; k < count; ++k) {
          T v, s;
          term(x[labels[k]], i, x_i, v, s);
          hits += s;
        }
        value = T(0);
        slope = hits;
      });
    }
    double loss = 0.0;
    for (int64_t k = 0; k < count; ++k) {
      const int64_t t = labels[k];
      const T x_t = x[t];
      const MapSums sums = ops.map_sums(
          x, n, nullptr, T(0), [&](int64_t i, T x_i, T& value, T& slope) {
            term(x_t, i, x_i, value, slope);
          });
      loss += sums.values;
      if (a.grad) a.grad[t] = T(double(a.grad[t]) - a.grad_scale * inv_c * sums.slopes);
    }
    if (loss != loss) return nan_row(a, ops);
    return loss * inv_c;
  }
};

FL_ISA_NAMESPACE_END
