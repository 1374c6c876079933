// The embedding driver (the metric-learning losses): inputs of one shape (..., D), the last axis
// the features, and an optional label per row. Runs the per-ISA embedding kernel over blocks of
// rows fixed by the problem size, one row of each input at a time (in place when contiguous, else
// through contiguous scratch rows), writes each gradient row once, and reduces per-block sums in
// block order, so the bits do not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "backend.h"
#include "cpu/kernels.h"
#include "cpu/parallel.h"
#include "cpu/row_index.h"
#include "cpu/strided.h"
#include "fastloss/config.h"

namespace fastloss::cpu {
namespace {

inline const char* at(const View* v, int64_t off) {
  return static_cast<const char*>(v->data) + off;
}

template <class T>
LossResult run(const LossRequest& req) {
  const KernelInfo& info = kernel_info(req.kernel);
  const int n_inputs = info.embedding_inputs;
  const View* x = req.x();
  const int outer_ndim = x->ndim - 1;
  const int64_t* outer_shape = x->shape;
  const int64_t dim = x->shape[x->ndim - 1];
  int64_t rows = 1;
  for (int d = 0; d < outer_ndim; ++d) rows *= outer_shape[d];
  const View* label = info.row_label == RowLabel::row ? req.inputs[n_inputs] : nullptr;
  auto row_index = [&](const View* v) { return RowIndex(v, outer_shape, outer_ndim); };
  const RowIndex in_at[3] = {row_index(req.inputs[0]), row_index(req.inputs[1]),
                             row_index(n_inputs > 2 ? req.inputs[2] : nullptr)};
  const RowIndex grad_at[3] = {row_index(req.grads[0]), row_index(req.grads[1]),
                               row_index(req.grads[2])};
  const RowIndex weight_at = row_index(req.weight), upstream_at = row_index(req.upstream),
                 loss_at = row_index(req.loss_out), label_at = row_index(label);

  const EmbeddingTable& table = *active_kernels().embedding;
  const EmbeddingFn<T> row_fn = [&] {
    if constexpr (std::is_same_v<T, float>) return table.f32[int(req.kernel)];
    else return table.f64[int(req.kernel)];
  }();
  const LabelCheckFn valid_label = table.valid_label[int(req.kernel)];

  LossResult result;
  if (rows == 0) {
    result.value = req.reduction == Reduction::mean ? std::numeric_limits<double>::quiet_NaN() : 0.0;
    return result;
  }
  // The mean's denominator: the rows, or the sum of their weights (compensated, in row order).
  double denom = req.reduction == Reduction::mean ? double(rows) : 1.0;
  if (req.weight && req.reduction == Reduction::mean) {
    CompensatedSum sum;
    for (int64_t r = 0; r < rows; ++r)
      sum.add(read_as<double>(at(req.weight, weight_at(r)), req.weight->dtype));
    denom = sum.value();
  }
  const bool mean_over_nothing = req.reduction == Reduction::mean && denom == 0.0;
  const double scale = req.reduction == Reduction::none ? 1.0
                       : mean_over_nothing              ? std::numeric_limits<double>::quiet_NaN()
                                                        : req.upstream_scalar / denom;

  const int64_t rows_per_block = std::max<int64_t>(1, kRowBlockElements / std::max<int64_t>(dim, 1));
  const int64_t n_blocks = (rows + rows_per_block - 1) / rows_per_block;
  std::vector<double> partial(n_blocks, 0.0);
  std::vector<int64_t> bad_row(n_blocks, -1);

  auto block = [&](int64_t b, std::vector<T> (&in_rows)[3], std::vector<T> (&grad_rows)[3]) {
    const int64_t r_begin = b * rows_per_block, r_end = std::min(rows, r_begin + rows_per_block);
    double block_sum = 0.0;
    for (int64_t r = r_begin; r < r_end; ++r) {
      EmbeddingArgs<T> a;
      a.dim = dim;
      a.params = req.params;
      const double w =
          req.weight ? read_as<double>(at(req.weight, weight_at(r)), req.weight->dtype) : 1.0;
      const double up = req.upstream
                            ? read_as<double>(at(req.upstream, upstream_at(r)), req.upstream->dtype)
                            : 1.0;
      bool skip = false;
      if (label) {
        a.label = read_as<double>(at(label, label_at(r)), label->dtype);
        if (valid_label && !valid_label(a.label)) {
          skip = true;
          if (bad_row[b] < 0) bad_row[b] = r;
        }
      }
      char* g_ptr[3] = {};
      bool g_direct[3] = {};
      for (int i = 0; i < n_inputs; ++i) {
        const View* v = req.inputs[i];
        const int64_t stride = v->strides[v->ndim - 1];
        const char* p = at(v, in_at[i](r));
        if (usable_in_place<T>(p, stride, v->dtype)) {
          a.x[i] = reinterpret_cast<const T*>(p);
        } else {
          in_rows[i].resize(dim);
          for (int64_t j = 0; j < dim; ++j) in_rows[i][j] = read_as<T>(p + j * stride, v->dtype);
          a.x[i] = in_rows[i].data();
        }
        if (View* g = req.grads[i]) {
          g_ptr[i] = static_cast<char*>(g->data) + grad_at[i](r);
          g_direct[i] = usable_in_place<T>(g_ptr[i], g->strides[g->ndim - 1], g->dtype);
          if (g_direct[i]) {
            a.grad[i] = reinterpret_cast<T*>(g_ptr[i]);
          } else {
            grad_rows[i].resize(dim);
            a.grad[i] = grad_rows[i].data();
          }
        }
      }
      a.grad_scale = scale * w * up;
      double loss = 0.0;
      if (!skip) loss = row_fn(a);
      for (int i = 0; i < n_inputs; ++i) {
        if (!g_ptr[i] || (g_direct[i] && !skip)) continue;
        const int64_t stride = req.grads[i]->strides[req.grads[i]->ndim - 1];
        for (int64_t j = 0; j < dim; ++j) {
          const T v = skip ? T(0) : a.grad[i][j];
          std::memcpy(g_ptr[i] + j * stride, &v, sizeof(T));
        }
      }
      const double weighted = skip ? 0.0 : w * loss;
      if (req.loss_out) {
        const T v = T(weighted);
        std::memcpy(static_cast<char*>(req.loss_out->data) + loss_at(r), &v, sizeof(T));
      }
      block_sum += weighted;
    }
    partial[b] = block_sum;
  };

  parallel_for(n_blocks, rows * std::max<int64_t>(dim, 1) * n_inputs,
               [&](int64_t block_begin, int64_t block_end) {
                 std::vector<T> in_rows[3], grad_rows[3];
                 for (int64_t b = block_begin; b < block_end; ++b) block(b, in_rows, grad_rows);
               });

  for (int64_t b = 0; b < n_blocks; ++b) {
    if (bad_row[b] >= 0) {
      result.bad_index = bad_row[b];
      return result;
    }
  }
  const double total = pairwise_sum(partial.data(), n_blocks);
  result.value = req.reduction != Reduction::mean ? total
                 : mean_over_nothing               ? std::numeric_limits<double>::quiet_NaN()
                                                   : total / denom;
  return result;
}

}  // namespace

LossResult embedding(const LossRequest& req) {
  return req.x()->dtype == DType::f32 ? run<float>(req) : run<double>(req);
}

}  // namespace fastloss::cpu
