// info_nce's phases, compiled once per ISA (the contract is cpu/info_nce.h): matrix products by
// cpu/gemm.h, softmax loops written so the compiler vectorises them over a strip's queries
// (contiguous in each logits row), sums of exponentials in double, in a fixed order.
#include <cmath>

#include "cpu/gemm.h"
#include "cpu/info_nce.h"
#include "cpu/kernels.h"
#include "fastloss/config.h"
#include "fastloss/math.h"

FL_ISA_NAMESPACE_BEGIN
namespace {

using cpu::InfoNceStrip;

template <class T>
void logits(const InfoNceStrip<T>& s, int64_t j0, int64_t j1) {
  gemm<T>(j1 - j0, s.tr, s.dim, s.key + j0 * s.dim, s.dim, 1, s.query_t, s.tr,
          s.logits + j0 * s.tr, s.tr, false);
}

// Queries handled together by row_stats: its per-query accumulators live on the stack.
constexpr int64_t kStatQueries = 64;

template <class T>
void row_stats(const InfoNceStrip<T>& s, int64_t l0, int64_t l1) {
  for (int64_t b0 = l0; b0 < l1; b0 += kStatQueries) {
    const int64_t w = l1 - b0 < kStatQueries ? l1 - b0 : kStatQueries;
    T top[kStatQueries];
    double sum[kStatQueries];
    for (int64_t i = 0; i < w; ++i) {
      top[i] = -fl_inf<T>();
      sum[i] = 0.0;
    }
    for (int64_t j = 0; j < s.n; ++j) {
      const T* z = s.logits + j * s.tr + b0;
      for (int64_t i = 0; i < w; ++i) {
        const T v = z[i] * s.inv_temperature;
        top[i] = v > top[i] ? v : top[i];  // NaN never wins here; it reaches the sum below
      }
    }
    for (int64_t j = 0; j < s.n; ++j) {
      const T* z = s.logits + j * s.tr + b0;
      for (int64_t i = 0; i < w; ++i) sum[i] += double(fl_exp<T>(z[i] * s.inv_temperature - top[i]));
    }
    for (int64_t i = 0; i < w; ++i) {
      const int64_t row = s.i0 + b0 + i;
      s.row_lse[row] = double(top[i]) + std::log(sum[i]);
      s.diag[row] = double(s.logits[row * s.tr + b0 + i] * s.inv_temperature);
    }
  }
}

template <class T>
void column_stats(const InfoNceStrip<T>& s, int64_t j0, int64_t j1) {
  for (int64_t j = j0; j < j1; ++j) {
    const T* z = s.logits + j * s.tr;
    T lanes[kSumLanes];
    for (int l = 0; l < kSumLanes; ++l) lanes[l] = -fl_inf<T>();
    int64_t i = 0;
    for (; i + kSumLanes <= s.tr; i += kSumLanes)
      for (int l = 0; l < kSumLanes; ++l) {
        const T v = z[i + l] * s.inv_temperature;
        lanes[l] = v > lanes[l] ? v : lanes[l];
      }
    for (int l = 0; i + l < s.tr; ++l) {
      const T v = z[i + l] * s.inv_temperature;
      lanes[l] = v > lanes[l] ? v : lanes[l];
    }
    T strip_top = lanes[0];
    for (int l = 1; l < kSumLanes; ++l) strip_top = lanes[l] > strip_top ? lanes[l] : strip_top;
    const double old_top = s.col_max[j];
    const T top = double(strip_top) > old_top ? strip_top : T(old_top);
    double acc[kSumLanes] = {};
    i = 0;
    for (; i + kSumLanes <= s.tr; i += kSumLanes)
      for (int l = 0; l < kSumLanes; ++l) acc[l] += double(fl_exp<T>(z[i + l] * s.inv_temperature - top));
    for (int l = 0; i + l < s.tr; ++l) acc[l] += double(fl_exp<T>(z[i + l] * s.inv_temperature - top));
    const double strip_sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    // exp(-inf) = 0 rescales the empty start; a NaN logit has already made strip_sum NaN.
    s.col_sum[j] = s.col_sum[j] * std::exp(old_top - double(top)) + strip_sum;
    s.col_max[j] = double(top);
  }
}

template <class T>
void key_grads(const InfoNceStrip<T>& s, int64_t j0, int64_t j1) {
  for (int64_t j = j0; j < j1; ++j) {
    T* z = s.logits + j * s.tr;
    // The positive pair (query j) when it is in the strip: its term is coef * (p - 1), taken as
    // coef * expm1(v - lse) with v - lse in double, so that a confident positive (p near 1,
    // v - lse tiny) keeps its relative accuracy: lse rounded to T would leave only its ulp.
    const int64_t diag = j - s.i0;
    const bool has_diag = diag >= 0 && diag < s.tr;
    const double v_diag = has_diag ? double(z[diag] * s.inv_temperature) : 0.0;
    const double row_gap = has_diag ? v_diag - s.row_lse[j] : 0.0;
    if (s.symmetric) {
      const T lse_hi = T(s.col_lse[j]), lse_lo = T(s.col_lse[j] - double(lse_hi));
      const T coef = s.col_coef[j];
      for (int64_t i = 0; i < s.tr; ++i) {
        const T v = z[i] * s.inv_temperature;
        z[i] = s.row_coef[i] * fl_exp<T>((v - s.row_lse_hi[i]) - s.row_lse_lo[i]) +
               coef * fl_exp<T>((v - lse_hi) - lse_lo);
      }
      if (has_diag)
        z[diag] = T(double(s.row_coef[diag]) * std::expm1(row_gap) +
                    double(coef) * std::expm1(v_diag - s.col_lse[j]));
    } else {
      for (int64_t i = 0; i < s.tr; ++i)
        z[i] = s.row_coef[i] *
               fl_exp<T>((z[i] * s.inv_temperature - s.row_lse_hi[i]) - s.row_lse_lo[i]);
      if (has_diag) z[diag] = T(double(s.row_coef[diag]) * std::expm1(row_gap));
    }
  }
  if (s.grad_key)
    gemm<T>(j1 - j0, s.dim, s.tr, s.logits + j0 * s.tr, s.tr, 1, s.query + s.i0 * s.dim, s.dim,
            s.grad_key + j0 * s.dim, s.dim, !s.first_strip);
}

template <class T>
void query_grads(const InfoNceStrip<T>& s, int64_t l0, int64_t l1) {
  gemm<T>(l1 - l0, s.dim, s.n, s.logits + l0, 1, s.tr, s.key, s.dim,
          s.grad_query + (s.i0 + l0) * s.dim, s.dim, false);
}

}  // namespace

// The phases of this ISA, for cpu/batch_kernels.cc's table.
template <class T>
cpu::InfoNcePhases<T> info_nce_phases() {
  return {logits<T>, row_stats<T>, column_stats<T>, key_grads<T>, query_grads<T>};
}
template cpu::InfoNcePhases<float> info_nce_phases<float>();
template cpu::InfoNcePhases<double> info_nce_phases<double>();

FL_ISA_NAMESPACE_END
