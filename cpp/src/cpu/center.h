// The boundary between the center loss's driver (center.cc: the labels, the rows in class order,
// the chunks, buffers, threads and the reduction) and its per-ISA phases (center_kernels.cc).
//
// The rows are ordered by class (row order within a class) and each class's rows cut into
// chunks of at most chunk_rows, so that threads share the work evenly however the classes are
// sized. The chunk phase gives each row its loss 1/2 ||x_i - c_j||^2 and gradient
// coef_i (x_i - c_j), and each chunk its partial sum, in row order, of
//   gradient:  -coef_i (x_i - c_j)            (d/dc_j)
//   update:    c_j - x_i                      (Wen et al.'s delta, unweighted)
// The class phase adds each class's partial sums in chunk order and writes d/dc_j, or the
// updated centre c_j - alpha delta_j / (1 + n_j). Every sum is in double in an order fixed by the
// labels alone, so the bits do not depend on the threads or the ISA. A class without rows gets
// a zero gradient or its centre unchanged.
#pragma once

#include <cstdint>

namespace fastloss::cpu {

template <class T>
struct CenterPass {
  int64_t dim = 0;                      // D
  const T* features = nullptr;          // N x D, contiguous
  const T* centers = nullptr;           // C x D, contiguous
  const int64_t* rows = nullptr;        // the N rows ordered by class, row order within a class
  const int64_t* class_start = nullptr; // C + 1 offsets into rows: class j is [start_j, start_j+1)
  const int64_t* chunk_start = nullptr; // chunks + 1 offsets into rows, each inside one class
  const int64_t* chunk_class = nullptr; // per chunk: its class
  const int64_t* class_chunk = nullptr; // C + 1 offsets into the chunks: class j's chunks
  const double* coef = nullptr;         // per row: upstream x sample weight / the mean's divisor
  double* loss = nullptr;               // per row: 1/2 ||x_i - c_{y_i}||^2, written
  T* grad_features = nullptr;           // N x D contiguous, or nullptr
  T* centers_out = nullptr;             // C x D contiguous: d/dc (or the update), or nullptr
  double* partial = nullptr;            // chunks x D: each chunk's sum (with centers_out)
  bool update = false;                  // centers_out gets the updated centres, not d/dc
  double alpha = 0.5;                   // the update's rate
};

template <class T>
struct CenterPhases {
  // The rows of chunks [q0, q1) and, with centers_out, those chunks' partial sums.
  void (*chunks)(const CenterPass<T>& p, int64_t q0, int64_t q1);
  // Classes [c0, c1)'s rows of centers_out, from their chunks' partial sums.
  void (*classes)(const CenterPass<T>& p, int64_t c0, int64_t c1);
};

}  // namespace fastloss::cpu
