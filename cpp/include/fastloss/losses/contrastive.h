// Contrastive loss of a pair of embeddings (the lecture's form, after Hadsell, Chopra and LeCun):
//   d = ||x1 - x2||_2 (exact: no eps),   y = 1 for a similar pair, 0 for a dissimilar one,
//   loss = 1/2 [y d^2 + (1 - y) max(0, m - d)^2],
//   d/dx1 = c (x1 - x2) = -d/dx2,   c = y - (1 - y) max(0, m - d) / d.
// At d = 0 the hinge term's gradient is taken as 0 (d is not differentiable there; 0 is a
// subgradient), so coincident embeddings never give NaN. The label is 0 or 1 (anything else is
// a domain error). A dissimilar pair at infinite distance gives 0 with gradient 0, a similar one
// +inf; NaN in a row makes its loss NaN, and every gradient entry of a dissimilar pair (of a
// similar pair, whose gradient is +-(x1 - x2), the NaN coordinates). The differences and their squares are
// taken in double (exact for float32 inputs), summed in fixed lanes (fastloss/embedding.h).
//
// params: [margin] (m >= 0).
#pragma once

#include <cmath>

#include "fastloss/embedding.h"
#include "fastloss/math.h"

FL_ISA_NAMESPACE_BEGIN

template <class T>
struct Contrastive {
  FL_HOST_DEVICE static bool valid_label(double y) { return y == 0.0 || y == 1.0; }

  FL_HOST_DEVICE double operator()(const EmbeddingArgs<T>& a) const {
    const T* x1 = a.x[0];
    const T* x2 = a.x[1];
    double sums[1];
    embedding_sums(a.dim, [&](int64_t j, double* v) {
      const double diff = double(x1[j]) - double(x2[j]);
      v[0] = diff * diff;
    }, sums);
    const double d2 = sums[0];
    const double d = std::sqrt(d2);
    const double h = a.params[0] - d;
    const double hinge = h > 0.0 ? h : (h == h ? 0.0 : h);  // NaN stays NaN
    const bool similar = a.label == 1.0;
    // Selects, not y d^2 + (1 - y) ...: 0 * inf would make a far dissimilar pair NaN.
    const double loss = 0.5 * (similar ? d2 : hinge * hinge);
    const double c = similar ? 1.0 : d > 0.0 ? -hinge / d : (d == d ? 0.0 : d);
    if (a.grad[0] || a.grad[1]) {
      const double s = a.grad_scale * c;
      T* g1 = a.grad[0];
      T* g2 = a.grad[1];
      for (int64_t j = 0; j < a.dim; ++j) {
        // c = 0 exactly (hinge inactive, or d = 0): gradient 0 even at an infinite coordinate.
        const double g = c == 0.0 ? 0.0 : s * (double(x1[j]) - double(x2[j]));
        if (g1) g1[j] = T(g);
        if (g2) g2[j] = T(-g);
      }
    }
    return loss;
  }
};

FL_ISA_NAMESPACE_END
