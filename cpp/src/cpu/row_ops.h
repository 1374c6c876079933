// The CPU's row primitives (the contract in fastloss/row.h), compiled once per ISA: passes over
// one contiguous row in tiles, sums in kSumLanes double accumulators indexed by position, so their
// order is fixed by C alone. The exponential of each logit is evaluated once and kept in the
// gradient row until the normaliser is known.
//
// The gradient row may be the logits row itself (fastloss.torch's inplace_backward): every
// primitive reads a logits tile (into a stack copy) before writing that part of the output row,
// so the __restrict loops below never see the two aliased.
#pragma once

#include <algorithm>
#include <cstring>

#include "cpu/lanes.h"
#include "fastloss/config.h"
#include "fastloss/math.h"
#include "fastloss/row.h"

FL_ISA_NAMESPACE_BEGIN
namespace row_detail {

// Rows are processed in tiles: a map loop writes e_j = exp(x_j - m) (into the gradient row when
// there is one, else into a stack tile), then a reduction loop over the L1-resident tile adds it
// into kSumLanes double lanes. Tiles start at multiples of kLanes, so lane = j % kLanes.
constexpr int64_t kTile = 1024;
static_assert(kTile % kLanes == 0, "tiles must keep the lane of each j fixed");

using LanesI = int64_t __attribute__((vector_size(kLanes * sizeof(int64_t))));

inline LanesD splat(double v) { return LanesD{} + v; }

// max over the row, NaNs ignored (they reach the loss through the exponentials instead).
template <class T>
T row_max(const T* __restrict x, int64_t n) {
  constexpr int P = Parts<T>::kCount;
  PartOf<T> lanes[P];
  for (int p = 0; p < P; ++p) lanes[p] = PartOf<T>{} - fl_inf<T>();
  const int64_t full = n - n % kLanes;
  for (int64_t j = 0; j < full; j += kLanes) {
    FL_UNROLL
    for (int p = 0; p < P; ++p) {
      const PartOf<T> v = load_part(x + j, p);
      lanes[p] = v > lanes[p] ? v : lanes[p];
    }
  }
  T m = -fl_inf<T>();
  for (int p = 0; p < P; ++p)
    for (int k = 0; k < Parts<T>::kPerPart; ++k) m = lanes[p][k] > m ? lanes[p][k] : m;
  for (int64_t j = full; j < n; ++j) m = x[j] > m ? x[j] : m;
  return m;
}

template <class T>
void exp_shifted(const T* __restrict x, int64_t n, T m, T* __restrict e) {
  for (int64_t j = 0; j < n; ++j) e[j] = fl_exp_nonpositive(x[j] - m);  // x_j - max <= 0
}

// Sums of one softmax row: the non-maximal e_j, the number of maxima, and with kTargetSums (and
// per-class weights c, or 1) sum c_j q_j and sum c_j q_j (m - x_j), where q_j = q_scale * probs_j
// + q_shift (dense) or q_shift (sparse).
struct ExpSums {
  LanesD s_small{}, ties{}, cq{}, cq_gap{};
};

template <class T, bool kTargetSums, bool kDense, bool kWeighted>
void reduce_tile(ExpSums& sums, const T* __restrict x, const T* __restrict e, int64_t n, T m,
                 const T* __restrict probs, const T* __restrict c, double q_scale, double q_shift) {
  constexpr int P = kPartsD;
  PartD s_small[P], ties[P], cq_sum[P], cq_gap[P];
  const PartD mv = PartD{} + double(m), zero{}, one = zero + 1.0;
  for (int p = 0; p < P; ++p) s_small[p] = ties[p] = cq_sum[p] = cq_gap[p] = zero;
  const int64_t full = n - n % kLanes;
  for (int64_t j = 0; j < full; j += kLanes) {
    FL_UNROLL
    for (int p = 0; p < P; ++p) {
      const PartD xv = load_part_d(x + j, p), ev = load_part_d(e + j, p);
      const auto is_max = xv == mv;
      s_small[p] += is_max ? zero : ev;
      ties[p] += is_max ? one : zero;
      if (kTargetSums) {
        const PartD q = kDense ? load_part_d(probs + j, p) * q_scale + q_shift : zero + q_shift;
        const PartD cq = kWeighted ? load_part_d(c + j, p) * q : q;
        cq_sum[p] += cq;
        cq_gap[p] += cq * (mv - xv);
      }
    }
  }
  sums.s_small += join_parts(s_small);
  sums.ties += join_parts(ties);
  sums.cq += join_parts(cq_sum);
  sums.cq_gap += join_parts(cq_gap);
  for (int64_t j = full; j < n; ++j) {
    const int k = int(j - full);
    const bool is_max = x[j] == m;
    sums.s_small[k] += is_max ? 0.0 : double(e[j]);
    sums.ties[k] += is_max ? 1.0 : 0.0;
    if (kTargetSums) {
      double q = kDense ? double(probs[j]) * q_scale + q_shift : q_shift;
      double cq = kWeighted ? double(c[j]) * q : q;
      sums.cq[k] += cq;
      sums.cq_gap[k] += cq * (double(m) - double(x[j]));
    }
  }
}

// The logits of tile [j0, j0 + len): in place, or copied to `copy` when the tile's outputs are
// about to overwrite them (gradient row == logits row).
template <class T>
const T* logits_tile(const T* x, int64_t j0, int64_t len, const T* out_row, T* copy) {
  if (out_row != x) return x + j0;
  std::memcpy(copy, x + j0, size_t(len) * sizeof(T));
  return copy;
}

// The exponential pass of a softmax row: one exp per logit, stored in e_row when given.
template <class T, bool kTargetSums, bool kDense, bool kWeighted>
ExpSums exp_pass(const T* x, int64_t n, T m, T* e_row, const T* probs, const T* c,
                 double q_scale, double q_shift) {
  ExpSums acc;
  alignas(64) T tile[kTile], x_copy[kTile];
  for (int64_t j0 = 0; j0 < n; j0 += kTile) {
    const int64_t len = std::min(kTile, n - j0);
    T* e = e_row ? e_row + j0 : tile;
    const T* xs = logits_tile(x, j0, len, e_row, x_copy);
    exp_shifted(xs, len, m, e);
    reduce_tile<T, kTargetSums, kDense, kWeighted>(acc, xs, e, len, m,
                                                   kDense ? probs + j0 : nullptr,
                                                   kWeighted ? c + j0 : nullptr, q_scale, q_shift);
  }
  return acc;
}

// grad_j = b * (a * e_j - c_j q_j), q_j = q_scale * probs_j + q_shift (dense) or q_shift
// (sparse), in place. The difference is taken before scaling, so an exact zero stays zero.
template <class T, bool kDense, bool kWeighted>
void softmax_grad_pass(T* __restrict g, int64_t n, T a, T b, const T* __restrict probs,
                       const T* __restrict c, T q_scale, T q_shift) {
  for (int64_t j = 0; j < n; ++j) {
    T q = kDense ? q_scale * probs[j] + q_shift : q_shift;
    T cq = kWeighted ? c[j] * q : q;
    g[j] = b * (a * g[j] - cq);
  }
}

// sum_{j != t} exp(x_j - m), storing every e_j in e_row when given (e_t is left out of the sum by
// zeroing it in the tile; the caller overwrites the gradient at t anyway).
template <class T>
double exp_sum_except_pass(const T* x, int64_t n, T m, int64_t t, T* e_row) {
  LanesD acc{};
  alignas(64) T tile[kTile], x_copy[kTile];
  for (int64_t j0 = 0; j0 < n; j0 += kTile) {
    const int64_t len = std::min(kTile, n - j0);
    T* e = e_row ? e_row + j0 : tile;
    exp_shifted(logits_tile(x, j0, len, e_row, x_copy), len, m, e);
    if (t >= j0 && t < j0 + len) e[t - j0] = T(0);
    accumulate(acc, e, len);
  }
  return lanes_sum(acc);
}

template <class T>
bool has_nan(const T* __restrict x, int64_t n) {
  constexpr int P = Parts<T>::kCount;
  // A lane becomes 1 once it has seen a NaN (v == v is false only for NaN).
  const PartOf<T> zero{}, one = zero + T(1);
  PartOf<T> seen[P];
  for (int p = 0; p < P; ++p) seen[p] = zero;
  const int64_t full = n - n % kLanes;
  for (int64_t j = 0; j < full; j += kLanes) {
    FL_UNROLL
    for (int p = 0; p < P; ++p) {
      const PartOf<T> v = load_part(x + j, p);
      seen[p] = v == v ? seen[p] : one;
    }
  }
  bool nan = false;
  for (int p = 0; p < P; ++p)
    for (int k = 0; k < Parts<T>::kPerPart; ++k) nan |= seen[p][k] != T(0);
  for (int64_t j = full; j < n; ++j) nan |= x[j] != x[j];
  return nan;
}

// z_j = term(x_j, c_j) of the tile [j0, j0 + len) into z, -inf at `skip` (out of the max).
template <class T, class Term>
void first_max_tile(const T* __restrict x, const T* __restrict c, int64_t j0, int64_t len,
                    int64_t skip, Term& term, T* __restrict z) {
  if (c) {
    for (int64_t j = 0; j < len; ++j) z[j] = term(x[j0 + j], c[j0 + j]);
  } else {
    for (int64_t j = 0; j < len; ++j) z[j] = term(x[j0 + j], T(1));
  }
  if (skip >= j0 && skip < j0 + len) z[skip - j0] = -fl_inf<T>();
}

// The largest of z[0..len) (NaNs ignored; -inf when none is larger), the first index holding
// it, and whether any z is NaN, in one vector pass: each lane keeps its largest value and the
// first index that reached it (the index in T: exact, since len <= kTile), and the lanes are
// merged at the end, the smallest index among those holding the largest value winning.
template <class T>
FirstMax<T> tile_first_max(const T* __restrict z, int64_t len) {
  constexpr int P = Parts<T>::kCount, W = Parts<T>::kPerPart;
  using V = PartOf<T>;
  const V zero{}, one = zero + T(1);
  V m[P], index[P], nan[P], position[P];
  for (int p = 0; p < P; ++p) {
    m[p] = zero - fl_inf<T>();
    index[p] = nan[p] = zero;
    for (int k = 0; k < W; ++k) position[p][k] = T(p * W + k);
  }
  const int64_t full = len - len % kLanes;
  for (int64_t j = 0; j < full; j += kLanes) {
    FL_UNROLL
    for (int p = 0; p < P; ++p) {
      const V v = load_part(z + j, p);
      const auto take = v > m[p];
      m[p] = take ? v : m[p];
      index[p] = take ? position[p] + T(j) : index[p];
      nan[p] = v == v ? nan[p] : one;
    }
  }
  FirstMax<T> best;
  best.value = -fl_inf<T>();
  T best_index = T(0);
  for (int p = 0; p < P; ++p) {
    for (int k = 0; k < W; ++k) {
      const bool better = m[p][k] > best.value || (m[p][k] == best.value && index[p][k] < best_index);
      best.value = better ? m[p][k] : best.value;
      best_index = better ? index[p][k] : best_index;
      best.nan = best.nan || nan[p][k] != T(0);
    }
  }
  best.index = int64_t(best_index);
  for (int64_t j = full; j < len; ++j) {  // the tail comes after every lane's elements
    if (z[j] > best.value) {
      best.value = z[j];
      best.index = j;
    }
    best.nan = best.nan || z[j] != z[j];
  }
  return best;
}

// The largest z_j by tiles, the first tile to reach it keeping its index: one pass over the
// row, the terms of each tile computed into L1 and scanned once.
template <class T, class Term>
FirstMax<T> first_max_pass(const T* x, const T* c, int64_t n, int64_t skip, Term term) {
  alignas(64) T z[kTile];
  FirstMax<T> best;
  best.value = -fl_inf<T>();
  for (int64_t j0 = 0; j0 < n; j0 += kTile) {
    const int64_t len = std::min(kTile, n - j0);
    first_max_tile(x, c, j0, len, skip, term, z);
    const FirstMax<T> tile = tile_first_max(z, len);
    best.nan = best.nan || tile.nan;
    if (tile.value > best.value) {
      best.value = tile.value;
      best.index = j0 + tile.index;
    }
  }
  if (best.index >= 0) return best;
  // Every candidate is -inf or NaN: the first that is not NaN, if any.
  for (int64_t j = 0; j < n && best.index < 0; ++j)
    if (j != skip && term(x[j], c ? c[j] : T(1)) == -fl_inf<T>()) best.index = j;
  return best;
}

}  // namespace row_detail

template <class T>
struct CpuRowOps {
  T max(const T* x, int64_t n) const { return row_detail::row_max(x, n); }
  bool has_nan(const T* x, int64_t n) const { return row_detail::has_nan(x, n); }
  void fill(T* out, int64_t n, T v) const {
    for (int64_t j = 0; j < n; ++j) out[j] = v;
  }
  void scale(T* __restrict out, int64_t n, T c) const {
    for (int64_t j = 0; j < n; ++j) out[j] = c * out[j];
  }

  template <bool kTargetSums, bool kDense, bool kWeighted>
  SoftmaxSums softmax_sums(const T* x, int64_t n, T m, T* e_row, const T* probs, const T* c,
                           double q_scale, double q_shift) const {
    const row_detail::ExpSums acc =
        row_detail::exp_pass<T, kTargetSums, kDense, kWeighted>(x, n, m, e_row, probs, c,
                                                                q_scale, q_shift);
    SoftmaxSums sums;
    sums.s_small = lanes_sum(acc.s_small);
    sums.ties = lanes_sum(acc.ties);
    sums.cq = lanes_sum(acc.cq);
    sums.cq_gap = lanes_sum(acc.cq_gap);
    return sums;
  }

  template <bool kDense, bool kWeighted>
  void softmax_grad(T* g, int64_t n, T a, T b, const T* probs, const T* c, T q_scale,
                    T q_shift) const {
    row_detail::softmax_grad_pass<T, kDense, kWeighted>(g, n, a, b, probs, c, q_scale, q_shift);
  }

  double exp_sum_except(const T* x, int64_t n, T m, int64_t t, T* e_row) const {
    return row_detail::exp_sum_except_pass(x, n, m, t, e_row);
  }

  template <class Term>
  MapSums map_sums(const T* x, int64_t n, T* out, T out_scale, Term term) const {
    using row_detail::kTile;
    LanesD values{}, slopes{};
    alignas(64) T value_tile[kTile], slope_tile[kTile], x_copy[kTile];
    for (int64_t j0 = 0; j0 < n; j0 += kTile) {
      const int64_t len = std::min(kTile, n - j0);
      T* __restrict s = out ? out + j0 : slope_tile;
      const T* __restrict xs = row_detail::logits_tile(x, j0, len, out, x_copy);
      for (int64_t j = 0; j < len; ++j) term(j0 + j, xs[j], value_tile[j], s[j]);
      accumulate(values, value_tile, len);
      accumulate(slopes, s, len);
      if (out)
        for (int64_t j = 0; j < len; ++j) s[j] *= out_scale;
    }
    MapSums sums;
    sums.values = lanes_sum(values);
    sums.slopes = lanes_sum(slopes);
    return sums;
  }

  // Tiles of kTile: the term writes each j's three values into stack tiles (and its outputs into
  // the gradient rows or scratch tiles), then the value tiles are added into fixed lanes.
  template <class Term>
  PairSums pair_map_sums(const T* __restrict x, const T* __restrict y, int64_t n,
                         T* __restrict gx, T* __restrict gy, Term term) const {
    using row_detail::kTile;
    LanesD s0{}, s1{}, s2{};
    alignas(64) T v0[kTile], v1[kTile], v2[kTile], gx_tile[kTile], gy_tile[kTile];
    for (int64_t j0 = 0; j0 < n; j0 += kTile) {
      const int64_t len = std::min(kTile, n - j0);
      T* __restrict ox = gx ? gx + j0 : gx_tile;
      T* __restrict oy = gy ? gy + j0 : gy_tile;
      const T* __restrict xs = x + j0;
      const T* __restrict ys = y + j0;
      for (int64_t j = 0; j < len; ++j) term(xs[j], ys[j], ox[j], oy[j], v0[j], v1[j], v2[j]);
      accumulate(s0, v0, len);
      accumulate(s1, v1, len);
      accumulate(s2, v2, len);
    }
    PairSums sums;
    sums.v0 = lanes_sum(s0);
    sums.v1 = lanes_sum(s1);
    sums.v2 = lanes_sum(s2);
    return sums;
  }

  template <class Term>
  FirstMax<T> first_max(const T* x, const T* c, int64_t n, int64_t skip, Term term) const {
    return row_detail::first_max_pass(x, c, n, skip, term);
  }
};

FL_ISA_NAMESPACE_END
