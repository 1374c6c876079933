// Every entry of the loss table (losses.def), instantiated as device code for float and double.
// This translation unit is the guard behind "the math is written once, for CPU and CUDA": it
// compiles each functor's constructor and call operator in a __global__ kernel, so a loss header
// that uses host-only code (a static table, std::numeric_limits, a host-only constructor) stops
// the build. The kernels here are never launched or registered: the CUDA backend's real kernels
// will call the same functors through their own drivers and row primitives.
#include <type_traits>

#include "fastloss/kernels.h"
#include "fastloss/losses/all.h"
#include "fastloss/row.h"

namespace fastloss::cuda_check {

template <class Loss, class = void>
struct HasSpecialise : std::false_type {};
template <class Loss>
struct HasSpecialise<Loss, std::void_t<decltype(Loss::kSpecialises)>> : std::true_type {};
template <class Loss, class = void>
struct HasOperandGrads : std::false_type {};
template <class Loss>
struct HasOperandGrads<Loss, std::void_t<decltype(Loss::kOperandGrads)>>
    : std::bool_constant<Loss::kOperandGrads> {};

// A grid-stride loop over one functor. Host-device, as the functors' specialise() that calls
// it is: the host side of this translation unit never runs it.
template <class T>
struct Evaluate {
  const T* x;
  const T* y;
  const T* p;
  T* value;
  T* grad;
  int64_t n;

  template <class Loss>
  __host__ __device__ void operator()(const Loss& loss) const {
#ifdef __CUDA_ARCH__
    const int64_t start = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
    const int64_t stride = int64_t(gridDim.x) * blockDim.x;
#else
    const int64_t start = 0, stride = 1;
#endif
    for (int64_t i = start; i < n; i += stride) {
      T g;
      loss(x[i], y[i], Loss::kUsesParamArray ? p[i] : T(0), value[i], g);
      if constexpr (Loss::kChecksDomain) g = Loss::valid(x[i], y[i]) ? g : T(0);
      if constexpr (HasOperandGrads<Loss>::value) {  // the seven-argument form too
        T gy, gp;
        loss(x[i], y[i], Loss::kUsesParamArray ? p[i] : T(0), value[i], g, gy, gp);
        g += gy + gp;
      }
      grad[i] = g;
    }
  }
};

// A pointwise functor built from its hyper-parameters (or the variant it specialises to).
template <class Loss, class T>
__global__ void pointwise_check(const double* params, const T* x, const T* y, const T* p,
                                T* value, T* grad, int64_t n) {
  const Evaluate<T> evaluate{x, y, p, value, grad, n};
  if constexpr (HasSpecialise<Loss>::value) {
    Loss::specialise(params, evaluate);
  } else {
    evaluate(Loss(params));
  }
}

// The row primitives of fastloss/row.h as plain loops, enough to compile every row functor for
// the device (one thread per row). The CUDA backend's own primitives will split rows over warps.
template <class T>
struct SerialRowOps {
  __device__ T max(const T* x, int64_t n) const {
    T m = -fl_inf<T>();
    for (int64_t j = 0; j < n; ++j) m = x[j] > m ? x[j] : m;
    return m;
  }
  __device__ bool has_nan(const T* x, int64_t n) const {
    bool nan = false;
    for (int64_t j = 0; j < n; ++j) nan |= x[j] != x[j];
    return nan;
  }
  __device__ void fill(T* out, int64_t n, T v) const {
    for (int64_t j = 0; j < n; ++j) out[j] = v;
  }
  __device__ void scale(T* out, int64_t n, T c) const {
    for (int64_t j = 0; j < n; ++j) out[j] = c * out[j];
  }
  template <bool kTargetSums, bool kDense, bool kWeighted>
  __device__ SoftmaxSums softmax_sums(const T* x, int64_t n, T m, T* e_row, const T* probs,
                                      const T* c, double q_scale, double q_shift) const {
    SoftmaxSums s;
    for (int64_t j = 0; j < n; ++j) {
      const T xj = x[j];
      const T e = fl_exp(xj - m);
      if (e_row) e_row[j] = e;
      s.s_small += xj == m ? 0.0 : double(e);
      s.ties += xj == m ? 1.0 : 0.0;
      if (kTargetSums) {
        const double q = kDense ? double(probs[j]) * q_scale + q_shift : q_shift;
        const double cq = kWeighted ? double(c[j]) * q : q;
        s.cq += cq;
        s.cq_gap += cq * (double(m) - double(xj));
      }
    }
    return s;
  }
  template <bool kDense, bool kWeighted>
  __device__ void softmax_grad(T* g, int64_t n, T a, T b, const T* probs, const T* c, T q_scale,
                               T q_shift) const {
    for (int64_t j = 0; j < n; ++j) {
      const T q = kDense ? q_scale * probs[j] + q_shift : q_shift;
      g[j] = b * (a * g[j] - (kWeighted ? c[j] * q : q));
    }
  }
  __device__ double exp_sum_except(const T* x, int64_t n, T m, int64_t t, T* e_row) const {
    double s = 0;
    for (int64_t j = 0; j < n; ++j) {
      const T e = j == t ? T(0) : fl_exp(x[j] - m);
      if (e_row) e_row[j] = e;
      s += double(e);
    }
    return s;
  }
  template <class Term>
  __device__ MapSums map_sums(const T* x, int64_t n, T* out, T out_scale, Term term) const {
    MapSums s;
    for (int64_t j = 0; j < n; ++j) {
      T value, slope;
      term(j, x[j], value, slope);
      s.values += double(value);
      s.slopes += double(slope);
      if (out) out[j] = out_scale * slope;
    }
    return s;
  }
  template <class Term>
  __device__ PairSums pair_map_sums(const T* x, const T* y, int64_t n, T* gx, T* gy,
                                    Term term) const {
    PairSums s;
    for (int64_t j = 0; j < n; ++j) {
      T scratch_x = T(0), scratch_y = T(0), v0, v1, v2;
      term(x[j], y[j], gx ? gx[j] : scratch_x, gy ? gy[j] : scratch_y, v0, v1, v2);
      s.v0 += double(v0);
      s.v1 += double(v1);
      s.v2 += double(v2);
    }
    return s;
  }
  template <class Term>
  __device__ FirstMax<T> first_max(const T* x, const T* c, int64_t n, int64_t skip,
                                   Term term) const {
    FirstMax<T> best;
    best.value = -fl_inf<T>();
    for (int64_t j = 0; j < n; ++j) {
      if (j == skip) continue;
      const T z = term(x[j], c ? c[j] : T(1));
      if (z != z) {
        best.nan = true;
      } else if (best.index < 0 || z > best.value) {
        best.value = z;
        best.index = j;
      }
    }
    return best;
  }
};

template <class Loss, class T>
__global__ void row_check(RowArgs<T> a, int64_t rows, double* loss) {
  const int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (r >= rows) return;
  SerialRowOps<T> ops;
  RowArgs<T> row = a;
  row.x += r * a.classes;
  if (row.grad) row.grad += r * a.classes;
  if (row.y) row.y += r * a.classes;
  if (row.grad_y) row.grad_y += r * a.classes;
  loss[r] = Loss{}(row, ops);
}

#define FL_ROW(name, stem, Functor, target, class_weight, label_aux)                             \
  template __global__ void row_check<generic::Functor<float>, float>(RowArgs<float>, int64_t,    \
                                                                    double*);                    \
  template __global__ void row_check<generic::Functor<double>, double>(RowArgs<double>, int64_t, \
                                                                      double*);
#define FL_POINTWISE(name, Functor, target, aux)                                               \
  template __global__ void pointwise_check<generic::Functor<float>, float>(                    \
      const double*, const float*, const float*, const float*, float*, float*, int64_t);        \
  template __global__ void pointwise_check<generic::Functor<double>, double>(                  \
      const double*, const double*, const double*, const double*, double*, double*, int64_t);
#include "fastloss/losses.def"

}  // namespace fastloss::cuda_check
