// What every in-batch driver (losses.def's FL_BATCH lines) does around its own passes: (N, D)
// operands as contiguous rows, gradients computed into contiguous rows (copied out to a strided
// output at the end), and the reduction - per-row weights, the mean's denominator, the
// gradient's factor, the reduced value and the per-row losses of reduction none.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "backend.h"
#include "cpu/parallel.h"
#include "cpu/strided.h"

namespace fastloss::cpu {

// An (n, d) view as contiguous T rows: the array itself when it already is, else a copy.
template <class T>
const T* contiguous(const View* v, std::vector<T>& copy) {
  const int64_t n = v->shape[0], d = v->shape[1];
  const char* base = static_cast<const char*>(v->data);
  const bool dense = v->dtype == dtype_of<T>() && (d <= 1 || v->strides[1] == int64_t(sizeof(T))) &&
                     (n <= 1 || v->strides[0] == d * int64_t(sizeof(T))) &&
                     reinterpret_cast<uintptr_t>(base) % alignof(T) == 0;
  if (dense) return reinterpret_cast<const T*>(base);
  copy.resize(size_t(n * d));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j)
      copy[i * d + j] = read_as<T>(base + i * v->strides[0] + j * v->strides[1], v->dtype);
  return copy.data();
}

// Where an (n, d) gradient is computed: the output itself when contiguous, else `scratch`
// (copied out by copy_out); nullptr when the gradient is not wanted.
template <class T>
T* gradient_target(View* g, int64_t n, int64_t d, std::vector<T>& scratch) {
  if (!g) return nullptr;
  const bool dense = (d <= 1 || g->strides[1] == int64_t(sizeof(T))) &&
                     (n <= 1 || g->strides[0] == d * int64_t(sizeof(T))) &&
                     reinterpret_cast<uintptr_t>(g->data) % alignof(T) == 0;
  if (dense) return static_cast<T*>(g->data);
  scratch.resize(size_t(n * d));
  return scratch.data();
}

// Moves a gradient computed into scratch to its strided output (nothing when it was in place).
template <class T>
void copy_out(View* g, const T* from, int64_t n, int64_t d) {
  if (!g || from == g->data) return;
  char* base = static_cast<char*>(g->data);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j)
      std::memcpy(base + i * g->strides[0] + j * g->strides[1], from + i * d + j, sizeof(T));
}

// Element i of a 1-d view of any real dtype, as a double.
inline double element(const View* v, int64_t i) {
  return read_as<double>(static_cast<const char*>(v->data) + i * v->strides[0], v->dtype);
}

// The reduction of n per-row losses: mean = sum(w l) / sum(w) (sum(w) = n without weights).
class BatchReduction {
 public:
  BatchReduction(const LossRequest& req, int64_t n) : req_(req), weight_(size_t(n), 1.0) {
    if (req.weight)
      for (int64_t i = 0; i < n; ++i) weight_[i] = element(req.weight, i);
    denom_ = req.reduction == Reduction::mean ? double(n) : 1.0;
    if (req.weight && req.reduction == Reduction::mean) {
      CompensatedSum sum;  // in row order
      for (int64_t i = 0; i < n; ++i) sum.add(weight_[i]);
      denom_ = sum.value();
    }
    scale_ = req.reduction == Reduction::none ? 1.0
             : denom_ == 0.0                  ? std::numeric_limits<double>::quiet_NaN()
                                              : req.upstream_scalar / denom_;
  }

  double weight(int64_t i) const { return weight_[i]; }
  // d(upstream . reduced loss) / d(row i's loss): upstream x weight / denominator.
  double coefficient(int64_t i) const {
    return scale_ * weight_[i] * (req_.upstream ? element(req_.upstream, i) : 1.0);
  }

  // The reduced value of the weighted per-row losses (summed in a fixed pairwise order), after
  // writing them to loss_out for reduction none.
  template <class T>
  double finish(const std::vector<double>& weighted) const {
    const int64_t n = int64_t(weighted.size());
    if (req_.loss_out) {
      char* out = static_cast<char*>(req_.loss_out->data);
      for (int64_t i = 0; i < n; ++i) {
        const T v = T(weighted[i]);
        std::memcpy(out + i * req_.loss_out->strides[0], &v, sizeof(T));
      }
    }
    const double total = pairwise_sum(weighted.data(), n);
    return req_.reduction != Reduction::mean ? total
           : denom_ == 0.0                   ? std::numeric_limits<double>::quiet_NaN()
                                             : total / denom_;
  }

 private:
  const LossRequest& req_;
  std::vector<double> weight_;
  double denom_ = 1.0, scale_ = 1.0;
};

}  // namespace fastloss::cpu
