// fastloss_gpu_check: the CUDA pointwise driver verified and timed on a real device, with no
// Python (a GPU machine may have none of fastloss's Python dependencies). Built with
// -DFASTLOSS_BUILD_GPU_CHECK=ON; bench/gpu_check.sh builds and runs it.
//
// For every pointwise kernel the driver runs, in float32 and float64, for reductions none, mean
// and sum, at sizes below, at and across the driver's tile: the same request on the host (the
// CPU driver) and on the device, through fastloss::run (ops.cc's checks, the backend table).
// Checked: element-wise losses and gradients within kMaxUlps of the host's (the same functors;
// -fmad=false on the device, -ffp-contract=off on the host), the reduced value within a relative
// 1e-6 (float32) or 1e-12 (float64) (a different, fixed summation order), the first invalid
// element the same, and two device runs bit for bit equal. A strided case (a transposed input and
// a broadcast weight) too. Then the time of a fused forward + backward at 2^26 elements against
// the device's own copy bandwidth, measured in the same run. Exit status 1 on any failure.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "backend.h"
#include "cuda_backend.h"
#include "fastloss/kernels.h"
#include "ops.h"

using namespace fastloss;

namespace {

constexpr int64_t kMaxUlps = 4;
int g_failures = 0;

void check_cuda(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "CUDA error in %s: %s\n", what, cudaGetErrorString(e));
    std::exit(2);
  }
}

void fail(const std::string& what) {
  std::printf("FAIL %s\n", what.c_str());
  ++g_failures;
}

// Hyper-parameters of the kernels that take some (each functor's header documents them).
std::vector<double> params_of(const std::string& kernel) {
  if (kernel == "huber" || kernel == "smooth_l1") return {1.0};
  if (kernel == "sigmoid_focal") return {0.25, 1.5};  // a non-integer gamma: the general power
  return {};
}

struct HostArray {
  DType dtype;
  std::vector<unsigned char> bytes;
  HostArray(DType t, int64_t n) : dtype(t), bytes(size_t(n * dtype_size(t))) {}
  void set(int64_t i, double v) {
    if (dtype == DType::f32) reinterpret_cast<float*>(bytes.data())[i] = float(v);
    else reinterpret_cast<double*>(bytes.data())[i] = v;
  }
  double get(int64_t i) const {
    return dtype == DType::f32 ? double(reinterpret_cast<const float*>(bytes.data())[i])
                               : reinterpret_cast<const double*>(bytes.data())[i];
  }
};

struct DeviceArray {
  void* data = nullptr;
  size_t size = 0;
  explicit DeviceArray(const HostArray& h) : size(h.bytes.size()) {
    check_cuda(cudaMalloc(&data, std::max<size_t>(size, 1)), "cudaMalloc");
    check_cuda(cudaMemcpy(data, h.bytes.data(), size, cudaMemcpyHostToDevice), "to device");
  }
  explicit DeviceArray(size_t bytes) : size(bytes) {
    check_cuda(cudaMalloc(&data, std::max<size_t>(size, 1)), "cudaMalloc");
  }
  ~DeviceArray() { cudaFree(data); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  HostArray to_host(DType t) const {
    HostArray h(t, int64_t(size / size_t(dtype_size(t))));
    check_cuda(cudaMemcpy(h.bytes.data(), data, size, cudaMemcpyDeviceToHost), "to host");
    return h;
  }
};

View view(void* data, DType t, std::vector<int64_t> shape, std::vector<int64_t> strides,
          bool on_device) {
  View v;
  v.data = data;
  v.dtype = t;
  v.device.kind = on_device ? DeviceKind::cuda : DeviceKind::cpu;
  v.ndim = int(shape.size());
  for (int d = 0; d < v.ndim; ++d) {
    v.shape[d] = shape[d];
    v.strides[d] = strides[d];
  }
  return v;
}

int64_t ulps(double a, double b, DType t) {
  if (std::isnan(a) && std::isnan(b)) return 0;
  if (a == b) return 0;
  if (std::isnan(a) || std::isnan(b) || std::isinf(a) || std::isinf(b)) return INT64_MAX;
  auto ordered = [](int64_t bits, int64_t sign_bit) { return bits < 0 ? sign_bit - bits : bits; };
  if (t == DType::f32) {
    const float fa = float(a), fb = float(b);
    int32_t ia, ib;
    std::memcpy(&ia, &fa, 4);
    std::memcpy(&ib, &fb, 4);
    return std::llabs(ordered(ia, INT32_MIN) - ordered(ib, INT32_MIN));
  }
  int64_t ia, ib;
  std::memcpy(&ia, &a, 8);
  std::memcpy(&ib, &b, 8);
  return std::llabs(ordered(ia, INT64_MIN) - ordered(ib, INT64_MIN));
}

// Inputs inside every pointwise loss's domain: probabilities in (0.02, 0.98) serve as
// predictions of the soft-target losses, labels are -1 / +1, tau 0.3, pos_weight 1.7.
struct Inputs {
  HostArray x, y, aux, upstream;
  Inputs(const KernelInfo& info, DType t, int64_t n, std::mt19937_64& rng)
      : x(t, n), y(t, n), aux(t, n), upstream(t, n) {
    std::uniform_real_distribution<double> unit(0.02, 0.98), wide(-3.0, 3.0), up(-1.5, 1.5);
    for (int64_t i = 0; i < n; ++i) {
      const bool soft = info.target == TargetKind::soft, label = info.target == TargetKind::label;
      x.set(i, soft ? unit(rng) : wide(rng));
      y.set(i, label ? (rng() & 1 ? 1.0 : -1.0) : soft ? double(rng() & 1) : wide(rng));
      aux.set(i, std::string(info.name) == "quantile" ? 0.3 : 1.7);
      upstream.set(i, up(rng));
    }
  }
};

// One request on the host and twice on the device; compares them.
void check_case(int k, DType t, int64_t n, Reduction reduction, std::mt19937_64& rng) {
  const KernelInfo& info = kKernels[k];
  Inputs in(info, t, n, rng);
  const std::vector<double> params = params_of(info.name);
  const int64_t item = dtype_size(t);
  const std::string label = std::string(info.name) + " " + dtype_name(t) + " n=" +
                            std::to_string(n) + " " +
                            (reduction == Reduction::none ? "none" :
                             reduction == Reduction::mean ? "mean" : "sum");
  const bool has_aux = info.has_operand();
  const bool none = reduction == Reduction::none;

  auto request = [&](const View* xs, View* loss, View* grad, View* grad_y) {
    LossRequest r;
    r.name = info.stem;
    r.kernel = Kernel(k);
    r.inputs[0] = &xs[0];
    r.inputs[1] = &xs[1];
    if (has_aux) r.aux[0] = &xs[2];
    if (none) r.upstream = &xs[3];
    r.upstream_scalar = 0.75;
    r.reduction = reduction;
    r.loss_out = none ? loss : nullptr;
    r.grads[0] = grad;
    r.grads[1] = info.target == TargetKind::difference ? grad_y : nullptr;
    for (size_t i = 0; i < params.size(); ++i) r.params[i] = params[i];
    return r;
  };

  // Host.
  HostArray h_loss(t, n), h_grad(t, n), h_grad_y(t, n);
  View hx[4] = {view(in.x.bytes.data(), t, {n}, {item}, false),
                view(in.y.bytes.data(), t, {n}, {item}, false),
                view(in.aux.bytes.data(), t, {n}, {item}, false),
                view(in.upstream.bytes.data(), t, {n}, {item}, false)};
  View hl = view(h_loss.bytes.data(), t, {n}, {item}, false);
  View hg = view(h_grad.bytes.data(), t, {n}, {item}, false);
  View hgy = view(h_grad_y.bytes.data(), t, {n}, {item}, false);
  const LossResult host = run(request(hx, &hl, &hg, &hgy));

  // Device, twice.
  DeviceArray dx(in.x), dy(in.y), daux(in.aux), dup(in.upstream);
  View dv[4] = {view(dx.data, t, {n}, {item}, true), view(dy.data, t, {n}, {item}, true),
                view(daux.data, t, {n}, {item}, true), view(dup.data, t, {n}, {item}, true)};
  LossResult dev[2];
  HostArray* outs[2][3] = {};
  std::vector<HostArray> kept;
  kept.reserve(6);
  for (int rep = 0; rep < 2; ++rep) {
    DeviceArray dl(size_t(n * item)), dg(size_t(n * item)), dgy(size_t(n * item));
    View l = view(dl.data, t, {n}, {item}, true), g = view(dg.data, t, {n}, {item}, true),
         gy = view(dgy.data, t, {n}, {item}, true);
    try {
      dev[rep] = run(request(dv, &l, &g, &gy));
    } catch (const std::exception& e) {
      fail(label + ": " + e.what());
      return;
    }
    check_cuda(cudaDeviceSynchronize(), "after the loss");
    kept.push_back(dl.to_host(t));
    kept.push_back(dg.to_host(t));
    kept.push_back(dgy.to_host(t));
    outs[rep][0] = &kept[kept.size() - 3];
    outs[rep][1] = &kept[kept.size() - 2];
    outs[rep][2] = &kept[kept.size() - 1];
  }

  if (dev[0].bad_index != host.bad_index)
    fail(label + ": first invalid element " + std::to_string(dev[0].bad_index) + ", host " +
         std::to_string(host.bad_index));
  if (!none) {
    const double tol = t == DType::f32 ? 1e-6 : 1e-12;
    const double err = std::fabs(dev[0].value - host.value);
    if (!(err <= tol * std::fabs(host.value)) && !(std::isnan(dev[0].value) && std::isnan(host.value)))
      fail(label + ": reduced " + std::to_string(dev[0].value) + ", host " +
           std::to_string(host.value));
    if (std::memcmp(&dev[0].value, &dev[1].value, sizeof(double)) != 0)
      fail(label + ": two device runs differ in the reduced value");
  }
  const HostArray* host_outs[3] = {&h_loss, &h_grad, &h_grad_y};
  const char* names[3] = {"loss", "gradient", "target gradient"};
  for (int o = 0; o < 3; ++o) {
    if (o == 0 && !none) continue;
    if (o == 2 && info.target != TargetKind::difference) continue;
    int64_t worst = 0, where = -1;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t u = ulps(outs[0][o]->get(i), host_outs[o]->get(i), t);
      if (u > worst) worst = u, where = i;
    }
    if (worst > kMaxUlps)
      fail(label + ": " + names[o] + " " + std::to_string(worst) + " ulps from the host's at " +
           std::to_string(where) + " (" + std::to_string(outs[0][o]->get(where)) + " vs " +
           std::to_string(host_outs[o]->get(where)) + ")");
    if (outs[0][o]->bytes != outs[1][o]->bytes)
      fail(label + ": two device runs differ in the " + names[o]);
  }
}

// A transposed input (rows x cols viewed column-major) and a weight broadcast along the rows.
void check_strided(int k, std::mt19937_64& rng) {
  const KernelInfo& info = kKernels[k];
  const int64_t rows = 300, cols = 70, n = rows * cols, item = 4;
  Inputs in(info, DType::f32, n, rng);
  HostArray w(DType::f32, cols);
  for (int64_t j = 0; j < cols; ++j) w.set(j, 0.5 + 0.02 * double(j));
  const std::vector<double> params = params_of(info.name);
  double weight_total = 0.0;
  for (int64_t j = 0; j < cols; ++j) weight_total += w.get(j) * double(rows);
  auto run_on = [&](void* const* data, void* grad, bool device) {
    // Element (i, j) of each input at i * item + j * rows * item: the transpose of a (cols,
    // rows) array; the weight (cols,) broadcast over i.
    View v[4];
    for (int a = 0; a < 3; ++a) v[a] = view(data[a], DType::f32, {rows, cols}, {item, rows * item}, device);
    v[3] = view(data[3], DType::f32, {rows, cols}, {0, item}, device);
    View g = view(grad, DType::f32, {rows, cols}, {cols * item, item}, device);
    LossRequest r;
    r.name = info.stem;
    r.kernel = Kernel(k);
    r.inputs[0] = &v[0];
    r.inputs[1] = &v[1];
    if (info.has_operand()) r.aux[0] = &v[2];
    r.weight = &v[3];
    r.weight_total = weight_total;
    r.reduction = Reduction::mean;
    r.grads[0] = &g;
    for (size_t i = 0; i < params.size(); ++i) r.params[i] = params[i];
    return run(r);
  };
  HostArray h_grad(DType::f32, n);
  void* host_data[4] = {in.x.bytes.data(), in.y.bytes.data(), in.aux.bytes.data(), w.bytes.data()};
  const LossResult host = run_on(host_data, h_grad.bytes.data(), false);
  DeviceArray dx(in.x), dy(in.y), daux(in.aux), dw(w), dg(size_t(n * item));
  void* dev_data[4] = {dx.data, dy.data, daux.data, dw.data};
  LossResult dev;
  try {
    dev = run_on(dev_data, dg.data, true);
  } catch (const std::exception& e) {
    fail(std::string(info.name) + " strided: " + e.what());
    return;
  }
  const HostArray d_grad = dg.to_host(DType::f32);
  int64_t worst = 0;
  for (int64_t i = 0; i < n; ++i) worst = std::max(worst, ulps(d_grad.get(i), h_grad.get(i), DType::f32));
  if (worst > kMaxUlps) fail(std::string(info.name) + " strided: gradient " + std::to_string(worst) + " ulps off");
  if (!(std::fabs(dev.value - host.value) <= 1e-6 * std::fabs(host.value)))
    fail(std::string(info.name) + " strided: reduced value " + std::to_string(dev.value) +
         ", host " + std::to_string(host.value));
}

float median(std::vector<float> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The fused forward + backward (mean, float32) at 2^26 elements: x and y read, the gradient
// written (12 bytes an element), against a device-to-device copy of the same size (read + write).
void bandwidth(const char* name, double copy_gbs) {
  int k = -1;
  for (int i = 0; i < kNumKernels; ++i)
    if (std::strcmp(kKernels[i].name, name) == 0) k = i;
  const int64_t n = int64_t(1) << 26, item = 4;
  std::mt19937_64 rng(7);
  Inputs in(kKernels[k], DType::f32, n, rng);
  HostArray one(DType::f32, 1);
  one.set(0, 1.0);
  DeviceArray dx(in.x), dy(in.y), dg(size_t(n * item)), daux(one);
  View x = view(dx.data, DType::f32, {n}, {item}, true);
  View y = view(dy.data, DType::f32, {n}, {item}, true);
  View g = view(dg.data, DType::f32, {n}, {item}, true);
  View aux = view(daux.data, DType::f32, {n}, {0}, true);  // pos_weight 1, broadcast
  LossRequest r;
  r.name = kKernels[k].stem;
  r.kernel = Kernel(k);
  r.inputs[0] = &x;
  r.inputs[1] = &y;
  if (kKernels[k].has_operand()) r.aux[0] = &aux;
  r.grads[0] = &g;
  const std::vector<double> params = params_of(name);
  for (size_t i = 0; i < params.size(); ++i) r.params[i] = params[i];
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  std::vector<float> ms;
  for (int rep = 0; rep < 21; ++rep) {
    cudaEventRecord(start);
    run(r);  // (returns after reading the reduced value back: the time includes that wait)
    cudaEventRecord(stop);
    cudaEventSynchronize(stop);
    float t = 0;
    cudaEventElapsedTime(&t, start, stop);
    if (rep) ms.push_back(t);
  }
  const double gbs = 12.0 * double(n) / (median(ms) * 1e-3) / 1e9;
  std::printf("%-34s fwd+bwd 2^26 f32: %7.3f ms  %7.1f GB/s  %.2f of the copy bandwidth\n", name,
              median(ms), gbs, gbs / copy_gbs);
}

double copy_bandwidth() {
  const size_t bytes = size_t(1) << 30;
  DeviceArray a(bytes), b(bytes);
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  std::vector<float> ms;
  for (int rep = 0; rep < 11; ++rep) {
    cudaEventRecord(start);
    cudaMemcpy(b.data, a.data, bytes, cudaMemcpyDeviceToDevice);
    cudaEventRecord(stop);
    cudaEventSynchronize(stop);
    float t = 0;
    cudaEventElapsedTime(&t, start, stop);
    if (rep) ms.push_back(t);
  }
  return 2.0 * double(bytes) / (median(ms) * 1e-3) / 1e9;
}

}  // namespace

int main() {
  // The driver is off by default until verified on a device: this check is that verification.
  setenv("FASTLOSS_CUDA_UNVERIFIED", "1", 1);
  const char* why = nullptr;
  if (!register_backend(&cuda::backend(), &why)) {
    std::fprintf(stderr, "cannot register the CUDA backend: %s\n", why);
    return 2;
  }
  if (cuda::backend().device_count() == 0) {
    std::fprintf(stderr, "no CUDA device\n");
    return 2;
  }
  cudaDeviceProp prop;
  check_cuda(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
  std::printf("device: %s (sm_%d%d, %d SMs)\n", prop.name, prop.major, prop.minor,
              prop.multiProcessorCount);

  std::mt19937_64 rng(2026);
  int checked = 0;
  for (int k = 0; k < kNumKernels; ++k) {
    const bool runs = cuda::backend().has_kernel(k);
    if (kKernels[k].family == Family::pointwise && !runs)
      std::printf("skip %s (no CUDA kernel: its functor writes its own target gradients)\n",
                  kKernels[k].name);
    if (!runs) continue;
    for (DType t : {DType::f32, DType::f64})
      for (int64_t n : {int64_t(1), int64_t(7), int64_t(2048), int64_t(2049), int64_t(1) << 20 | 3})
        for (Reduction red : {Reduction::none, Reduction::mean, Reduction::sum}) {
          check_case(k, t, n, red, rng);
          ++checked;
        }
    check_strided(k, rng);
  }
  std::printf("%d cases checked, %d failures\n", checked, g_failures);

  const double copy = copy_bandwidth();
  std::printf("device-to-device copy: %.1f GB/s (read + write)\n", copy);
  for (const char* name : {"mse", "log_cosh", "binary_cross_entropy_with_logits", "sigmoid_focal"})
    bandwidth(name, copy);
  return g_failures ? 1 : 0;
}
