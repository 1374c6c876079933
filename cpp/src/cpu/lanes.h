// Fixed-width accumulation for the per-ISA kernels: kSumLanes double accumulators in a GCC/Clang
// vector type. The compiler maps the type onto whatever registers the ISA has (two AVX2 ymm, one
// AVX-512 zmm, four SSE2/NEON xmm), so the summation order - element i always goes to lane
// i % kSumLanes of its chunk - and therefore the bits are the same for every ISA and thread
// count, while the loop still runs in SIMD registers.
#pragma once

#include <cstdint>
#include <cstring>

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
// the AVX2 and baseline row kernels several times slower than the AVX-512 ones). Loops that
// compare therefore work on the kLanes lanes as kCount native registers ("parts") of T, lane
// k of the 8 in part k / kPerPart: the same lanes, so the same summation order on every ISA.
#if defined(__AVX512F__)
constexpr int kNativeBytes = 64;
#elif defined(__AVX__)
constexpr int kNativeBytes = 32;
#else
constexpr int kNativeBytes = 16;
#endif

template <class T>
struct Parts {
  static constexpr int kPerPart =
      kNativeBytes / int(sizeof(T)) < kLanes ? kNativeBytes / int(sizeof(T)) : kLanes;
  static constexpr int kCount = kLanes / kPerPart;
  typedef T type __attribute__((vector_size(kPerPart * sizeof(T))));
};
template <class T>
using PartOf = typename Parts<T>::type;
using PartD = PartOf<double>;
constexpr int kPartsD = Parts<double>::kCount;

// Part p of the kLanes values at v (kPerPart values of T).
template <class T>
inline PartOf<T> load_part(const T* v, int p) {
  PartOf<T> out;
  std::memcpy(&out, v + p * Parts<T>::kPerPart, sizeof out);
  return out;
}

// Part p (in double lanes) of the kLanes values at v, widened to double.
template <class T>
inline PartD load_part_d(const T* v, int p) {
  constexpr int kPer = Parts<double>::kPerPart;
  typedef T Narrow __attribute__((vector_size(kPer * sizeof(T))));
  Narrow n;
  std::memcpy(&n, v + p * kPer, sizeof n);
  return __builtin_convertvector(n, PartD);
}

// The kLanes lanes of kPartsD double parts, as one LanesD.
inline LanesD join_parts(const PartD (&parts)[kPartsD]) {
  LanesD out;
  std::memcpy(&out, parts, sizeof out);
  return out;
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
