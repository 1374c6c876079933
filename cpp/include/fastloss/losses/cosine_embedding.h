// Cosine embedding loss of a pair of embeddings (torch.nn.functional.cosine_embedding_loss):
//   cos = <x1, x2> / sqrt((|x1|^2 + e)(|x2|^2 + e)),   e = 1e-12 (PyTorch's EPSILON),
//   loss = 1 - cos              for a similar pair (label 1),
//          max(0, cos - m)      for a dissimilar one (label -1);
//   d cos/d x1 = (x2 - (<x1, x2> / (|x1|^2 + e)) x1) / sqrt((|x1|^2 + e)(|x2|^2 + e)),
//   and symmetrically for x2. The hinge's subgradient at its kink (cos = m exactly) is 0, as
//   fastloss's other hinges. The label is 1 or -1 (anything else is a domain error, where
//   PyTorch silently gives 0). e keeps a zero embedding finite: cos = 0 and the gradient
//   x2 / sqrt(e (|x2|^2 + e)), as PyTorch's. The three sums are taken in double from the
//   inputs' values (exact products for float32), in fixed lanes (fastloss/embedding.h);
//   NaN or inf in a row makes its loss and gradient NaN.
//
// params: [margin] (finite).
#pragma once

#include <cmath>

#include "fastloss/embedding.h"
#include "fastloss/math.h"

FL_ISA_NAMESPACE_BEGIN

template <class T>
struct CosineEmbedding {
  static constexpr double kEps = 1e-12;  // added to each squared norm, as PyTorch

  FL_HOST_DEVICE static bool valid_label(double y) { return y == 1.0 || y == -1.0; }

  FL_HOST_DEVICE double operator()(const EmbeddingArgs<T>& a) const {
    const T* x1 = a.x[0];
    const T* x2 = a.x[1];
    double sums[3];
    embedding_sums(a.dim, [&](int64_t j, double* v) {
      const double u = double(x1[j]), w = double(x2[j]);
      v[0] = u * w;
      v[1] = u * u;
      v[2] = w * w;
    }, sums);
    const double dot = sums[0], n1 = sums[1] + kEps, n2 = sums[2] + kEps;
    const double denom = std::sqrt(n1 * n2);
    const double cos = dot / denom;
    const bool similar = a.label == 1.0;
    const double h = cos - a.params[0];
    // d loss / d cos: -1 (similar), 1 where the hinge is active, 0 past it; NaN stays NaN
    const double slope = similar ? -1.0 : h > 0.0 ? 1.0 : (h == h ? 0.0 : h);
    const double loss = similar ? 1.0 - cos : h > 0.0 ? h : (h == h ? 0.0 : h);
    if (a.grad[0] || a.grad[1]) {
      const double s = a.grad_scale * slope / denom;
      const double r1 = dot / n1, r2 = dot / n2;
      T* g1 = a.grad[0];
      T* g2 = a.grad[1];
      for (int64_t j = 0; j < a.dim; ++j) {
        const double u = double(x1[j]), w = double(x2[j]);
        // slope = 0 exactly (the hinge inactive): gradient 0, whatever the coordinates
        if (g1) g1[j] = T(slope == 0.0 ? 0.0 : s * (w - r1 * u));
        if (g2) g2[j] = T(slope == 0.0 ? 0.0 : s * (u - r2 * w));
      }
    }
    return loss;
  }
};

FL_ISA_NAMESPACE_END
