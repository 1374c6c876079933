// What an embedding kernel sees, on every device: one row of D features of each of its 2 or 3
// inputs (the metric-learning losses: pairs, triplets), the row's label, and the sums it may use.
// An embedding loss is a functor in its losses/<name>.h whose call operator, written once,
//
//   FL_HOST_DEVICE double operator()(const EmbeddingArgs<T>& a) const;
//
// returns the row's loss (before sample weights) and writes a.grad_scale times its gradient
// with respect to input k into a.grad[k] for each k whose row is given (nullptr: not wanted).
// Every row it is handed is contiguous; gradient rows never alias an input row (the driver
// refuses in-place gradients), so the functor may read the inputs again after writing them.
// A functor with a per-row label (losses.def: label row) also defines
//
//   FL_HOST_DEVICE static bool valid_label(double label);
//
// rows whose label fails it become the call's domain error (the driver reports the first).
// Sums over the features go through embedding_sums below: fixed lanes combined in a fixed
// order, so a row's bits depend on its values only, never on threads, ISA or neighbours.
#pragma once

#include <cstdint>

#include "fastloss/config.h"

namespace fastloss {

template <class T>
struct EmbeddingArgs {
  int64_t dim = 0;                 // D, the features per row
  const T* x[3] = {};              // the row of each input
  T* grad[3] = {};                 // the gradient row of each input, or nullptr
  double label = 0.0;              // the row's label (label kind row), else 0
  double grad_scale = 1.0;         // upstream gradient x reduction factor x sample weight
  const double* params = nullptr;  // hyper-parameters, in the order the header documents
};

// out[k] = sum over j in [0, n) of the k-th value term(j, v) writes into v[0..K): term j goes
// to lane j % kSumLanes of each sum, and the lanes combine in a fixed tree. The loops over the
// lanes are independent accumulations (no reassociation needed), so they vectorise as written.
template <int K, class F>
FL_HOST_DEVICE void embedding_sums(int64_t n, F term, double (&out)[K]) {
  double acc[K][kSumLanes] = {};
  int64_t j = 0;
  for (; j + kSumLanes <= n; j += kSumLanes) {
    FL_UNROLL for (int l = 0; l < kSumLanes; ++l) {
      double v[K];
      term(j + l, v);
      FL_UNROLL for (int k = 0; k < K; ++k) acc[k][l] += v[k];
    }
  }
  for (int l = 0; j + l < n; ++l) {
    double v[K];
    term(j + l, v);
    for (int k = 0; k < K; ++k) acc[k][l] += v[k];
  }
  static_assert(kSumLanes == 8, "the tree below is written for 8 lanes");
  for (int k = 0; k < K; ++k) {
    const double* a = acc[k];
    out[k] = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
  }
}

}  // namespace fastloss
