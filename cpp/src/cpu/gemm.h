// A small register-blocked matrix product for the in-batch losses (info_nce), compiled once per
// ISA: C (m x n) = [C +] A B, with A read through strides (A(i, k) = a[i * ars + k * acs], so
// A may be a transposed view) and B row-major with contiguous columns (B(k, j) = b[k * brs + j]).
//
// Every C element is one chain of fused multiply-adds over k in increasing order, started from 0
// or from C (accumulate), whatever tile, panel or thread computes it, and whether it sits in a
// vector lane or in a scalar tail column. Its bits therefore depend on m, n and k only through
// the values themselves: not on the thread count, on how callers split C, or on splitting k into
// successive accumulating calls. They differ between ISAs only where one has FMA and another does
// not (the baseline variant rounds the product and the sum separately, as fl_fma does).
#pragma once

#include <cstdint>
#include <cstring>

#include "cpu/lanes.h"
#include "fastloss/config.h"
#include "fastloss/math.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#endif

FL_ISA_NAMESPACE_BEGIN

// One native register of T (cpu/lanes.h's kNativeBytes).
constexpr int kGemmBytes = kNativeBytes;

template <class T>
struct GemmVector;
template <>
struct GemmVector<float> {
  typedef float type __attribute__((vector_size(kGemmBytes)));
};
template <>
struct GemmVector<double> {
  typedef double type __attribute__((vector_size(kGemmBytes)));
};

template <class V, class T>
inline V vector_load(const T* p) {
  V v;
  std::memcpy(&v, p, sizeof(V));
  return v;
}
template <class V, class T>
inline void vector_store(T* p, V v) {
  std::memcpy(p, &v, sizeof(V));
}
// x in every lane (a lane-by-lane loop here compiles to one insert per lane).
inline GemmVector<float>::type vector_splat(float x) {
#if defined(__AVX512F__)
  return _mm512_set1_ps(x);
#elif defined(__AVX__)
  return _mm256_set1_ps(x);
#elif defined(__SSE2__)
  return _mm_set1_ps(x);
#else
  return GemmVector<float>::type{} + x;
#endif
}
inline GemmVector<double>::type vector_splat(double x) {
#if defined(__AVX512F__)
  return _mm512_set1_pd(x);
#elif defined(__AVX__)
  return _mm256_set1_pd(x);
#elif defined(__SSE2__)
  return _mm_set1_pd(x);
#else
  return GemmVector<double>::type{} + x;
#endif
}

// a * b + c per lane, fused where the ISA has FMA (the build turns off implicit contraction).
inline GemmVector<float>::type vector_fma(GemmVector<float>::type a, GemmVector<float>::type b,
                                          GemmVector<float>::type c) {
#if defined(__AVX512F__)
  return _mm512_fmadd_ps(a, b, c);
#elif defined(__FMA__)
  return _mm256_fmadd_ps(a, b, c);
#else
  return a * b + c;
#endif
}
inline GemmVector<double>::type vector_fma(GemmVector<double>::type a, GemmVector<double>::type b,
                                           GemmVector<double>::type c) {
#if defined(__AVX512F__)
  return _mm512_fmadd_pd(a, b, c);
#elif defined(__FMA__)
  return _mm256_fmadd_pd(a, b, c);
#else
  return a * b + c;
#endif
}

// Rows of a micro-tile; its columns are two vectors. 6 x 2 accumulators plus two B vectors and a
// broadcast A value fit the 16 registers of SSE2 and AVX2 (and half of AVX-512's 32).
constexpr int kGemmRows = 6;
// The depth of one pass over a B panel: a panel of kGemmDepth x 2 vectors stays in L1.
constexpr int64_t kGemmDepth = 256;

struct GemmOperands {
  int64_t k;            // the depth of this call
  int64_t ars, acs;     // A's strides
  int64_t brs, ldc;     // B's row stride, C's row stride
  bool accumulate;      // C += A B, else C = A B
};

// M rows x NV full vectors of columns, then `tail` scalar columns after them.
template <class T, int M, int NV>
inline void gemm_tile(const GemmOperands& g, const T* a, const T* b, T* c, int tail) {
  using V = typename GemmVector<T>::type;
  constexpr int W = int(sizeof(V) / sizeof(T));
  if constexpr (NV > 0) {
    V acc[M][NV];
    for (int i = 0; i < M; ++i)
      for (int v = 0; v < NV; ++v)
        acc[i][v] = g.accumulate ? vector_load<V>(c + i * g.ldc + v * W) : V{};
    for (int64_t k = 0; k < g.k; ++k) {
      V bv[NV];
      for (int v = 0; v < NV; ++v) bv[v] = vector_load<V>(b + k * g.brs + v * W);
      for (int i = 0; i < M; ++i) {
        const V av = vector_splat(a[i * g.ars + k * g.acs]);
        for (int v = 0; v < NV; ++v) acc[i][v] = vector_fma(av, bv[v], acc[i][v]);
      }
    }
    for (int i = 0; i < M; ++i)
      for (int v = 0; v < NV; ++v) vector_store(c + i * g.ldc + v * W, acc[i][v]);
  }
  for (int j = NV * W; j < NV * W + tail; ++j) {
    for (int i = 0; i < M; ++i) {
      T acc = g.accumulate ? c[i * g.ldc + j] : T(0);
      for (int64_t k = 0; k < g.k; ++k) acc = fl_fma(a[i * g.ars + k * g.acs], b[k * g.brs + j], acc);
      c[i * g.ldc + j] = acc;
    }
  }
}

template <class T, int M>
inline void gemm_rows(const GemmOperands& g, const T* a, const T* b, T* c, int64_t n) {
  using V = typename GemmVector<T>::type;
  constexpr int W = int(sizeof(V) / sizeof(T));
  int64_t j = 0;
  for (; j + 2 * W <= n; j += 2 * W) gemm_tile<T, M, 2>(g, a, b + j, c + j, 0);
  const int rest = int(n - j);
  if (rest >= W) gemm_tile<T, M, 1>(g, a, b + j, c + j, rest - W);
  else if (rest > 0) gemm_tile<T, M, 0>(g, a, b + j, c + j, rest);
}

// C (m x n) = [C +] A (m x k) B (k x n); see the top of the file.
template <class T>
void gemm(int64_t m, int64_t n, int64_t k, const T* a, int64_t ars, int64_t acs, const T* b,
          int64_t brs, T* c, int64_t ldc, bool accumulate) {
  if (k == 0 && !accumulate) {
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = T(0);
    return;
  }
  for (int64_t k0 = 0; k0 < k; k0 += kGemmDepth) {
    GemmOperands g{k - k0 < kGemmDepth ? k - k0 : kGemmDepth, ars, acs, brs, ldc,
                   accumulate || k0 > 0};
    const T* a_k = a + k0 * acs;
    const T* b_k = b + k0 * brs;
    int64_t i = 0;
    for (; i + kGemmRows <= m; i += kGemmRows)
      gemm_rows<T, kGemmRows>(g, a_k + i * ars, b_k, c + i * ldc, n);
    switch (m - i) {
      case 5: gemm_rows<T, 5>(g, a_k + i * ars, b_k, c + i * ldc, n); break;
      case 4: gemm_rows<T, 4>(g, a_k + i * ars, b_k, c + i * ldc, n); break;
      case 3: gemm_rows<T, 3>(g, a_k + i * ars, b_k, c + i * ldc, n); break;
      case 2: gemm_rows<T, 2>(g, a_k + i * ars, b_k, c + i * ldc, n); break;
      case 1: gemm_rows<T, 1>(g, a_k + i * ars, b_k, c + i * ldc, n); break;
      default: break;
    }
  }
}

FL_ISA_NAMESPACE_END
