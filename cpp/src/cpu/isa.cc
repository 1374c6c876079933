// Chooses which compiled ISA variant the drivers call: the best one the running CPU supports, or
// the one named by FASTLOSS_ISA (or select_isa), so tests can run every variant on one machine.
#include <atomic>
#include <cstdlib>
#include <cctype>
#include <cstring>
#include <string>

#include "cpu/kernels.h"

namespace fastloss::cpu {
namespace {

struct Variant {
  const char* name;
  const ElementwiseTable& (*elementwise)();
  const RowTable& (*rows)();
  const EmbeddingTable& (*embedding)();
  const BatchTable& (*batch)();
};

// Worst to best.
const Variant kVariants[] = {
#ifdef FL_HAVE_ISA_baseline
    {"baseline", elementwise_table_baseline, row_table_baseline, embedding_table_baseline,
     batch_table_baseline},
#endif
#ifdef FL_HAVE_ISA_avx2
    {"avx2", elementwise_table_avx2, row_table_avx2, embedding_table_avx2,
     batch_table_avx2},
#endif
#ifdef FL_HAVE_ISA_avx512
    {"avx512", elementwise_table_avx512, row_table_avx512, embedding_table_avx512,
     batch_table_avx512},
#endif
};
constexpr int kNumVariants = sizeof(kVariants) / sizeof(kVariants[0]);

bool cpu_supports(const char* name) {
  if (std::strcmp(name, "baseline") == 0) return true;
#if defined(__x86_64__) || defined(_M_X64)
  __builtin_cpu_init();
  if (std::strcmp(name, "avx2") == 0)
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (std::strcmp(name, "avx512") == 0)
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("fma");
#endif
  return false;
}

IsaKernels make(const Variant& v) {
  return {v.name, &v.elementwise(), &v.rows(), &v.embedding(), &v.batch()};
}

std::string g_override_problem;  // why FASTLOSS_ISA was not followed, or empty

// FASTLOSS_ISA (any case) names the variant to use; one that is unknown, not compiled or not
// supported by this CPU gives the best supported variant instead, and the reason is kept for
// fastloss to warn about at import.
IsaKernels initial_choice() {
  const char* env = std::getenv("FASTLOSS_ISA");
  std::string forced = env ? env : "";
  for (char& c : forced) c = char(std::tolower(static_cast<unsigned char>(c)));
  int best = 0;
  for (int i = kNumVariants - 1; i >= 0; --i)
    if (cpu_supports(kVariants[i].name)) {
      best = i;
      break;
    }
  if (forced.empty()) return make(kVariants[best]);
  for (int i = 0; i < kNumVariants; ++i) {
    if (forced != kVariants[i].name) continue;
    if (cpu_supports(kVariants[i].name)) return make(kVariants[i]);
    g_override_problem = "FASTLOSS_ISA=" + std::string(env) + ": this CPU does not support it";
    return make(kVariants[best]);
  }
  g_override_problem = "FASTLOSS_ISA=" + std::string(env) + ": not a variant of this build";
  return make(kVariants[best]);
}

IsaKernels& current() {
  static IsaKernels chosen = initial_choice();
  return chosen;
}

}  // namespace

const IsaKernels& active_kernels() { return current(); }

const char* isa_override_problem() {
  current();  // the choice is made (and the problem found) on first use
  return g_override_problem.c_str();
}

const char* const* compiled_isas(int* count) {
  static const char* names[kNumVariants > 0 ? kNumVariants : 1];
  for (int i = 0; i < kNumVariants; ++i) names[i] = kVariants[i].name;
  *count = kNumVariants;
  return names;
}

bool isa_supported(const char* name) {
  for (const Variant& v : kVariants)
    if (std::strcmp(v.name, name) == 0) return cpu_supports(name);
  return false;
}

bool select_isa(const char* name) {
  for (const Variant& v : kVariants) {
    if (std::strcmp(v.name, name) == 0 && cpu_supports(name)) {
      current() = make(v);
      return true;
    }
  }
  return false;
}

}  // namespace fastloss::cpu
