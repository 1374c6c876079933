// Softmax focal loss of one row with class t: with p_t = softmax_t and its class factor a_t,
//   loss = -a_t (1 - p_t)^gamma log p_t,
//   d loss / d x_j = K (p_j - [j == t]),
//   K = a_t ((1 - p_t)^gamma - gamma (1 - p_t)^(gamma - 1) p_t log p_t)   (K = a_t at gamma = 0),
// the gamma (1 - p_t)^(gamma - 1) term being 0 where 1 - p_t == 0. The row kernel passes
// 1 - p_t as the sum of the other probabilities and log p_t from log1p, so neither cancels.
#pragma once
#include <cmath>

#include "fastloss/math.h"

FL_ISA_NAMESPACE_BEGIN

struct FocalTerms {
  double loss;
  double k;  // gradient factor K
};

FL_HOST_DEVICE FocalTerms softmax_focal_terms(double p_t, double one_minus_p_t, double log_p_t,
                                              double alpha_t, double gamma) {
  double mod = gamma == 0 ? 1.0 : fl_pow(one_minus_p_t, gamma);
  double dmod = gamma == 0 || one_minus_p_t == 0 ? 0.0 : gamma * fl_pow(one_minus_p_t, gamma - 1);
  // p_t log p_t -> 0 as p_t -> 0 (a target logit of -inf): the limit, not 0 * -inf.
  double p_log_p = p_t == 0 ? 0.0 : p_t * log_p_t;
  return {-alpha_t * mod * log_p_t, alpha_t * (mod - dmod * p_log_p)};
}

FL_ISA_NAMESPACE_END
