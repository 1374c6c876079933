// Native benchmark: times run_pointwise / run_rows (cpp/src/ops.h) directly, with no Python in
// the loop, against the roofline stream (runtime::stream_f32) with the same traffic, measured in the
// same run in interleaved rounds. Outputs are allocated and touched once, so neither the kernels
// nor the stream pay page faults here (the Python benchmark, which allocates a fresh gradient
// per call as users do, includes them). Method and byte counts: bench/METHOD.md.
//
//   cmake -S . -B build-bench -DFASTLOSS_BUILD_BENCH=ON && cmake --build build-bench --target fastloss_bench
//   build-bench/fastloss_bench [--repeats N] [--threads N] [--quick] [--rows-only] [--classes C]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "fastloss/kernels.h"
#include "ops.h"
#include "runtime.h"

namespace {

using fastloss::DType;
using fastloss::View;

// 64-byte aligned, zero-initialised (so every page is touched before timing starts).
template <class T>
struct Buffer {
  T* data = nullptr;
  int64_t n = 0;
  explicit Buffer(int64_t count) : n(count) {
    size_t bytes = (size_t(count) * sizeof(T) + 63) / 64 * 64;
    data = static_cast<T*>(std::aligned_alloc(64, bytes ? bytes : 64));
    if (!data) {
      std::fprintf(stderr, "out of memory allocating %zu bytes\n", bytes);
      std::exit(1);
    }
    std::memset(static_cast<void*>(data), 0, bytes);
  }
  ~Buffer() { std::free(data); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
};

View view(const void* data, DType dtype, std::initializer_list<int64_t> shape,
          int64_t itemsize) {
  View v;
  v.data = const_cast<void*>(data);
  v.dtype = dtype;
  v.ndim = int(shape.size());
  int d = 0;
  for (int64_t s : shape) v.shape[d++] = s;
  int64_t stride = itemsize;
  for (int k = v.ndim - 1; k >= 0; --k) {
    v.strides[k] = stride;
    stride *= v.shape[k];
  }
  return v;
}

double now_s() {
  using clock = std::chrono::steady_clock;
  return std::chrono::duration<double>(clock::now().time_since_epoch()).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

// Times `kernel` and `roof` in interleaved rounds after one warm-up call each; returns the
// medians in seconds.
std::pair<double, double> interleaved(const std::function<void()>& kernel,
                                      const std::function<void()>& roof, int repeats) {
  kernel();
  roof();
  std::vector<double> tk, tr;
  for (int r = 0; r < repeats; ++r) {
    double t0 = now_s();
    kernel();
    double t1 = now_s();
    roof();
    double t2 = now_s();
    tk.push_back(t1 - t0);
    tr.push_back(t2 - t1);
  }
  return {median(tk), median(tr)};
}

volatile double g_sink = 0;  // keeps results observable

void report(const char* name, const char* pass, const std::string& shape, double bytes,
            std::pair<double, double> t) {
  const double gbps = bytes / t.first / 1e9, roof = bytes / t.second / 1e9;
  std::printf("%-34s %-8s %-12s %9.1f %9.3f %8.2f %9.2f %8.2f\n", name, pass, shape.c_str(),
              bytes / 1e6, t.first * 1e3, gbps, roof, t.second / t.first);
}

void fill_normal(float* p, int64_t n, float scale, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  for (int64_t i = 0; i < n; ++i) p[i] = d(rng);
}

void bench_pointwise(fastloss::Kernel kernel, double param0, bool probabilities_target, int64_t n,
                     int repeats, double param1 = 0.0) {
  const char* name = fastloss::kernel_info(kernel).name;
  const bool param_array = fastloss::kernel_info(kernel).has_operand();
  Buffer<float> x(n), y(n), grad(n);
  fill_normal(x.data, n, 2.0f, 1);
  if (probabilities_target) {  // hard 0/1 labels, as the registry samples mostly
    std::mt19937 rng(2);
    for (int64_t i = 0; i < n; ++i) y.data[i] = float(rng() & 1u);
  } else {
    fill_normal(y.data, n, 1.0f, 2);
  }
  const float one = 1.0f;
  View xv = view(x.data, DType::f32, {n}, 4), yv = view(y.data, DType::f32, {n}, 4);
  View gv = view(grad.data, DType::f32, {n}, 4);
  View pv = view(&one, DType::f32, {n}, 4);
  pv.strides[0] = 0;  // a broadcast scalar (pos_weight = 1), as the Python layer passes it

  fastloss::LossRequest req;
  req.name = name;
  req.kernel = kernel;
  req.params[0] = param0;
  req.params[1] = param1;
  req.inputs[0] = &xv;
  req.inputs[1] = &yv;
  req.aux[0] = param_array ? &pv : nullptr;
  req.reduction = fastloss::Reduction::mean;

  const float* reads[2] = {x.data, y.data};
  float* writes[1] = {grad.data};
  const std::string shape = std::to_string(n);

  // Forward (mean): reads x and y.
  auto fwd = interleaved([&] { g_sink = fastloss::run(req).value; },
                         [&] { g_sink = fastloss::runtime::stream_f32(reads, 2, nullptr, 0, n); },
                         repeats);
  report(name, "forward", shape, 8.0 * double(n), fwd);
  // Fused: reads x and y, writes the gradient.
  fastloss::LossRequest fused = req;
  fused.grads[0] = &gv;
  auto fu = interleaved([&] { g_sink = fastloss::run(fused).value; },
                        [&] { g_sink = fastloss::runtime::stream_f32(reads, 2, writes, 1, n); },
                        repeats);
  report(name, "fused", shape, 12.0 * double(n), fu);
}

// Row kernels: `rows` x `classes` float32 logits; sparse kernels get int64 labels with 20% of the
// rows ignored (as the registry's sampler), the dense kernels a softmax of random logits, the
// index-list kernels int64 lists of 5 classes ended by -1 (a row costs ~ 2 * 5 * C terms); the
// structured hinge gets labels in range (it has no ignore_index) and its 0/1 costs.
void bench_rows(fastloss::Kernel kernel, int64_t rows, int64_t classes, int repeats) {
  const fastloss::KernelInfo& info = fastloss::kernel_info(kernel);
  const bool costed = info.target == fastloss::TargetKind::sparse_cost;
  const bool sparse = info.target == fastloss::TargetKind::sparse || costed;
  const bool lists = info.target == fastloss::TargetKind::index_list;
  const int64_t n = rows * classes;
  Buffer<float> x(n), grad(n), probs(sparse || lists ? 0 : n);
  Buffer<int64_t> t(sparse ? rows : lists ? n : 0);
  fill_normal(x.data, n, 2.0f, 3);
  std::mt19937 rng(4);
  if (lists) {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < classes; ++j)
        t.data[r * classes + j] = j < 5 ? int64_t(rng() % uint32_t(classes)) : -1;
  } else if (sparse) {
    for (int64_t r = 0; r < rows; ++r)
      t.data[r] = (!costed && rng() % 5 == 0) ? -100 : int64_t(rng() % uint32_t(classes));
  } else {
    fill_normal(probs.data, n, 1.0f, 5);
    for (int64_t r = 0; r < rows; ++r) {
      float* p = probs.data + r * classes;
      double total = 0;
      for (int64_t j = 0; j < classes; ++j) total += (p[j] = std::exp(p[j]));
      for (int64_t j = 0; j < classes; ++j) p[j] = float(p[j] / total);
    }
  }
  View xv = view(x.data, DType::f32, {rows, classes}, 4);
  View tv = sparse  ? view(t.data, DType::i64, {rows}, 8)
            : lists ? view(t.data, DType::i64, {rows, classes}, 8)
                    : view(probs.data, DType::f32, {rows, classes}, 4);
  View gv = view(grad.data, DType::f32, {rows, classes}, 4);

  fastloss::LossRequest req;
  req.name = info.stem;
  req.kernel = kernel;
  req.inputs[0] = &xv;
  req.inputs[1] = &tv;
  if (kernel == fastloss::Kernel::softmax_focal) {
    req.params[0] = 2.0;   // gamma
    req.params[1] = -1.0;  // no alpha
  } else if (info.class_weight == fastloss::ClassWeight::factor) {
    req.params[0] = 1.0;  // margin; not squared
  }
  if (kernel == fastloss::Kernel::structured_hinge) {
    req.params[0] = 0.0;  // margin rescaling
  }
  if (sparse && !costed) {
    req.has_ignore_index = true;
    req.ignore_index = -100;
  }
  req.reduction = fastloss::Reduction::mean;

  const float* reads[2] = {x.data, lists ? x.data : probs.data};
  const int n_reads = sparse ? 1 : 2;  // (an index list: int64, twice a float row's bytes)
  float* writes[1] = {grad.data};
  const std::string shape = std::to_string(rows) + "x" + std::to_string(classes);
  const double target_bytes = sparse ? 8.0 * double(rows) : (lists ? 8.0 : 4.0) * double(n);
  auto check = [&](const fastloss::LossResult& r) {
    if (r.bad_index >= 0) {
      std::fprintf(stderr, "%s: bad label at row %lld\n", info.name, (long long)r.bad_index);
      std::exit(1);
    }
    return r.value;
  };
  auto fwd = interleaved([&] { g_sink = check(fastloss::run(req)); },
                         [&] { g_sink = fastloss::runtime::stream_f32(reads, n_reads, nullptr, 0, n); },
                         repeats);
  report(info.name, "forward", shape, 4.0 * double(n) + target_bytes, fwd);
  fastloss::LossRequest fused = req;
  fused.grads[0] = &gv;
  auto fu = interleaved([&] { g_sink = check(fastloss::run(fused)); },
                        [&] { g_sink = fastloss::runtime::stream_f32(reads, n_reads, writes, 1, n); },
                        repeats);
  report(info.name, "fused", shape, 8.0 * double(n) + target_bytes, fu);
}

}  // namespace

int main(int argc, char** argv) {
  int repeats = 9, threads = 0;
  bool quick = false, rows_only = false;
  int64_t only_classes = 0;  // --classes C: every row kernel at C classes only
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--repeats" && i + 1 < argc) {
      repeats = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--threads" && i + 1 < argc) {
      threads = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--quick") {
      quick = true;
    } else if (a == "--rows-only") {
      rows_only = true;
    } else if (a == "--classes" && i + 1 < argc) {
      rows_only = true;
      only_classes = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: %s [--repeats N] [--threads N] [--quick] [--rows-only] [--classes C]\n", argv[0]);
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
  // Set before any kernel runs (the pool is only resized while idle and unused).
  if (threads > 0) fastloss::runtime::set_num_threads(threads);

  const int64_t n = quick ? (int64_t(1) << 16) : (int64_t(1) << 24);
  std::printf("fastloss native benchmark: ISA %s, %d threads, median of %d runs "
              "(outputs reused: no page faults)\n",
              fastloss::runtime::active_isa(), fastloss::runtime::num_threads(), repeats);
  std::printf("%-34s %-8s %-12s %9s %9s %8s %9s %8s\n", "loss", "pass", "shape", "MB",
              "ms", "GB/s", "roof GB/s", "fraction");
  using fastloss::Kernel;
  if (!rows_only) {
    bench_pointwise(Kernel::mse, 0.0, false, n, repeats);
    bench_pointwise(Kernel::huber, 1.0, false, n, repeats);
    bench_pointwise(Kernel::binary_cross_entropy_with_logits, 0.0, true, n, repeats);
    bench_pointwise(Kernel::log_cosh, 0.0, false, n, repeats);
    bench_pointwise(Kernel::sigmoid_focal, 0.25, true, n, repeats, 2.0);  // alpha, gamma
  }
  // Every row kernel at one long-row shape, then cross-entropy over a sweep of row lengths at
  // the same number of logits (few classes: the per-row cost; many: the per-logit cost).
  const int64_t long_classes = quick ? 1000 : 32000;
  const int64_t classes = only_classes > 0 ? only_classes : long_classes;
  for (int k = 0; k < fastloss::kNumKernels; ++k) {
    const Kernel kernel = Kernel(k);
    if (fastloss::kernel_info(kernel).family != fastloss::Family::row) continue;
    bench_rows(kernel, n / classes, classes, repeats);
  }
  if (only_classes > 0) return 0;
  for (int64_t classes : {2, 10, 100, 1000})
    bench_rows(Kernel::cross_entropy_sparse, n / classes, classes, repeats);
  return 0;
}
