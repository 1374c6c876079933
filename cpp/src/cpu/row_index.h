// Addressing the rows of an n-d view whose last axis is the row (the row and embedding
// drivers'): the byte offset of row r, one multiply when the row dimensions collapse.
#pragma once

#include <cstdint>

#include "fastloss/tensor.h"

namespace fastloss::cpu {

// Byte offset of row r in a view whose leading `outer_ndim` dimensions are the row dimensions:
// one multiply when those dimensions collapse into a single stride (the usual case), else a walk
// over the dimensions with divisions.
class RowIndex {
 public:
  RowIndex(const View* v, const int64_t* outer_shape, int outer_ndim)
      : v_(v), shape_(outer_shape), ndim_(outer_ndim) {
    if (!v) return;
    linear_ = true;
    stride_ = 0;
    bool first = true;
    int64_t expected = 0;  // the stride the next-outer dimension must have to collapse
    for (int d = outer_ndim - 1; d >= 0; --d) {
      if (outer_shape[d] == 1) continue;
      if (first) {
        stride_ = v->strides[d];
        first = false;
      } else if (v->strides[d] != expected) {
        linear_ = false;
        return;
      }
      expected = v->strides[d] * outer_shape[d];
    }
  }

  // The whole view's rows are r * stride() bytes apart.
  bool linear() const { return v_ && linear_; }
  int64_t stride() const { return stride_; }

  int64_t operator()(int64_t r) const {
    if (!v_) return 0;
    if (linear_) return r * stride_;
    int64_t off = 0;
    for (int d = ndim_ - 1; d >= 0; --d) {
      off += (r % shape_[d]) * v_->strides[d];
      r /= shape_[d];
    }
    return off;
  }

 private:
  const View* v_;
  const int64_t* shape_;
  int ndim_;
  bool linear_ = false;
  int64_t stride_ = 0;
};

}  // namespace fastloss::cpu
