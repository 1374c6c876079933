// The center loss's phases, compiled once per ISA (the contract is cpu/center.h). A row's
// squared distance is summed in fixed lanes (fastloss/embedding.h's embedding_sums) and its
// differences taken in double (exact for float32); the loops over the features are independent
// per feature, so they vectorise as written.
#include "cpu/center.h"
#include "fastloss/config.h"
#include "fastloss/embedding.h"

FL_ISA_NAMESPACE_BEGIN
namespace {

using cpu::CenterPass;

template <class T>
void chunks(const CenterPass<T>& p, int64_t q0, int64_t q1) {
  const int64_t dim = p.dim;
  for (int64_t q = q0; q < q1; ++q) {
    const T* c = p.centers + p.chunk_class[q] * dim;
    double* s = p.centers_out ? p.partial + q * dim : nullptr;
    if (s)
      for (int64_t k = 0; k < dim; ++k) s[k] = 0.0;
    for (int64_t r = p.chunk_start[q]; r < p.chunk_start[q + 1]; ++r) {
      const int64_t i = p.rows[r];
      const T* x = p.features + i * dim;
      double d2[1];
      embedding_sums(dim, [&](int64_t k, double* v) {
        const double diff = double(x[k]) - double(c[k]);
        v[0] = diff * diff;
      }, d2);
      p.loss[i] = 0.5 * d2[0];
      const double coef = p.coef[i];
      if (T* g = p.grad_features ? p.grad_features + i * dim : nullptr)
        for (int64_t k = 0; k < dim; ++k) g[k] = T(coef * (double(x[k]) - double(c[k])));
      if (!s) continue;
      if (p.update)
        for (int64_t k = 0; k < dim; ++k) s[k] += double(c[k]) - double(x[k]);
      else
        for (int64_t k = 0; k < dim; ++k) s[k] -= coef * (double(x[k]) - double(c[k]));
    }
  }
}

template <class T>
void classes(const CenterPass<T>& p, int64_t c0, int64_t c1) {
  const int64_t dim = p.dim;
  for (int64_t j = c0; j < c1; ++j) {
    const T* c = p.centers + j * dim;
    T* out = p.centers_out + j * dim;
    const int64_t first = p.class_chunk[j], end = p.class_chunk[j + 1];
    const double step =
        p.alpha / double(1 + (p.class_start[j + 1] - p.class_start[j]));  // alpha / (1 + n_j)
    if (first == end) {  // no rows: no gradient, the centre as it is
      for (int64_t k = 0; k < dim; ++k) out[k] = p.update ? c[k] : T(0);
      continue;
    }
    // The chunks' sums added into the first chunk's, in chunk order.
    double* sum = p.partial + first * dim;
    for (int64_t q = first + 1; q < end; ++q) {
      const double* more = p.partial + q * dim;
      for (int64_t k = 0; k < dim; ++k) sum[k] += more[k];
    }
    for (int64_t k = 0; k < dim; ++k) out[k] = p.update ? T(double(c[k]) - step * sum[k]) : T(sum[k]);
  }
}

}  // namespace

// The phases of this ISA, for cpu/batch_kernels.cc's table.
template <class T>
cpu::CenterPhases<T> center_phases() {
  return {chunks<T>, classes<T>};
}
template cpu::CenterPhases<float> center_phases<float>();
template cpu::CenterPhases<double> center_phases<double>();

FL_ISA_NAMESPACE_END
