// Triplet margin loss, with PyTorch's triplet_margin_loss distance (pairwise_distance):
//   d(x, y) = ||x - y + eps||_p   (eps added to every coordinate difference, so d(x, x) =
//             eps D^(1/p) and d is not symmetric),
//   d_neg = d(a, n), or with swap min(d(a, n), d(p, n)) (the positive-negative distance when it
//           is strictly smaller),
//   loss = max(0, margin + d(a, p) - d_neg).
// Gradients where the hinge is active (margin + d(a, p) - d_neg > 0; at 0 and below they are 0,
// the hinge's subgradient 0): with u(v) = grad ||v||_p = sign(v) (|v| / ||v||_p)^(p-1)
// (v / ||v|| for p = 2, sign(v) for p = 1, and 0 at v = 0, a subgradient: never NaN),
//   d/da = u(a - p + eps) - u(a - n + eps)        (no swap)
//   d/dp = -u(a - p + eps) [- u(p - n + eps) swapped]
//   d/dn = u(a - n + eps) or, swapped, u(p - n + eps).
// The differences are taken in double (exact for float32 inputs, then + eps), the sums of
// |v|^p in fixed lanes (fastloss/embedding.h); p = 2 and p = 1 have their own loops (no pow).
// A sum that overflows or underflows is redone scaled by the row's largest |v_j| (robust_norm),
// so finite inputs give finite distances.
// NaN in a row propagates to its loss and gradients.
//
// params: [margin (>= 0), p (>= 1, finite), eps, swap (0 or 1)].
#pragma once

#include <cmath>

#include "fastloss/embedding.h"
#include "fastloss/math.h"

FL_ISA_NAMESPACE_BEGIN

// |v|^p, and its derivative's factor sign(v) |v|^(p-1), for p = 2 (kP = 2), p = 1 (kP = 1)
// or any p >= 1 (kP = 0).
template <int kP>
struct PNorm {
  // A general p always takes the scaled form m ||v / m||_p (a pass for the maximum more): with
  // pow rounding, ||v||_p of one nonzero coordinate would otherwise not be exactly |v|, and
  // u_ap - u_pn of equal terms not exactly 0.
  static constexpr bool kAlwaysScaled = kP == 0;
  double p;
  FL_HOST_DEVICE double power(double v) const {
    if constexpr (kP == 2) return v * v;
    else if constexpr (kP == 1) return std::fabs(v);
    else return fl_pow(std::fabs(v), p);
  }
  // The norm from the sum of powers.
  FL_HOST_DEVICE double norm(double s) const {
    if constexpr (kP == 2) return std::sqrt(s);
    else if constexpr (kP == 1) return s;
    else return fl_pow(s, 1.0 / p);
  }
  // The norm's gradient entry u_j = sign(v_j) (|v_j| / d)^(p-1) (v_j / d for p = 2), 0 where
  // d = 0: a ratio at most 1, so no power overflows; and a division, not a product with 1 / d,
  // so u_ap - u_an cancels exactly where the two are equal.
  FL_HOST_DEVICE double unit(double v, double d) const {
    if (d == 0.0) return 0.0;  // the subgradient 0
    if constexpr (kP == 2) return v / d;
    else if constexpr (kP == 1) return v > 0.0 ? 1.0 : v < 0.0 ? -1.0 : v;  // NaN stays NaN
    else return v == 0.0 ? 0.0 : (v > 0.0 ? 1.0 : -1.0) * fl_pow(std::fabs(v) / d, p - 1.0);
  }
};

// ||v||_p from its sum of powers s, or, where s overflowed or underflowed (|v_j| beyond about
// 1e154 or below 1e-145 for p = 2), from m (sum (|v_j| / m)^p)^(1/p) with m = max |v_j|: a
// second pass over the row, in those rare rows only.
template <class Norm, class V>
FL_HOST_DEVICE double robust_norm(const Norm& norm, double s, int64_t n, V v) {
  constexpr double kTiny = 1e-290;
  if (!Norm::kAlwaysScaled) {
    if (s < fl_inf<double>() && !(s < kTiny)) return norm.norm(s);
    if (s != s) return s;
  }
  double m = 0.0;
  bool nan = false;
  for (int64_t j = 0; j < n; ++j) {
    const double x = std::fabs(v(j));
    nan = nan || x != x;
    m = x > m ? x : m;
  }
  if (nan) return fl_nan<double>();
  if (m == 0.0 || !(m < fl_inf<double>())) return m;  // all zero, or an infinite coordinate
  double scaled[1];
  embedding_sums(n, [&](int64_t j, double* out) { out[0] = norm.power(v(j) / m); }, scaled);
  return m * norm.norm(scaled[0]);
}

template <class T>
struct Triplet {
  FL_HOST_DEVICE double operator()(const EmbeddingArgs<T>& a) const {
    const double p = a.params[1];
    if (p == 2.0) return run(a, PNorm<2>{p});
    if (p == 1.0) return run(a, PNorm<1>{p});
    return run(a, PNorm<0>{p});
  }

  template <class Norm>
  FL_HOST_DEVICE double run(const EmbeddingArgs<T>& a, Norm norm) const {
    const T* an = a.x[0];
    const T* po = a.x[1];
    const T* ne = a.x[2];
    const double margin = a.params[0], eps = a.params[2];
    const bool swap = a.params[3] != 0.0;
    // v_ap = a - p + eps, v_an = a - n + eps, v_pn = p - n + eps
    auto v_ap = [&](int64_t j) { return (double(an[j]) - double(po[j])) + eps; };
    auto v_an = [&](int64_t j) { return (double(an[j]) - double(ne[j])) + eps; };
    auto v_pn = [&](int64_t j) { return (double(po[j]) - double(ne[j])) + eps; };
    double s[3] = {0.0, 0.0, 0.0};
    if (Norm::kAlwaysScaled) {
      // robust_norm computes each norm scaled
    } else if (swap) {
      embedding_sums(a.dim, [&](int64_t j, double* v) {
        v[0] = norm.power(v_ap(j));
        v[1] = norm.power(v_an(j));
        v[2] = norm.power(v_pn(j));
      }, s);
    } else {
      double s2[2];
      embedding_sums(a.dim, [&](int64_t j, double* v) {
        v[0] = norm.power(v_ap(j));
        v[1] = norm.power(v_an(j));
      }, s2);
      s[0] = s2[0];
      s[1] = s2[1];
      s[2] = 0.0;
    }
    const double d_ap = robust_norm(norm, s[0], a.dim, v_ap);
    const double d_an = robust_norm(norm, s[1], a.dim, v_an);
    const double d_pn = swap ? robust_norm(norm, s[2], a.dim, v_pn) : 0.0;
    const bool swapped = swap && d_pn < d_an;
    const double d_neg = swapped ? d_pn : d_an;
    const double h = margin + d_ap - d_neg;
    const double loss = h > 0.0 ? h : (h == h ? 0.0 : h);  // NaN stays NaN
    if (!a.grad[0] && !a.grad[1] && !a.grad[2]) return loss;
    // The hinge's gate: 1 where active, 0 at and below its kink, NaN for a NaN row.
    const double gate = h > 0.0 ? 1.0 : (h == h ? 0.0 : h);
    const double c = a.grad_scale * gate;
    T* ga = a.grad[0];
    T* gp = a.grad[1];
    T* gn = a.grad[2];
    for (int64_t j = 0; j < a.dim; ++j) {
      // gate 0: every entry 0 (no 0 * inf from an infinite coordinate)
      const double u_ap = gate == 0.0 ? 0.0 : c * norm.unit(v_ap(j), d_ap);
      const double u_neg =
          gate == 0.0 ? 0.0 : c * norm.unit(swapped ? v_pn(j) : v_an(j), d_neg);
      if (ga) ga[j] = T(swapped ? u_ap : u_ap - u_neg);
      if (gp) gp[j] = T(swapped ? -u_ap - u_neg : -u_ap);
      if (gn) gn[j] = T(u_neg);
    }
    return loss;
  }
};

FL_ISA_NAMESPACE_END
