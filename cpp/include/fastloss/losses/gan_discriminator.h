// The terms of the GAN losses (the lecture's "Adversarial and GAN Losses"; Goodfellow et al.,
// "Generative Adversarial Nets"; Arjovsky et al., "Wasserstein GAN"; Mao et al., "Least Squares
// Generative Adversarial Networks"; Lim & Ye, "Geometric GAN" for the hinge). Each term is a
// function of one discriminator output x and a constant c that the caller passes as the target,
// a stride-0 broadcast of one number (the real label b, 0 for fake, or a sign +-1):
//   0 logistic:          (1 - c) softplus(x) + c softplus(-x) = BCE-with-logits(x, c),
//                        d/dx = (1 - c) sigmoid(x) - c sigmoid(-x)
//   1 negated logistic:  -BCE-with-logits(x, c)  (the minimax generator, c = 0: log(1 - D))
//   2 linear:            c x,               d/dx = c        (Wasserstein, c = -1 real / +1 fake)
//   3 least squares:     (x - c)^2 / 2,     d/dx = x - c
//   4 hinge:             max(0, 1 - c x),   d/dx = -c where 1 - c x > 0, else 0 (c = +-1)
// params: [term]. The logistic terms use fl_logit_terms, so logits of any magnitude are exact
// and +-inf gives the limits (a term whose weight is exactly 0 contributes 0, not 0 * inf).
// specialise() hands the driver the straight-line variant of the call's term; the general form
// (kTerm = -1, the term read at run time) selects among all five.
#pragma once
#include "fastloss/math.h"

FL_ISA_NAMESPACE_BEGIN

template <class T, int kTerm = -1>
struct GanTerm {
  static constexpr bool kUsesParamArray = false;
  static constexpr bool kChecksDomain = false;
  int term;
  FL_HOST_DEVICE explicit GanTerm(const double* params) : term(int(params[0])) {}

  static constexpr bool kSpecialises = true;
  template <class Visit>
  FL_HOST_DEVICE static auto specialise(const double* params, Visit&& visit) {
    const double t = params[0];
    if (t == 0) return visit(GanTerm<T, 0>(params));
    if (t == 1) return visit(GanTerm<T, 1>(params));
    if (t == 2) return visit(GanTerm<T, 2>(params));
    if (t == 3) return visit(GanTerm<T, 3>(params));
    if (t == 4) return visit(GanTerm<T, 4>(params));
    return visit(GanTerm<T, -1>(params));
  }

  FL_HOST_DEVICE static void logistic(T x, T c, T& value, T& grad) {
    const LogitTerms<T> t = fl_logit_terms(x);
    T c_neg = T(1) - c;
    value = t.cross_entropy(c_neg, c);
    grad = c_neg * t.sigmoid_pos - c * t.sigmoid_neg;
    value = x != x ? x : value;
    grad = x != x ? x : grad;
  }

  FL_HOST_DEVICE static void hinge(T x, T c, T& value, T& grad) {
    T m = T(1) - c * x;
    value = m < T(0) ? T(0) : m;  // NaN stays NaN
    grad = m != m ? m : (m > T(0) ? -c : T(0));
  }

  FL_HOST_DEVICE void operator()(T x, T c, T, T& value, T& grad) const {
    if constexpr (kTerm == 0) {
      logistic(x, c, value, grad);
    } else if constexpr (kTerm == 1) {
      logistic(x, c, value, grad);
      value = -value;
      grad = -grad;
    } else if constexpr (kTerm == 2) {
      value = c * x;
      grad = x != x ? x : c;
    } else if constexpr (kTerm == 3) {
      T d = x - c;
      value = T(0.5) * d * d;
      grad = d;
    } else if constexpr (kTerm == 4) {
      hinge(x, c, value, grad);
    } else {
      // Run-time term: evaluate the cheap forms and select (straight-line, so it vectorises).
      T lv, lg, hv, hg;
      logistic(x, c, lv, lg);
      hinge(x, c, hv, hg);
      T d = x - c;
      T sign = term == 1 ? T(-1) : T(1);
      value = term <= 1 ? sign * lv : term == 2 ? c * x : term == 3 ? T(0.5) * d * d : hv;
      grad = term <= 1 ? sign * lg : term == 2 ? (x != x ? x : c) : term == 3 ? d : hg;
    }
  }
};

// gan_discriminator: one pass over real outputs (logistic c = real_label, linear c = -1, least
// squares c = real_label, hinge c = 1) and one over fake outputs (c = 0, +1, 0, -1); the Python
// layer adds the two reduced passes.
template <class T>
struct GanDiscriminator : GanTerm<T> {
  FL_HOST_DEVICE explicit GanDiscriminator(const double* params) : GanTerm<T>(params) {}
};

FL_ISA_NAMESPACE_END
