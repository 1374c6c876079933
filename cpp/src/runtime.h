// Device-neutral controls of the CPU runtime, for the bindings and the native benchmark (which
// never include a cpu/ header): threads, the instruction-set variant, the roofline stream and
// the probes of math.h's vectorised functions. Implemented in cpu/runtime.cc.
#pragma once

#include <cstdint>

#include "fastloss/tensor.h"

namespace fastloss::runtime {

int num_threads();
// n >= 1; takes effect for the next call.
void set_num_threads(int n);

const char* active_isa();
// Names of the ISA variants compiled into this build, best last.
const char* const* compiled_isas(int* count);
bool isa_supported(const char* name);
// false if `name` is not compiled or not supported by this CPU.
bool select_isa(const char* name);
// Why FASTLOSS_ISA could not be followed (the best supported variant runs instead), or "".
const char* isa_override_problem();

// The roofline: reads `n_reads` float32 arrays of n elements, writes their sum to each output
// (with none, returns the sum). Same blocking and threads as the loss kernels.
double stream_f32(const float* const* reads, int n_reads, float* const* writes, int n_writes,
                  int64_t n);

// Evaluates math.h's `fn` ("exp", "expm1", "log", "log1p") with the active ISA on n contiguous
// elements of `dtype` (float32 or float64); false for an unknown name.
bool math_probe(const char* fn, DType dtype, const void* x, void* y, int64_t n);

}  // namespace fastloss::runtime
