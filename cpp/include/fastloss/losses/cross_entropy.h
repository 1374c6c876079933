// Cross-entropy over one row of C logits x with a target distribution q and class weights c:
//   loss = sum_j c_j q_j (lse - x_j),   d loss / d x_j = (sum_k c_k q_k) softmax_j - c_j q_j,
// where q is the label-smoothed one-hot of a class index t, q_j = (1 - eps) [j == t] + eps / C,
// or a row of probabilities smoothed the same way. With m = max_j x_j and s = sum_j e^(x_j - m),
// lse = m + log s. The CPU row kernel evaluates one exponential per logit; the pieces it combines
// are below, written so that no term cancels:
//   * log s = log1p((ties - 1) + sum over non-maximal e_j): exact for confident rows, where s is
//     1 + (something tiny) and a plain log(s) would lose the tiny part.
//   * lse - x_j = log s + (m - x_j), a sum of two non-negative terms.
//   * p_t - 1 = -(s - e_t) / s, with s - e_t = s - 1 taken from the same sum when x_t == m.
#pragma once
#include "fastloss/math.h"

FL_ISA_NAMESPACE_BEGIN

// loss of a sparse row: (1 - eps) c_t (log s + m - x_t) + eps / C * (sum_c log s + sum_j c_j (m - x_j)).
FL_HOST_DEVICE double cross_entropy_sparse_loss(double log_s, double m_minus_xt, double c_t,
                                                double eps, double classes, double sum_c,
                                                double sum_c_m_minus_x) {
  double loss = (1.0 - eps) * c_t * (log_s + m_minus_xt);
  if (eps > 0) loss += eps / classes * (sum_c * log_s + sum_c_m_minus_x);
  return loss;
}

// d loss / d x_t of a sparse row, from p_t and p_t - 1 computed without cancellation.
FL_HOST_DEVICE double cross_entropy_sparse_target_grad(double p_t, double p_t_minus_1, double c_t,
                                                       double eps, double classes, double sum_c) {
  return c_t * (1.0 - eps) * p_t_minus_1 + eps / classes * (sum_c * p_t - c_t);
}

FL_ISA_NAMESPACE_END
