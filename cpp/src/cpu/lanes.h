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

// The widest vector register the ISA has, in bytes. LanesD is 64 bytes whatever the ISA: GCC
// splits its arithmetic and conversions into native registers, but lowers a
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

inline double lanes_sum(LanesD v) {
  return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
}

// parts += the kLanes values at v, widened to double, lane k of them into lane k.
template <class T>
inline void add_lanes(PartD (&parts)[kPartsD], const T* v) {
  FL_UNROLL
  for (int p = 0; p < kPartsD; ++p) parts[p] += load_part_d(v, p);
}

// acc += v[0..n) lane by lane; the tail of n % kLanes elements goes to lanes 0, 1, ... The loop
// adds into native parts, not into `acc` itself: on AVX2 and SSE2 GCC keeps a 64-byte vector
// that is not a register type in memory and moves it through general registers on every
// addition, which made every row kernel that sums a tile (KL, JS, ListNet, distillation) 3 to 4
// times slower on AVX2 than on AVX-512.
template <class T>
inline void accumulate(LanesD& acc, const T* v, int64_t n) {
  const int64_t full = n - n % kLanes;
  PartD parts[kPartsD];
  std::memcpy(parts, &acc, sizeof acc);
  for (int64_t i = 0; i < full; i += kLanes) add_lanes(parts, v + i);
  acc = join_parts(parts);
  for (int64_t i = full; i < n; ++i) acc[i - full] += double(v[i]);
}

static_assert(kLanes == 8, "lanes_sum is written for 8 lanes");

FL_ISA_NAMESPACE_END
