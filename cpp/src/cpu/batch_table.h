// The per-ISA phases of the in-batch drivers (losses.def's FL_BATCH lines), one table per
// compiled ISA (cpu/batch_kernels.cc), chosen at run time with the other kernel tables.
#pragma once

#include <type_traits>

#include "cpu/center.h"
#include "cpu/info_nce.h"

namespace fastloss::cpu {

struct BatchTable {
  InfoNcePhases<float> info_nce_f32;
  InfoNcePhases<double> info_nce_f64;
  CenterPhases<float> center_f32;
  CenterPhases<double> center_f64;
};

// The phases of a driver's T: the float32 or the float64 member of a pair.
template <class T, class Phases32, class Phases64>
constexpr const auto& of_dtype(const Phases32& f32, const Phases64& f64) {
  if constexpr (std::is_same_v<T, float>) return f32;
  else return f64;
}

}  // namespace fastloss::cpu
