// The in-batch drivers' table of per-ISA phases (cpu/batch_table.h), compiled once per ISA like
// the phases themselves (info_nce_kernels.cc, center_kernels.cc).
#include "cpu/kernels.h"
#include "fastloss/config.h"

FL_ISA_NAMESPACE_BEGIN
// Defined, for float and double, in this ISA's info_nce_kernels.cc and center_kernels.cc.
template <class T>
cpu::InfoNcePhases<T> info_nce_phases();
template <class T>
cpu::CenterPhases<T> center_phases();
FL_ISA_NAMESPACE_END

#define FL_CAT_(a, b) a##b
#define FL_CAT(a, b) FL_CAT_(a, b)

namespace fastloss::cpu {

const BatchTable& FL_CAT(batch_table_, FL_ISA)() {
  using namespace ::fastloss::FL_ISA;
  static const BatchTable table = {info_nce_phases<float>(), info_nce_phases<double>(),
                                   center_phases<float>(), center_phases<double>()};
  return table;
}

}  // namespace fastloss::cpu
