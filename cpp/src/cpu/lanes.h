// Fixed-width accumulation for the per-ISA kernels: kSumLanes double accumulators in a GCC/Clang
// vector type. The compiler maps the type onto whatever registers the ISA has (two AVX2 ymm, one
// AVX-512 zmm, four SSE2/NEON xmm), so the summation order - element i always goes to lane
// i % kSumLanes of its chunk - and therefore the bits are the same for every ISA and thread
// count, while the loop still runs in SIMD registers.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "fastloss/config.h"

FL_ISA_NAMESPACE_BEGIN

constexpr int kLanes = kSumLanes;
using LanesD = double __attribute__((vector_size(kLanes * sizeof(double))));
// (A trait, not an alias template: GCC drops vector attributes on alias templates.)
template <class T>
struct LanesOf;
template <>
struct LanesOf<float> {
  typedef float type __attribute__((vector_size(kLanes * sizeof(float))));
};
template <>
struct LanesOf<double> {
  typedef double type __attribute__((vector_size(kLanes * sizeof(double))));
};
template <class T>
using LanesT = typename LanesOf<T>::type;

// The widest vector register the ISA has, in bytes. The lane types above are 64 bytes whatever
// the ISA: GCC splits their arithmetic and conversions into native registers, but lowers a
// comparison or a ?: on a type wider than the registers lane by lane, with branches (which made
// the AVX2 and baseline row kernels several times slower than the AVX-512 ones). Comparisons go
// through lanewise() below, which applies them one native register at a time.
#if defined(__AVX512F__)
constexpr int kNativeBytes = 64;
#elif defined(__AVX__)
constexpr int kNativeBytes = 32;
#else
constexpr int kNativeBytes = 16;
#endif

template <class V>
struct NativeParts {
  using Elem = std::remove_cv_t<std::remove_reference_t<decltype(V{}[0])>>;
  static constexpr int kBytes = sizeof(V) < kNativeBytes ? int(sizeof(V)) : kNativeBytes;
  static constexpr int kCount = int(sizeof(V)) / kBytes;
  typedef Elem type __attribute__((vector_size(kBytes)));
};

// f(a, b, x, y) lane by lane, evaluated on one native register of each operand at a time.
template <class V, class F>
inline V lanewise(const V& a, const V& b, const V& x, const V& y, F f) {
  using N = typename NativeParts<V>::type;
  constexpr int kParts = NativeParts<V>::kCount;
  N an[kParts], bn[kParts], xn[kParts], yn[kParts];
  std::memcpy(an, &a, sizeof a);
  std::memcpy(bn, &b, sizeof b);
  std::memcpy(xn, &x, sizeof x);
  std::memcpy(yn, &y, sizeof y);
  for (int p = 0; p < kParts; ++p) an[p] = f(an[p], bn[p], xn[p], yn[p]);
  V out;
  std::memcpy(&out, an, sizeof out);
  return out;
}

// a == b ? x : y, lane by lane.
template <class V>
inline V select_equal(const V& a, const V& b, const V& x, const V& y) {
  return lanewise(a, b, x, y, [](auto a, auto b, auto x, auto y) { return a == b ? x : y; });
}

// a > b ? a : b, lane by lane (a NaN in a never wins; a NaN in b stays only if a is not greater).
template <class V>
inline V select_greater(const V& a, const V& b) {
  return lanewise(a, b, a, b, [](auto a, auto b, auto x, auto y) { return a > b ? x : y; });
}

// kLanes consecutive values widened to double.
template <class T>
inline LanesD load_lanes(const T* p) {
  LanesT<T> v;
  std::memcpy(&v, p, sizeof v);
  return __builtin_convertvector(v, LanesD);
}

inline double lanes_sum(LanesD v) {
  return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
}

// acc += v[0..n) lane by lane; the tail of n % kLanes elements goes to lanes 0, 1, ...
template <class T>
inline void accumulate(LanesD& acc, const T* v, int64_t n) {
  const int64_t full = n - n % kLanes;
  for (int64_t i = 0; i < full; i += kLanes) acc += load_lanes(v + i);
  for (int64_t i = full; i < n; ++i) acc[i - full] += double(v[i]);
}

static_assert(kLanes == 8, "lanes_sum is written for 8 lanes");

FL_ISA_NAMESPACE_END
