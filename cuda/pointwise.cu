// The CUDA pointwise driver: every FL_POINTWISE kernel of losses.def on the device, calling the
// same functors (losses/<name>.h) as the CPU driver.
//
// Work and sums are cut into tiles fixed by the element count alone (kTileElements elements,
// kThreads threads each summing kPerThread of them in a fixed order, then a fixed tree over the
// block), the grid strides over the tiles, and the tile sums are combined by one block in a fixed
// order: the result's bits depend on the size only, never on the grid chosen for a device, and
// there are no float atomics. The first invalid element is an integer atomicMin (exact in any
// order). Everything is queued on the caller's stream; the call waits for that stream alone,
// to read the reduced value back.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "fastloss/kernels.h"
#include "fastloss/losses/all.h"
#include "pointwise.h"
#include "strided.cuh"

namespace fastloss::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kPerThread = 8;
constexpr int64_t kTileElements = int64_t(kThreads) * kPerThread;

// Operand slots, in the order of PointwiseArgs::operands.
enum Slot { kX, kY, kParam, kWeight, kUpstream, kLossOut, kGradOut, kTargetGradOut, kSlots };

template <class T>
struct PointwiseArgs {
  Strided operands[kSlots];  // data == nullptr: not given
  Shape shape;               // coalesced
  int64_t n = 0;
  T grad_scale = T(1);
};

template <class T>
__device__ T operand(const PointwiseArgs<T>& a, int slot, const int64_t* offsets, T absent) {
  const Strided& s = a.operands[slot];
  return s.data ? load_as<T>(s, offsets[slot]) : absent;
}

// Block-wide sum of one double per thread, in a fixed tree order.
__device__ double block_sum(double v, double* shared) {
  shared[threadIdx.x] = v;
  __syncthreads();
  for (int width = kThreads / 2; width > 0; width /= 2) {
    if (threadIdx.x < width) shared[threadIdx.x] += shared[threadIdx.x + width];
    __syncthreads();
  }
  const double total = shared[0];
  __syncthreads();
  return total;
}

template <class Loss, class T>
__global__ void __launch_bounds__(kThreads)
    pointwise_tiles(const Loss loss, const PointwiseArgs<T> a, double* tile_sums,
                    unsigned long long* first_invalid) {
  __shared__ double shared[kThreads];
  const int64_t tiles = (a.n + kTileElements - 1) / kTileElements;
  for (int64_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    double sum = 0.0;
#pragma unroll
    for (int k = 0; k < kPerThread; ++k) {
      // Consecutive threads take consecutive elements: coalesced loads and stores.
      const int64_t i = tile * kTileElements + int64_t(k) * kThreads + threadIdx.x;
      if (i >= a.n) break;
      int64_t offsets[kSlots];
      element_offsets(a.shape, a.operands, kSlots, i, offsets);
      const T x = operand<T>(a, kX, offsets, T(0));
      const T y = operand<T>(a, kY, offsets, T(0));
      const T p = operand<T>(a, kParam, offsets, T(0));
      const T w = operand<T>(a, kWeight, offsets, T(1));
      const T up = operand<T>(a, kUpstream, offsets, T(1));
      T value, grad;
      loss(x, y, p, value, grad);
      if constexpr (Loss::kChecksDomain) {
        if (!Loss::valid(x, y)) atomicMin(first_invalid, static_cast<unsigned long long>(i));
      }
      value = value * w;
      sum += double(value);
      if (a.operands[kLossOut].data) store(a.operands[kLossOut], offsets[kLossOut], value);
      const T g = grad * a.grad_scale * w * up;
      if (a.operands[kGradOut].data) store(a.operands[kGradOut], offsets[kGradOut], g);
      if (a.operands[kTargetGradOut].data)
        store(a.operands[kTargetGradOut], offsets[kTargetGradOut], -g);
    }
    const double total = block_sum(sum, shared);
    if (threadIdx.x == 0) tile_sums[tile] = total;
  }
}

// One block: thread t sums tiles t, t + kThreads, ... in order, then the fixed tree.
__global__ void __launch_bounds__(kThreads)
    sum_tiles(const double* tile_sums, int64_t tiles, double* total) {
  __shared__ double shared[kThreads];
  double s = 0.0;
  for (int64_t t = threadIdx.x; t < tiles; t += kThreads) s += tile_sums[t];
  const double sum = block_sum(s, shared);
  if (threadIdx.x == 0) *total = sum;
}

// The launch for one functor (or the variant its specialise() picks), called on the host from the
// functor's host-device specialise().
template <class T>
struct Launch {
  const PointwiseArgs<T>* args;
  int blocks;
  cudaStream_t stream;
  double* tile_sums;
  unsigned long long* first_invalid;

  template <class Loss>
  void operator()(const Loss& loss) const {
    pointwise_tiles<Loss, T><<<blocks, kThreads, 0, stream>>>(loss, *args, tile_sums,
                                                              first_invalid);
  }
};

template <class Loss, class = void>
struct HasSpecialise : std::false_type {};
template <class Loss>
struct HasSpecialise<Loss, std::void_t<decltype(Loss::kSpecialises)>> : std::true_type {};

// Functors that write d/dy and d/dp themselves (kOperandGrads: the likelihoods) take a wider
// call that this driver does not make yet; backend.cc declines their kernels.
template <class Loss, class = void>
struct HasOperandGrads : std::false_type {};
template <class Loss>
struct HasOperandGrads<Loss, std::void_t<decltype(Loss::kOperandGrads)>>
    : std::bool_constant<Loss::kOperandGrads> {};

template <class Loss, class T>
void launch(const double* params, const Launch<T>& l) {
  if constexpr (HasSpecialise<Loss>::value) Loss::specialise(params, l);
  else l(Loss(params));
}

template <class T>
using LaunchFn = void (*)(const double*, const Launch<T>&);

template <class Loss, class T>
constexpr auto launch_of() -> void (*)(const double*, const Launch<T>&) {
  if constexpr (HasOperandGrads<Loss>::value) return nullptr;
  else return &launch<Loss, T>;
}

template <class T>
LaunchFn<T> launcher(Kernel k) {
  static const LaunchFn<T> table[kNumKernels] = {
#define FL_POINTWISE(name, Functor, target, aux) launch_of<generic::Functor<T>, T>(),
#define FL_ROW(...) nullptr,
#define FL_EMBEDDING(...) nullptr,  // no CUDA embedding driver yet: "no kernel"
#define FL_BATCH(...) nullptr,      // no CUDA in-batch driver yet
#include "fastloss/losses.def"
  };
  return table[int(k)];
}

template <class T>
Status run_typed(const LossRequest& req, LossResult* result) {
  const View* views[kSlots] = {req.x(),      req.target(),   req.aux[0],  req.weight,
                               req.upstream, req.loss_out,   req.grads[0], req.grads[1]};
  PointwiseArgs<T> a;
  a.n = req.x()->numel();
  a.shape = coalesced_shape(*req.x(), views, kSlots, a.operands);
  double denominator = 1.0;
  if (req.reduction == Reduction::mean) denominator = req.weight ? req.weight_total : double(a.n);
  a.grad_scale = T(req.reduction == Reduction::none ? 1.0 : req.upstream_scalar / denominator);
  if (a.n == 0) {
    result->value = req.reduction == Reduction::mean ? __builtin_nan("") : 0.0;
    return Status::ok();
  }
  // Only the losses of x - y give the target a gradient here (-d/dx, from this pass).
  if (req.grads[2] || (req.grads[1] && kernel_info(req.kernel).target != TargetKind::difference))
    return Status::error("no gradient for the target of this loss");
  const LaunchFn<T> launch_kernel = launcher<T>(req.kernel);
  if (!launch_kernel) return Status::error("no CUDA kernel for this loss");

  const int64_t tiles = (a.n + kTileElements - 1) / kTileElements;
  DeviceScratch scratch(req.stream);
  double* tile_sums = scratch.alloc<double>(tiles + 1);
  auto* first_invalid = scratch.alloc<unsigned long long>(1);
  if (!scratch.ok()) return scratch.status();
  const auto stream = reinterpret_cast<cudaStream_t>(req.stream);
  cudaMemsetAsync(first_invalid, 0xff, sizeof(unsigned long long), stream);
  const int blocks = int(std::min<int64_t>(tiles, grid_limit(req.x()->device.index)));
  launch_kernel(req.params, Launch<T>{&a, blocks, stream, tile_sums, first_invalid});
  sum_tiles<<<1, kThreads, 0, stream>>>(tile_sums, tiles, tile_sums + tiles);

  double total = 0.0;
  unsigned long long bad = ~0ull;
  Status s = scratch.read_back({{&total, tile_sums + tiles, sizeof total},
                                {&bad, first_invalid, sizeof bad}});
  if (!s) return s;
  result->bad_index = bad == ~0ull ? -1 : int64_t(bad);
  result->value = req.reduction == Reduction::mean ? total / denominator : total;
  return Status::ok();
}

}  // namespace

Status pointwise(const LossRequest& req, LossResult* result) {
  return req.x()->dtype == DType::f32 ? run_typed<float>(req, result)
                                      : run_typed<double>(req, result);
}

}  // namespace fastloss::cuda
