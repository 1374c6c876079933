// The pointwise driver: splits the flat index space into fixed blocks, walks each block in runs
// and chunks, feeds the per-ISA loss loop contiguous data (gathering strided, broadcast or
// converted operands into small buffers), and reduces per-block partial sums in block order.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "backend.h"
#include "cpu/kernels.h"
#include "cpu/parallel.h"
#include "cpu/strided.h"
#include "fastloss/config.h"

namespace fastloss::cpu {
namespace {

// Operand slots, in the order of the walker's offsets.
enum Slot {
  kX, kY, kParam, kWeight, kUpstream, kLossOut, kGradOut, kTargetGradOut, kOperandGradOut, kSlots
};

// d loss / d y = -d loss / d x for the losses of x - y: the target's gradient is the negated
// pred gradient of the same chunk, written in the same pass (exact: negation does not round).
template <class T>
void store_negated(char* dst, int64_t stride, int64_t len, const T* grad, T* buf) {
  for (int64_t i = 0; i < len; ++i) buf[i] = -grad[i];
  store_run<T>(dst, stride, len, buf);
}

// The functor's extra gradients (target, per-element operand) get the weights and upstream
// gradients that finish_fn applies to d/dx, element by element (one rounding each, as there).
template <class T>
void weigh(T* grad, const T* weight, const T* upstream, int64_t len) {
  if (weight)
    for (int64_t i = 0; i < len; ++i) grad[i] *= weight[i];
  if (upstream)
    for (int64_t i = 0; i < len; ++i) grad[i] *= upstream[i];
}

template <class T>
LossResult run(const LossRequest& req) {
  const View* x = req.x();
  const View* views[kSlots] = {x, req.target(), req.aux[0], req.weight, req.upstream,
                               req.loss_out, req.grads[0], req.grads[1], req.grads[2]};
  const int64_t n = x->numel();
  const PointwiseFn<T> loss_fn = [&] {
    const ElementwiseTable& t = *active_kernels().elementwise;
    if constexpr (std::is_same_v<T, float>) return t.f32[int(req.kernel)];
    else return t.f64[int(req.kernel)];
  }();
  const FinishFn<T> finish_fn = [&] {
    const ElementwiseTable& t = *active_kernels().elementwise;
    if constexpr (std::is_same_v<T, float>) return t.finish_f32;
    else return t.finish_f64;
  }();

  double denominator = 1.0;
  if (req.reduction == Reduction::mean) denominator = req.weight ? req.weight_total : double(n);
  LossResult result;
  if (n == 0) {
    result.value = req.reduction == Reduction::mean ? std::numeric_limits<double>::quiet_NaN() : 0.0;
    return result;
  }
  const double scale = req.reduction == Reduction::none ? 1.0 : req.upstream_scalar / denominator;

  int64_t shape[kMaxDims];
  int64_t strides[kSlots][kMaxDims] = {};
  int ndim = x->ndim;
  for (int d = 0; d < ndim; ++d) shape[d] = x->shape[d];
  for (int k = 0; k < kSlots; ++k)
    if (views[k])
      for (int d = 0; d < ndim; ++d) strides[k][d] = views[k]->strides[d];
  ndim = coalesce<kSlots>(ndim, shape, strides);

  const int64_t n_blocks = (n + kElementwiseBlock - 1) / kElementwiseBlock;
  std::vector<double> partial(n_blocks, 0.0);
  std::vector<int64_t> first_invalid(n_blocks, -1);
  // The functor writes d/dy and d/dp itself (kOperandGrads), or d/dy is -d/dx (difference).
  const bool functor_grads = kernel_info(req.kernel).functor_grads();
  const bool wants_target_grad = views[kTargetGradOut] != nullptr;
  const bool wants_any_grad = views[kGradOut] || wants_target_grad || views[kOperandGradOut];

  parallel_for(n_blocks, n, [&](int64_t block_begin, int64_t block_end) {
    alignas(64) T buf[kSlots][kChunk];
    alignas(64) T value[kChunk];
    for (int64_t b = block_begin; b < block_end; ++b) {
      int64_t pos = b * kElementwiseBlock;
      const int64_t end = std::min(pos + kElementwiseBlock, n);
      RunWalker<kSlots> walk(ndim, shape, strides, pos);
      double lanes[kSumLanes] = {};
      while (pos < end) {
        const int64_t len = std::min({walk.run_left(), end - pos, kChunk});
        const int64_t inner = ndim - 1;
        auto in = [&](Slot k) -> const T* {
          if (!views[k]) return nullptr;
          const char* p = static_cast<const char*>(views[k]->data) + walk.offset[k];
          // Weights and upstream gradients scale both the value and the gradient: copied, so
          // both see the same element even while another thread writes it.
          const bool in_place = k != kWeight && k != kUpstream;
          return load_run<T>(p, strides[k][inner], views[k]->dtype, len, buf[k], in_place);
        };
        auto out = [&](Slot k, bool& direct) -> T* {
          direct = false;
          if (!views[k]) return nullptr;
          char* p = static_cast<char*>(views[k]->data) + walk.offset[k];
          direct = usable_in_place<T>(p, strides[k][inner], views[k]->dtype);
          return direct ? reinterpret_cast<T*>(p) : buf[k];
        };
        const T* x = in(kX);
        const T* y = in(kY);
        const T* p = in(kParam);
        bool loss_direct, grad_direct;
        T* loss_out = out(kLossOut, loss_direct);
        T* grad_out = out(kGradOut, grad_direct);
        // The target's gradient alone still needs the pred gradient of the chunk to negate, or
        // (functor gradients) a place for the functor to write it.
        if (!grad_out && wants_any_grad) grad_out = buf[kGradOut];
        bool grad_y_direct = false, grad_p_direct = false;
        T* grad_y = nullptr;
        T* grad_p = nullptr;
        if (functor_grads && wants_any_grad) {
          grad_y = out(kTargetGradOut, grad_y_direct);
          grad_p = out(kOperandGradOut, grad_p_direct);
          if (!grad_y) grad_y = buf[kTargetGradOut];
          if (!grad_p) grad_p = buf[kOperandGradOut];
        }
        // Element i goes to lane (flat index) % kSumLanes however the block is cut into runs,
        // so the sum depends on the shape alone, not on strides or broadcasting.
        const int shift = int(pos % kSumLanes);
        double rotated[kSumLanes];
        for (int k = 0; k < kSumLanes; ++k) rotated[k] = lanes[(k + shift) % kSumLanes];
        // Compute straight into the outputs when they are contiguous (else into their staging
        // buffers); the gradient is weighted there in place. Without weights, upstream
        // gradients or a loss output the values need no array: the loss loop sums them into
        // the lanes itself and there is nothing left to finish.
        // (A functor writing more gradients always gets a value array: PointwiseFn.)
        const bool values_to_lanes =
            !views[kWeight] && !views[kUpstream] && !loss_out && !functor_grads;
        T* value_dst = values_to_lanes ? nullptr : loss_out && loss_direct ? loss_out : value;
        int64_t bad = loss_fn(req.params, x, y, p, value_dst, grad_out, grad_y, grad_p, T(scale),
                              len, rotated);
        if (bad >= 0 && first_invalid[b] < 0) first_invalid[b] = pos + bad;
        if (!values_to_lanes) {
          const T* w = in(kWeight);
          const T* up = in(kUpstream);
          FinishArgs<T> fin{len, value_dst, grad_out, w, up, loss_out, grad_out, rotated};
          finish_fn(fin);
          if (views[kTargetGradOut] && grad_y) weigh<T>(grad_y, w, up, len);
          if (views[kOperandGradOut]) weigh<T>(grad_p, w, up, len);
        }
        for (int k = 0; k < kSumLanes; ++k) lanes[(k + shift) % kSumLanes] = rotated[k];
        if (loss_out && !loss_direct)
          store_run<T>(static_cast<char*>(views[kLossOut]->data) + walk.offset[kLossOut],
                       strides[kLossOut][inner], len, loss_out);
        if (views[kGradOut] && !grad_direct)
          store_run<T>(static_cast<char*>(views[kGradOut]->data) + walk.offset[kGradOut],
                       strides[kGradOut][inner], len, grad_out);
        if (functor_grads) {
          if (views[kTargetGradOut] && !grad_y_direct)
            store_run<T>(static_cast<char*>(views[kTargetGradOut]->data) +
                             walk.offset[kTargetGradOut],
                         strides[kTargetGradOut][inner], len, grad_y);
          if (views[kOperandGradOut] && !grad_p_direct)
            store_run<T>(static_cast<char*>(views[kOperandGradOut]->data) +
                             walk.offset[kOperandGradOut],
                         strides[kOperandGradOut][inner], len, grad_p);
        } else if (wants_target_grad)
          store_negated<T>(static_cast<char*>(views[kTargetGradOut]->data) +
                               walk.offset[kTargetGradOut],
                           strides[kTargetGradOut][inner], len, grad_out, buf[kTargetGradOut]);
        pos += len;
        walk.advance(len);
      }
      partial[b] = pairwise_sum(lanes, kSumLanes);
    }
  });

  for (int64_t b = 0; b < n_blocks && result.bad_index < 0; ++b)
    result.bad_index = first_invalid[b];
  const double total = pairwise_sum(partial.data(), n_blocks);
  result.value = req.reduction == Reduction::mean ? total / denominator : total;
  return result;
}

}  // namespace

LossResult pointwise(const LossRequest& req) {
  return req.x()->dtype == DType::f32 ? run<float>(req) : run<double>(req);
}

}  // namespace fastloss::cpu
