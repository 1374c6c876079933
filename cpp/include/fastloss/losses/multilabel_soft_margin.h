// Multi-label soft margin loss of one row of C logits x with targets y in [0, 1] and class
// weights c (torch.nn.functional.multilabel_soft_margin_loss):
//   loss = (1/C) sum_j c_j [(1 - y_j) softplus(x_j) + y_j softplus(-x_j)]
//        = -(1/C) sum_j c_j [y_j log sigmoid(x_j) + (1 - y_j) log sigmoid(-x_j)],
//   d loss / d x_j = (c_j / C) [(1 - y_j) sigmoid(x_j) - y_j sigmoid(-x_j)]
//                  = (c_j / C) (sigmoid(x_j) - y_j),
// each term the stable binary cross-entropy on logits (fl_logit_terms), so any finite logit is
// exact and a term whose coefficient is exactly 0 contributes 0 (x = +-inf gives the finite
// limit where PyTorch's formula gives inf - inf = NaN). NaN anywhere in the row makes its loss
// and whole gradient row NaN.
//
// params: none. Class weights are read in the row (ClassWeight::in_row); the mean divides by the
// number of rows (the driver's part).
#pragma once
#include "fastloss/math.h"
#include "fastloss/row.h"

FL_ISA_NAMESPACE_BEGIN

template <class T>
struct MultilabelSoftMargin {
  template <class Ops>
  FL_HOST_DEVICE double operator()(const RowArgs<T>& a, Ops& ops) const {
    const T* y = a.probs;
    const T* c = a.class_weight;
    const double inv_c = 1.0 / double(a.classes);
    const MapSums sums = ops.map_sums(
        a.x, a.classes, a.grad, T(a.grad_scale * inv_c), [&](int64_t j, T x_j, T& value, T& slope) {
          const LogitTerms<T> t = fl_logit_terms(x_j);
          const T c_neg = T(1) - y[j], c_pos = y[j];
          value = t.cross_entropy(c_neg, c_pos);
          slope = c_neg * t.sigmoid_pos - c_pos * t.sigmoid_neg;
          const T w = c ? c[j] : T(1);
          value = x_j != x_j ? x_j : w * value;
          slope = x_j != x_j ? x_j : w * slope;
        });
    if (sums.values != sums.values) return nan_row(a, ops);
    return sums.values * inv_c;
  }
};

FL_ISA_NAMESPACE_END
