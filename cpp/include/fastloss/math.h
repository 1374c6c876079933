// Elementary functions written to vectorise: straight-line code with selects instead of branches,
// bit manipulation instead of libm calls, so that the compiler turns a loop that calls them into
// SIMD code for whatever ISA the translation unit is compiled for. Without -ffast-math, compilers
// never vectorise calls into libm; these are why the transcendental losses run at memory speed.
//
// Accuracy, on every ISA variant (tests/test_math_ulp.py asserts exactly these bounds, table-driven
// against mpmath/float64 oracles; the worst cases measured are in parentheses, from the baseline
// variant, which has no FMA; the FMA variants are slightly better):
//   fl_exp    <= 1.5 ulp  (1.18)   on the whole range; subnormal results by gradual underflow,
//             exp(-inf) = 0, exp(+inf) = inf, exp(NaN) = NaN.
//   fl_expm1  <= 2.5 ulp  (2.46)   exact sign (including -0), accurate near 0.
//   fl_log    <= 1 ulp    (0.95)   for x > 0 including subnormals; log(0) = -inf, log(x < 0) = NaN,
//             log(inf) = inf.
//   fl_log1p  <= 2 ulp    (1.87)   for x >= -1.
// Polynomials are truncated Taylor series (exact rational coefficients) on reduced ranges small
// enough that the truncation error is far below half an ulp.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "fastloss/config.h"

FL_ISA_NAMESPACE_BEGIN

template <class T>
struct FloatTraits;

template <>
struct FloatTraits<float> {
  using Int = int32_t;
  static constexpr int kMantBits = 23;
  static constexpr Int kInfBits = 0x7f800000;
  static constexpr Int kQuietNanBits = 0x7fc00000;
  static constexpr Int kBias = 127;
  static constexpr float kRoundShifter = 0x1.8p23f;  // adding it rounds to an integer
  static constexpr float kExpHi = 88.72283935546875f;  // exp(x) overflows above
  static constexpr float kExpLo = -103.97208f;         // exp(x) rounds to 0 below
  static constexpr float kExpm1Lo = -17.4f;            // expm1(x) == -1 below
  static constexpr float kLn2Hi = 0.693359375f;        // ln 2 split so that k * kLn2Hi is exact
  static constexpr float kLn2Lo = -2.12194440e-4f;
  static constexpr float kSqrtHalf = 0.70710677f;
  static constexpr float kMinNormal = 1.17549435e-38f;
  static constexpr float kSubnormalScale = 16777216.0f;  // 2^24
  static constexpr int kSubnormalShift = 24;
  static constexpr int kExpTerms = 7;   // e^r - 1, r in [-ln2/2, ln2/2]: r^8/8! < 2^-27
  static constexpr int kLogTerms = 4;   // atanh series in s^2 <= 0.0295: z^5/11 < 2^-28
};

template <>
struct FloatTraits<double> {
  using Int = int64_t;
  static constexpr int kMantBits = 52;
  static constexpr Int kInfBits = 0x7ff0000000000000;
  static constexpr Int kQuietNanBits = 0x7ff8000000000000;
  static constexpr Int kBias = 1023;
  static constexpr double kRoundShifter = 0x1.8p52;
  static constexpr double kExpHi = 709.782712893384;
  static constexpr double kExpLo = -745.1332191019412;
  static constexpr double kExpm1Lo = -38.0;
  static constexpr double kLn2Hi = 6.93147180369123816490e-01;
  static constexpr double kLn2Lo = 1.90821492927058770002e-10;
  static constexpr double kSqrtHalf = 0.70710678118654752440;
  static constexpr double kMinNormal = 2.2250738585072014e-308;
  static constexpr double kSubnormalScale = 18014398509481984.0;  // 2^54
  static constexpr int kSubnormalShift = 54;
  static constexpr int kExpTerms = 13;  // r^14/14! < 2^-57
  static constexpr int kLogTerms = 10;  // z^11/23 < 2^-60
};

template <class To, class From>
FL_HOST_DEVICE To fl_bit_cast(From from) {
  static_assert(sizeof(To) == sizeof(From), "bit cast between types of different sizes");
  To to;
  std::memcpy(&to, &from, sizeof(To));
  return to;
}

// Converts a small integer (|i| < 2^22 for float, 2^51 for double) to T with integer adds and a
// bit cast: AVX2 has no int64 -> double conversion, and a cvt would stop the loop vectorising.
template <class T>
FL_HOST_DEVICE T int_to_float(typename FloatTraits<T>::Int i) {
  using F = FloatTraits<T>;
  using Int = typename F::Int;
  return fl_bit_cast<T>(static_cast<Int>(i + fl_bit_cast<Int>(F::kRoundShifter))) - F::kRoundShifter;
}

// a * b + c. Fused (one rounding) where the ISA has FMA, else two roundings. The build disables
// the compiler's own contraction (-ffp-contract=off) so that a vectorised loop and its scalar tail
// round identically; fusion happens exactly where this function is called.
template <class T>
FL_HOST_DEVICE T fl_fma(T a, T b, T c) {
#if defined(__CUDACC__)
  return fma(a, b, c);
#elif defined(__FMA__) || defined(__ARM_FEATURE_FMA)
  return __builtin_fma(a, b, c);
#else
  return a * b + c;
#endif
}
template <>
FL_HOST_DEVICE float fl_fma(float a, float b, float c) {
#if defined(__CUDACC__)
  return fmaf(a, b, c);
#elif defined(__FMA__) || defined(__ARM_FEATURE_FMA)
  return __builtin_fmaf(a, b, c);
#else
  return a * b + c;
#endif
}

// pow in double, for scalar per-row math (libm on the host, CUDA's pow on the device).
FL_HOST_DEVICE double fl_pow(double x, double y) {
#ifdef __CUDA_ARCH__
  return ::pow(x, y);
#else
  return std::pow(x, y);
#endif
}

template <class T>
FL_HOST_DEVICE T fl_abs(T x) {
  return x < T(0) ? -x : x;  // NaN stays NaN; -0 -> -0 is harmless everywhere it is used
}

template <class T>
FL_HOST_DEVICE T fl_inf() {
  return fl_bit_cast<T>(FloatTraits<T>::kInfBits);
}

template <class T>
FL_HOST_DEVICE T fl_nan() {
  return fl_bit_cast<T>(FloatTraits<T>::kQuietNanBits);
}

// sign(x) with sign(0) = 0 and sign(NaN) = NaN, as torch.sign.
template <class T>
FL_HOST_DEVICE T fl_sign(T x) {
  T s = x > T(0) ? T(1) : (x < T(0) ? T(-1) : T(0));
  return x != x ? x : s;
}

// Taylor coefficients, highest degree first, computed at compile time from exact integers:
// kind 0: 1/k! for k = n .. 1 (e^r - 1);  kind 1: 1/(2k+1) for k = n .. 1 (atanh(s)/s - 1).
constexpr double taylor_coefficient(int kind, int n, int i) {
  const int k = n - i;
  double v = 1.0;
  if (kind == 0) {
    for (int j = 2; j <= k; ++j) v /= j;
  } else {
    v = 1.0 / (2 * k + 1);
  }
  return v;
}

// Each coefficient is a constexpr scalar, which CUDA device code may read directly (a static
// table would have to live in device memory).
template <class T, int kKind, int kTerms, int kIndex>
inline constexpr T kTaylorCoefficient = T(taylor_coefficient(kKind, kTerms, kIndex));

// Horner's rule p = fma(p, z, c_i) for i = kIndex .. kTerms - 1, unrolled at compile time.
template <class T, int kKind, int kTerms, int kIndex = 1>
FL_HOST_DEVICE T horner(T p, T z) {
  if constexpr (kIndex == kTerms) {
    return p;
  } else {
    return horner<T, kKind, kTerms, kIndex + 1>(
        fl_fma(p, z, kTaylorCoefficient<T, kKind, kTerms, kIndex>), z);
  }
}

// e^r - 1 for |r| <= ln2/2 (+ rounding slack): Horner on 1/k!.
template <class T>
FL_HOST_DEVICE T exp_reduced_minus_one(T r) {
  constexpr int n = FloatTraits<T>::kExpTerms;
  const T p = horner<T, 0, n>(kTaylorCoefficient<T, 0, n, 0>, r);
  return p * r;
}

// Splits x into k * ln2 + r with k integral (returned as an integer and as T).
template <class T>
FL_HOST_DEVICE T reduce_ln2(T x, typename FloatTraits<T>::Int& k) {
  using F = FloatTraits<T>;
  constexpr T kLog2e = T(1.44269504088896340736);
  T shifted = fl_fma(x, kLog2e, F::kRoundShifter);
  k = fl_bit_cast<typename F::Int>(shifted) - fl_bit_cast<typename F::Int>(F::kRoundShifter);
  T kf = shifted - F::kRoundShifter;
  T r = fl_fma(-kf, F::kLn2Hi, x);
  return fl_fma(-kf, F::kLn2Lo, r);
}

// 2^k as two factors 2^(k/2) and 2^(k - k/2), each a normal number for every k the callers use,
// so that multiplying by both handles overflow and gradual underflow correctly.
template <class T>
FL_HOST_DEVICE void pow2_split(typename FloatTraits<T>::Int k, T& s1, T& s2) {
  using F = FloatTraits<T>;
  using Int = typename F::Int;
  using UInt = std::make_unsigned_t<Int>;
  Int k1 = k >> 1;
  Int k2 = k - k1;
  // Shifted as unsigned: a NaN argument reaches here with a meaningless negative k (its
  // result is replaced by NaN later), and a left shift of a negative signed value is undefined
  // behaviour (UBSan reports it); the unsigned shift gives the same bits.
  s1 = fl_bit_cast<T>(static_cast<Int>(static_cast<UInt>(k1 + F::kBias) << F::kMantBits));
  s2 = fl_bit_cast<T>(static_cast<Int>(static_cast<UInt>(k2 + F::kBias) << F::kMantBits));
}

// e^xc for xc in [kExpLo, kExpHi] (clamped by the callers), gradual underflow included.
template <class T>
FL_HOST_DEVICE T exp_of_clamped(T xc) {
  typename FloatTraits<T>::Int k;
  T r = reduce_ln2(xc, k);
  T p = exp_reduced_minus_one(r) + T(1);
  T s1, s2;
  pow2_split<T>(k, s1, s2);
  return (p * s1) * s2;
}

template <class T>
FL_HOST_DEVICE T fl_exp(T x) {
  using F = FloatTraits<T>;
  T xc = x > F::kExpHi ? F::kExpHi : x;
  xc = xc < F::kExpLo ? F::kExpLo : xc;
  T y = exp_of_clamped(xc);
  y = x > F::kExpHi ? fl_inf<T>() : y;
  y = x < F::kExpLo ? T(0) : y;
  return x != x ? x : y;
}

// exp(x) for x <= 0 or NaN (the shifted logits x - max, -|x|): fl_exp's result, bit for bit,
// without the overflow branch that such arguments never take.
template <class T>
FL_HOST_DEVICE T fl_exp_nonpositive(T x) {
  using F = FloatTraits<T>;
  T y = exp_of_clamped(x < F::kExpLo ? F::kExpLo : x);
  y = x < F::kExpLo ? T(0) : y;
  return x != x ? x : y;
}

template <class T>
FL_HOST_DEVICE T fl_expm1(T x) {
  using F = FloatTraits<T>;
  using Int = typename F::Int;
  T xc = x > F::kExpHi ? F::kExpHi : x;
  xc = xc < F::kExpm1Lo ? F::kExpm1Lo : xc;
  Int k;
  T r = reduce_ln2(xc, k);
  T pm1 = exp_reduced_minus_one(r);  // e^r - 1, accurate near r = 0
  T s1, s2;
  pow2_split<T>(k, s1, s2);
  // 2^k (e^r - 1) + (2^k - 1): exact for k = 0 and no cancellation elsewhere. For large k,
  // 2^k - 1 == 2^k and the two-factor scaling avoids overflowing the power of two itself.
  T small_k = fl_fma(pm1, s1 * s2, s1 * s2 - T(1));
  T large_k = ((pm1 + T(1)) * s1) * s2 - T(1);
  T y = k > Int(F::kMantBits) ? large_k : small_k;
  y = k == 0 ? pm1 : y;
  y = x > F::kExpHi ? fl_inf<T>() : y;
  y = x < F::kExpm1Lo ? T(-1) : y;
  y = x == T(0) ? x : y;  // keeps the sign of zero
  return x != x ? x : y;
}

// The logarithm of a positive, finite, normal xs, minus `exponent_shift` ln 2 (fl_log scales
// subnormals up by 2^shift and passes the shift here).
template <class T>
FL_HOST_DEVICE T log_of_normal(T xs, T exponent_shift) {
  using F = FloatTraits<T>;
  using Int = typename F::Int;
  constexpr Int kMantMask = (Int(1) << F::kMantBits) - 1;
  Int bits = fl_bit_cast<Int>(xs);
  Int off = bits - fl_bit_cast<Int>(F::kSqrtHalf);
  Int e = off >> F::kMantBits;  // arithmetic shift: exponent of x relative to [sqrt(1/2), sqrt(2))
  T m = fl_bit_cast<T>(static_cast<Int>((off & kMantMask) + fl_bit_cast<Int>(F::kSqrtHalf)));
  T ef = int_to_float<T>(e) - exponent_shift;
  // log(1 + f) = 2 atanh(s) with s = f / (2 + f), |s| <= 0.1716. Since f - 2s = s f exactly in
  // real arithmetic, 2 atanh(s) = f - s (f - R) with R = 2s^2/3 + 2s^4/5 + ...: f = m - 1 is exact,
  // and the rounding of s only touches the small correction s (f - R).
  T f = m - T(1);
  T s = f / (T(2) + f);
  T z = s * s;
  constexpr int n = F::kLogTerms;
  // 1/3 + z/5 + ... (the highest term first)
  const T poly = horner<T, 1, n>(kTaylorCoefficient<T, 1, n, 0>, z);
  T r = T(2) * z * poly;
  T log_m = fl_fma(-s, f - r, f);
  return fl_fma(ef, F::kLn2Hi, fl_fma(ef, F::kLn2Lo, log_m));
}

template <class T>
FL_HOST_DEVICE T fl_log(T x) {
  using F = FloatTraits<T>;
  // Subnormals: scale into the normal range first.
  bool tiny = x < F::kMinNormal;
  T xs = tiny ? x * F::kSubnormalScale : x;
  T y = log_of_normal(xs, tiny ? T(F::kSubnormalShift) : T(0));
  y = x == T(0) ? -fl_inf<T>() : y;
  y = x < T(0) ? fl_nan<T>() : y;
  y = x == fl_inf<T>() ? x : y;
  return x != x ? x : y;
}

template <class T>
FL_HOST_DEVICE T fl_log1p(T x) {
  // Goldberg: log(u) * x / (u - 1) with u = 1 + x corrects the rounding of u.
  T u = T(1) + x;
  T d = u - T(1);
  T y = fl_log(u) * (x / (d == T(0) ? T(1) : d));
  y = d == T(0) ? x : y;
  y = x == fl_inf<T>() ? x : y;
  return y;
}

// The pieces of a binary cross-entropy on a logit x, all from one exponential e = exp(-|x|):
// softplus(+-x) = max(+-x, 0) + log1p(e) and sigmoid(+-x), each with full relative accuracy.
template <class T>
struct LogitTerms {
  T softplus_pos, softplus_neg;  // softplus(x), softplus(-x)
  T sigmoid_pos, sigmoid_neg;    // sigmoid(x), sigmoid(-x) = 1 - sigmoid(x) without cancellation

  // w_neg softplus(x) + w_pos softplus(-x), a term whose weight is exactly 0 contributing 0 even
  // where its softplus is inf (x = +-inf), so the cross-entropy keeps its finite limits.
  FL_HOST_DEVICE T cross_entropy(T w_neg, T w_pos) const {
    return (w_neg == T(0) ? T(0) : w_neg * softplus_pos) +
           (w_pos == T(0) ? T(0) : w_pos * softplus_neg);
  }
};

template <class T>
FL_HOST_DEVICE LogitTerms<T> fl_logit_terms(T x) {
  T e = fl_exp_nonpositive(-fl_abs(x));  // in [0, 1]
  T u = T(1) + e;                         // in [1, 2]: fl_log's special cases cannot occur
  T big = T(1) / u;                       // sigmoid(|x|)
  T small = e * big;                      // sigmoid(-|x|)
  // log1p(e) = log(u) + (e - (u - 1)) / u: the second term restores what rounding u lost, and
  // dividing by u is multiplying by sigmoid(|x|), already at hand (one division saved).
  T log_u = log_of_normal(u, T(0));
  log_u = u != u ? u : log_u;  // NaN logits stay NaN
  T log1p_e = fl_fma(e - (u - T(1)), big, log_u);
  bool neg = x < T(0);
  return {(neg ? T(0) : x) + log1p_e, (neg ? -x : T(0)) + log1p_e, neg ? small : big,
          neg ? big : small};
}

FL_ISA_NAMESPACE_END
