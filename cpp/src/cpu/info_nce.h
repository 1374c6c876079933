// The boundary between info_nce's driver (info_nce.cc: buffers, passes, threads, reductions) and
// its per-ISA phases (info_nce_kernels.cc: the matrix products and the softmax loops).
//
// The driver walks the queries in strips of rows [i0, i0 + tr). For a strip, `logits` holds the
// N x tr block of dot products z(j, i) = key_j . query_{i0+i} (key-major, so each phase reads
// contiguous rows), later overwritten in place by the loss's derivative with respect to the
// logit z(j, i) / temperature, times the upstream gradient, over the temperature.
// Each phase runs on a range of rows the driver hands one thread; the ranges never overlap
// in what they write.
#pragma once

#include <cstdint>

namespace fastloss::cpu {

template <class T>
struct InfoNceStrip {
  int64_t n = 0, dim = 0;         // N rows of each input, D features
  const T* query = nullptr;       // N x D, contiguous
  const T* key = nullptr;         // N x D, contiguous
  int64_t i0 = 0, tr = 0;         // the strip's query rows
  const T* query_t = nullptr;     // the strip's queries transposed: D x tr
  T* logits = nullptr;            // N x tr (see above)
  T inv_temperature = 1;
  bool symmetric = false;
  // Per query row (index i0 + i): the log-sum-exp over keys and the positive logit z_ii / t.
  double* row_lse = nullptr;
  double* diag = nullptr;
  // Per key row j, symmetric only: the running maximum and sum of exp(logit - maximum) over
  // the queries of the strips so far (column_stats), then the column log-sum-exp (key_grads).
  double* col_max = nullptr;
  double* col_sum = nullptr;
  const double* col_lse = nullptr;
  // The derivative's coefficients (upstream x reduction factor x sample weight / temperature,
  // halved when symmetric): row_coef per query row of the strip (tr), col_coef per key row (N).
  // row_lse of the strip as two T, hi + lo (tr each): v - hi is exact where the probability
  // exp(v - lse) matters (v within a factor 2 of hi), so rounding lse to T costs no accuracy.
  const T* row_lse_hi = nullptr;
  const T* row_lse_lo = nullptr;
  const T* row_coef = nullptr;
  const T* col_coef = nullptr;
  T* grad_query = nullptr;        // N x D contiguous, or nullptr
  T* grad_key = nullptr;          // N x D contiguous (accumulated over strips), or nullptr
  bool first_strip = true;        // grad_key is written, not accumulated
};

template <class T>
struct InfoNcePhases {
  // logits(j, .) for key rows [j0, j1).
  void (*logits)(const InfoNceStrip<T>& s, int64_t j0, int64_t j1);
  // row_lse and diag of the strip's rows [i0 + l0, i0 + l1).
  void (*row_stats)(const InfoNceStrip<T>& s, int64_t l0, int64_t l1);
  // col_max and col_sum of key rows [j0, j1), merged with this strip's logits.
  void (*column_stats)(const InfoNceStrip<T>& s, int64_t j0, int64_t j1);
  // The derivative in place of logits(j, .), and grad_key's rows [j0, j1) (when wanted).
  void (*key_grads)(const InfoNceStrip<T>& s, int64_t j0, int64_t j1);
  // grad_query's rows [i0 + l0, i0 + l1) from the strip's derivative.
  void (*query_grads)(const InfoNceStrip<T>& s, int64_t l0, int64_t l1);
};

}  // namespace fastloss::cpu
