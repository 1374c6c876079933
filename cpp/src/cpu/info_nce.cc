// The in-batch InfoNCE driver: query and key of shape (N, D), row i's positive key i and its
// negatives the other keys, fused like a flash-attention forward and backward. The logits
// Z = query key^T / t are never held whole: the queries go in strips of kStripRows rows, each
// strip's N x kStripRows block of logits is computed (a matrix product), reduced to its rows'
// log-sum-exp exactly (the whole row is in the block), turned in place into the derivative
// dL/dZ, and multiplied into both gradients:
//   grad_query[strip] = dZ[strip, :] key / t          (a product over all N keys)
//   grad_key         += dZ[strip, :]^T query[strip] / t (accumulated strip after strip).
// symmetric (CLIP) also needs each key's log-sum-exp over all queries, so it runs one pass of
// strips first for the column statistics (an online maximum and sum per key, merged strip after
// strip), then the gradient pass: 4 products of N x N x D instead of 3.
//
// Memory beyond the inputs and gradients: N x kStripRows logits, the strip's queries transposed
// and a few values per row, O(N * kStripRows). Threads split each phase's rows; every value is
// computed in a fixed order whatever the split (cpu/gemm.h; per-row sums over a fixed order),
// and the strips run one after another, so the bits do not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "backend.h"
#include "cpu/batch_arrays.h"
#include "cpu/info_nce.h"
#include "cpu/kernels.h"
#include "cpu/parallel.h"
#include "cpu/strided.h"

namespace fastloss::cpu {
namespace {

constexpr int64_t kStripRows = 128;
// Rows a thread takes at a time in the phases over keys, and over a strip's queries.
constexpr int64_t kKeyBlock = 192;
constexpr int64_t kQueryBlock = 66;  // 11 micro-tiles of kGemmRows

template <class T>
LossResult run(const LossRequest& req) {
  const View* qv = req.inputs[0];
  const View* kv = req.inputs[1];
  const int64_t n = qv->shape[0], dim = qv->shape[1];
  const double temperature = req.params[0];
  const bool symmetric = req.params[1] != 0.0;
  LossResult result;
  if (n == 0) {
    result.value = req.reduction == Reduction::mean ? std::numeric_limits<double>::quiet_NaN() : 0.0;
    return result;
  }
  std::vector<T> query_copy, key_copy, grad_query_scratch, grad_key_scratch;
  const T* query = contiguous<T>(qv, query_copy);
  const T* key = contiguous<T>(kv, key_copy);
  T* grad_query = gradient_target<T>(req.grads[0], n, dim, grad_query_scratch);
  T* grad_key = gradient_target<T>(req.grads[1], n, dim, grad_key_scratch);

  const size_t n_rows = size_t(n);
  const BatchReduction reduction(req, n);

  const BatchTable& table = *active_kernels().batch;
  const InfoNcePhases<T>& phase = of_dtype<T>(table.info_nce_f32, table.info_nce_f64);

  const int64_t tr_max = std::min(kStripRows, n);
  const size_t strip_rows = size_t(tr_max);
  std::vector<T> logits(n_rows * strip_rows), query_t(size_t(dim) * strip_rows);
  std::vector<double> row_lse(n_rows), diag(n_rows);
  std::vector<double> col_max(symmetric ? n_rows : 0, -std::numeric_limits<double>::infinity());
  std::vector<double> col_sum(symmetric ? n_rows : 0, 0.0);
  std::vector<double> col_lse(symmetric ? n_rows : 0);
  std::vector<T> col_coef(symmetric ? n_rows : 0);
  std::vector<T> row_lse_hi(strip_rows), row_lse_lo(strip_rows), row_coef(strip_rows);
  // The derivative's factor of each row: upstream x reduction factor x weight / t, halved when
  // the loss is the mean of the two directions.
  const double half = symmetric ? 0.5 : 1.0;
  std::vector<double> coef(n_rows);
  for (int64_t i = 0; i < n; ++i) coef[i] = half * reduction.coefficient(i) / temperature;

  InfoNceStrip<T> s;
  s.n = n;
  s.dim = dim;
  s.query = query;
  s.key = key;
  s.query_t = query_t.data();
  s.logits = logits.data();
  s.inv_temperature = T(1.0 / temperature);
  s.symmetric = symmetric;
  s.row_lse = row_lse.data();
  s.diag = diag.data();
  s.col_max = col_max.data();
  s.col_sum = col_sum.data();
  s.col_lse = col_lse.data();
  s.row_lse_hi = row_lse_hi.data();
  s.row_lse_lo = row_lse_lo.data();
  s.row_coef = row_coef.data();
  s.col_coef = col_coef.data();
  s.grad_query = grad_query;
  s.grad_key = grad_key;

  const int64_t key_blocks = (n + kKeyBlock - 1) / kKeyBlock;
  auto over_keys = [&](void (*fn)(const InfoNceStrip<T>&, int64_t, int64_t), int64_t work) {
    parallel_for(key_blocks, work, [&](int64_t b0, int64_t b1) {
      fn(s, b0 * kKeyBlock, std::min(n, b1 * kKeyBlock));
    });
  };
  auto over_queries = [&](void (*fn)(const InfoNceStrip<T>&, int64_t, int64_t), int64_t work) {
    const int64_t blocks = (s.tr + kQueryBlock - 1) / kQueryBlock;
    parallel_for(blocks, work, [&](int64_t b0, int64_t b1) {
      fn(s, b0 * kQueryBlock, std::min(s.tr, b1 * kQueryBlock));
    });
  };
  const bool grads = grad_query || grad_key;
  // One strip: its logits (and, on the statistics pass, its rows' log-sum-exp and the keys'
  // running column statistics; on the gradient pass, the derivative and both gradients).
  auto strip = [&](int64_t i0, bool statistics, bool gradients) {
    s.i0 = i0;
    s.tr = std::min(tr_max, n - i0);
    for (int64_t i = 0; i < s.tr; ++i)
      for (int64_t k = 0; k < dim; ++k) query_t[k * s.tr + i] = query[(i0 + i) * dim + k];
    const int64_t product = n * s.tr * std::max<int64_t>(dim, 1);
    over_keys(phase.logits, product);
    if (statistics) {
      over_queries(phase.row_stats, n * s.tr);
      if (symmetric) over_keys(phase.column_stats, n * s.tr);
    }
    if (!gradients) return;
    for (int64_t i = 0; i < s.tr; ++i) {
      row_lse_hi[i] = T(row_lse[i0 + i]);
      row_lse_lo[i] = T(row_lse[i0 + i] - double(row_lse_hi[i]));
      row_coef[i] = T(coef[i0 + i]);
    }
    over_keys(phase.key_grads, grad_key ? product : n * s.tr);
    if (grad_query) over_queries(phase.query_grads, product);
    s.first_strip = false;
  };
  // Non-symmetric: one pass (a strip's rows are complete in its block). Symmetric: statistics
  // first, then the gradients, which need every key's column log-sum-exp.
  const bool two_passes = symmetric && grads;
  for (int64_t i0 = 0; i0 < n; i0 += tr_max) strip(i0, true, grads && !two_passes);
  if (symmetric) {
    for (int64_t j = 0; j < n; ++j) {
      col_lse[j] = col_max[j] + std::log(col_sum[j]);
      col_coef[j] = T(coef[j]);
    }
  }
  if (two_passes)
    for (int64_t i0 = 0; i0 < n; i0 += tr_max) strip(i0, false, true);

  // The losses: row i's cross-entropy lse_i - z_ii, or the mean of both directions'.
  std::vector<double> weighted(n_rows);
  for (int64_t i = 0; i < n; ++i) {
    double loss = row_lse[i] - diag[i];
    if (symmetric) {
      loss = 0.5 * (loss + ((col_max[i] + std::log(col_sum[i])) - diag[i]));
    }
    weighted[i] = reduction.weight(i) * loss;
  }
  copy_out<T>(req.grads[0], grad_query, n, dim);
  copy_out<T>(req.grads[1], grad_key, n, dim);
  result.value = reduction.finish<T>(weighted);
  return result;
}

}  // namespace

LossResult info_nce(const LossRequest& req) {
  return req.x()->dtype == DType::f32 ? run<float>(req) : run<double>(req);
}

}  // namespace fastloss::cpu
