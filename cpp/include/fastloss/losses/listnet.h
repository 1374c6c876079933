// ListNet (Cao et al. 2007, "Learning to Rank: From Pairwise Approach to Listwise Approach") of
// one list of n scores s with relevance labels r: the cross-entropy between the top-one
// probabilities of the labels, q = softmax(r), and of the scores, p = softmax(s):
//   loss = -sum_j q_j log p_j = log sum_j e^(s_j - m_s) - sum_j q_j (s_j - m_s),
//   d loss / d s_j = p_j - q_j,
// with m_s the largest score. When r = s this is the lecture's listwise loss
// -sum_i p_i log p_i (the entropy of the score distribution). Two passes over the list: the
// normalisers Z_s, Z_r and sum_j e^(r_j - m_r) (s_j - m_s) with e^(s_j - m_s) kept in the
// gradient row, then the gradient. A term whose q_j is exactly 0 (r_j = -inf: pass log
// relevance for q = r / sum r) contributes 0, also where s_j = -inf. NaN anywhere, a +inf score
// or label, or no finite label (every r_j = -inf) make the loss and gradient row NaN. The value
// is clamped at 0 (it is >= 0; rounding can leave -eps).
//
// params: none. The driver hands over each list compacted to its valid items (losses.def).
#pragma once

#include "fastloss/math.h"
#include "fastloss/row.h"

FL_ISA_NAMESPACE_BEGIN

template <class T>
struct ListNet {
  template <class Ops>
  FL_HOST_DEVICE double operator()(const RowArgs<T>& a, Ops& ops) const {
    const int64_t n = a.classes;
    const T* s = a.x;
    const T* r = a.probs;
    const T m_s = ops.max(s, n), m_r = ops.max(r, n);  // (NaN reaches the sums below)
    if (m_s == fl_inf<T>() || m_r == fl_inf<T>() || m_r == -fl_inf<T>() || m_s == -fl_inf<T>())
      return nan_row(a, ops);
    // v0 = Z_s, v1 = Z_r, v2 = sum e^(r_j - m_r) (s_j - m_s); e^(s_j - m_s) left in the gradient.
    const PairSums z = ops.pair_map_sums(
        s, r, n, a.grad, nullptr, [=](T s_j, T r_j, T& g_j, T&, T& v0, T& v1, T& v2) {
          const T e_s = fl_exp_nonpositive(s_j - m_s), e_r = fl_exp_nonpositive(r_j - m_r);
          g_j = e_s;
          v0 = e_s;
          v1 = e_r;
          v2 = e_r == T(0) ? T(0) : e_r * (s_j - m_s);
        });
    if (z.v0 != z.v0 || z.v1 != z.v1 || z.v2 != z.v2) return nan_row(a, ops);
    if (a.grad) {
      const T p_scale = T(a.grad_scale / z.v0), q_scale = T(a.grad_scale / z.v1);
      ops.pair_map_sums(s, r, n, a.grad, nullptr, [=](T, T r_j, T& g_j, T&, T& v0, T& v1, T& v2) {
        g_j = p_scale * g_j - q_scale * fl_exp_nonpositive(r_j - m_r);
        v0 = v1 = v2 = T(0);
      });
    }
    const double loss = fl_log(z.v0) - z.v2 / z.v1;
    return loss < 0.0 ? 0.0 : loss;  // (+inf stays +inf)
  }
};

FL_ISA_NAMESPACE_END
