// The center loss's driver (Wen et al. 2016): features (N, D), labels (N,) and class centres
// (C, D); row i's loss 1/2 ||x_i - c_{y_i}||^2, the gradients of the features and of the
// centres, or (params[0] = 1) the centres after Wen et al.'s update in place of their gradient.
//
// A centre's gradient sums over the rows of its class, so the rows are put in class order
// first (a counting sort: stable, so row order within a class) and cut into chunks of one class
// each (cpu/center.h): threads share the chunks, each chunk's sum is taken in row order, and
// each class adds its chunks' sums in chunk order - never racing scatter-adds. The chunks
// depend on the labels and D alone, so the bits do not depend on the threads.
//
// params: [update (0: the loss and its gradients, 1: the update), alpha (the update's rate)].
#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "backend.h"
#include "cpu/batch_arrays.h"
#include "cpu/center.h"
#include "cpu/kernels.h"
#include "cpu/parallel.h"
#include "cpu/strided.h"

namespace fastloss::cpu {
namespace {

// A chunk's rows: at least kChunkMinRows, and enough for kChunkElements features, so that
// the chunks' partial sums (one double per feature each) stay a small fraction of the
// features' bytes and a chunk is worth a thread's claim.
constexpr int64_t kChunkMinRows = 256;
constexpr int64_t kChunkElements = 1 << 16;
// Classes a thread takes at a time in the class phase.
constexpr int64_t kClassBlock = 64;

template <class T>
LossResult run(const LossRequest& req) {
  const View* xv = req.inputs[0];
  const View* labels = req.inputs[1];
  const View* cv = req.inputs[2];
  const int64_t n = xv->shape[0], dim = xv->shape[1], n_classes = cv->shape[0];
  const bool update = req.params[0] != 0.0;
  LossResult result;

  // The labels, checked, and the rows in class order.
  const size_t n_rows = size_t(n);
  std::vector<int64_t> class_start(size_t(n_classes) + 1, 0), rows(n_rows), label(n_rows);
  const char* label_base = static_cast<const char*>(labels->data);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t y = read_label(label_base + i * labels->strides[0], labels->dtype);
    if (y < 0 || y >= n_classes) {
      result.bad_index = i;
      result.bad_label = y;
      return result;
    }
    label[i] = y;
    ++class_start[y + 1];
  }
  for (int64_t j = 0; j < n_classes; ++j) class_start[j + 1] += class_start[j];
  {
    std::vector<int64_t> next(class_start.begin(), class_start.end() - 1);
    for (int64_t i = 0; i < n; ++i) rows[next[label[i]]++] = i;
  }

  // Each class's rows cut into chunks of chunk_rows (the last of a class shorter).
  const int64_t chunk_rows = std::max(kChunkMinRows, kChunkElements / std::max<int64_t>(dim, 1));
  std::vector<int64_t> chunk_start, chunk_class, class_chunk(size_t(n_classes) + 1, 0);
  for (int64_t j = 0; j < n_classes; ++j) {
    class_chunk[j] = int64_t(chunk_class.size());
    for (int64_t r = class_start[j]; r < class_start[j + 1]; r += chunk_rows) {
      chunk_start.push_back(r);
      chunk_class.push_back(j);
    }
  }
  const int64_t n_chunks = int64_t(chunk_class.size());
  class_chunk[n_classes] = n_chunks;
  chunk_start.push_back(n);

  std::vector<T> feature_copy, center_copy, grad_scratch, centers_scratch;
  const BatchReduction reduction(req, n);
  std::vector<double> coef(n_rows), loss(n_rows);
  for (int64_t i = 0; i < n; ++i) coef[i] = reduction.coefficient(i);

  CenterPass<T> p;
  p.dim = dim;
  p.features = contiguous<T>(xv, feature_copy);
  p.centers = contiguous<T>(cv, center_copy);
  p.rows = rows.data();
  p.class_start = class_start.data();
  p.chunk_start = chunk_start.data();
  p.chunk_class = chunk_class.data();
  p.class_chunk = class_chunk.data();
  p.coef = coef.data();
  p.loss = loss.data();
  p.grad_features = gradient_target<T>(req.grads[0], n, dim, grad_scratch);
  p.centers_out = gradient_target<T>(req.grads[2], n_classes, dim, centers_scratch);
  p.update = update;
  p.alpha = req.params[1];
  // (uninitialised: each chunk writes its own before adding to it)
  std::unique_ptr<double[]> partial(p.centers_out ? new double[size_t(n_chunks * dim)] : nullptr);
  p.partial = partial.get();

  const BatchTable& table = *active_kernels().batch;
  const CenterPhases<T>& phases = of_dtype<T>(table.center_f32, table.center_f64);
  const int64_t row_work = n * std::max<int64_t>(dim, 1);
  parallel_for(n_chunks, row_work, [&](int64_t q0, int64_t q1) { phases.chunks(p, q0, q1); });
  if (p.centers_out) {
    const int64_t blocks = (n_classes + kClassBlock - 1) / kClassBlock;
    parallel_for(blocks, (n_chunks + n_classes) * std::max<int64_t>(dim, 1),
                 [&](int64_t b0, int64_t b1) {
                   phases.classes(p, b0 * kClassBlock, std::min(n_classes, b1 * kClassBlock));
                 });
  }

  copy_out<T>(req.grads[0], p.grad_features, n, dim);
  copy_out<T>(req.grads[2], p.centers_out, n_classes, dim);
  std::vector<double> weighted(n_rows);
  for (int64_t i = 0; i < n; ++i) weighted[i] = reduction.weight(i) * loss[i];
  result.value = reduction.finish<T>(weighted);
  return result;
}

}  // namespace

LossResult center(const LossRequest& req) {
  return req.x()->dtype == DType::f32 ? run<float>(req) : run<double>(req);
}

}  // namespace fastloss::cpu
