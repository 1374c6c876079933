#include "strided.h"

namespace fastloss::cuda {

Shape coalesced_shape(const View& x, const View* const* views, int count, Strided* out) {
  // Keep the dimensions of size > 1, with every view's strides over them.
  constexpr int kMaxOperands = 16;
  if (count > kMaxOperands) count = kMaxOperands;
  Shape shape;
  int64_t strides[kMaxOperands][kMaxDims] = {};
  for (int d = 0; d < x.ndim; ++d) {
    if (x.shape[d] == 1) continue;
    for (int k = 0; k < count; ++k)
      if (views[k]) strides[k][shape.ndim] = views[k]->strides[d];
    shape.dims[shape.ndim++] = x.shape[d];
  }
  // Merge dimension d into d + 1 where every view steps over d as over shape[d + 1] elements
  // of d + 1 (C order), from the innermost outwards.
  int kept = 0;
  Shape merged;
  int64_t merged_strides[kMaxOperands][kMaxDims] = {};
  for (int d = 0; d < shape.ndim; ++d) {
    bool merge = kept > 0;
    for (int k = 0; k < count && merge; ++k)
      if (views[k]) merge = merged_strides[k][kept - 1] == strides[k][d] * shape.dims[d];
    if (merge) {
      merged.dims[kept - 1] *= shape.dims[d];
      for (int k = 0; k < count; ++k) merged_strides[k][kept - 1] = strides[k][d];
    } else {
      merged.dims[kept] = shape.dims[d];
      for (int k = 0; k < count; ++k) merged_strides[k][kept] = strides[k][d];
      ++kept;
    }
  }
  merged.ndim = kept;
  if (merged.ndim == 0) merged = Shape{1, {1}};  // a 0-d or all-ones shape: one element
  for (int k = 0; k < count; ++k) {
    out[k] = Strided{};
    if (!views[k]) continue;
    out[k].data = static_cast<char*>(views[k]->data);
    out[k].dtype = views[k]->dtype;
    for (int d = 0; d < merged.ndim; ++d) out[k].strides[d] = merged_strides[k][d];
  }
  return merged;
}

}  // namespace fastloss::cuda
