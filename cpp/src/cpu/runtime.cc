// runtime.h over the CPU backend's thread pool, ISA selection, stream and math tables.
#include "runtime.h"

#include <cstring>

#include "cpu/kernels.h"
#include "cpu/parallel.h"
#include "cpu/stream.h"

namespace fastloss::runtime {

int num_threads() { return cpu::num_threads(); }
void set_num_threads(int n) { cpu::set_num_threads(n); }

const char* active_isa() { return cpu::active_kernels().name; }
const char* const* compiled_isas(int* count) { return cpu::compiled_isas(count); }
bool isa_supported(const char* name) { return cpu::isa_supported(name); }
bool select_isa(const char* name) { return cpu::select_isa(name); }
const char* isa_override_problem() { return cpu::isa_override_problem(); }

double stream_f32(const float* const* reads, int n_reads, float* const* writes, int n_writes,
                  int64_t n) {
  return cpu::stream_f32(reads, n_reads, writes, n_writes, n);
}

bool math_probe(const char* fn, DType dtype, const void* x, void* y, int64_t n) {
  static const char* const names[cpu::kNumMathFns] = {"exp", "expm1", "log", "log1p"};
  int k = -1;
  for (int i = 0; i < cpu::kNumMathFns; ++i)
    if (std::strcmp(fn, names[i]) == 0) k = i;
  if (k < 0) return false;
  const cpu::ElementwiseTable& t = *cpu::active_kernels().elementwise;
  if (dtype == DType::f32)
    t.math_f32[k](static_cast<const float*>(x), static_cast<float*>(y), n);
  else
    t.math_f64[k](static_cast<const double*>(x), static_cast<double*>(y), n);
  return true;
}

}  // namespace fastloss::runtime
