// Every entry of the loss table (losses.def), instantiated as device code for float and double.
// This translation unit is the guard behind "the math is written once, for CPU and CUDA": it
// compiles each functor's constructor and call operator in a __global__ kernel, so a loss header
// that uses host-only code (a static table, std::numeric_limits, a host-only constructor) stops
// the build. The CUDA backend's real kernels will call the same functors.
#include <type_traits>

#include "fastloss/kernels.h"
#include "fastloss/losses/all.h"

namespace fastloss::cuda_check {

template <class Loss, class = void>
struct HasSpecialise : std::false_type {};
template <class Loss>
struct HasSpecialise<Loss, std::void_t<decltype(Loss::kSpecialises)>> : std::true_type {};

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

#define FL_POINTWISE(name, Functor, target, aux)                                               \
  template __global__ void pointwise_check<generic::Functor<float>, float>(                    \
      const double*, const float*, const float*, const float*, float*, float*, int64_t);        \
  template __global__ void pointwise_check<generic::Functor<double>, double>(                  \
      const double*, const double*, const double*, const double*, double*, double*, int64_t);
#include "fastloss/losses.def"

}  // namespace fastloss::cuda_check
