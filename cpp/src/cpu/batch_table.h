// The per-ISA phases of the in-batch drivers (losses.def's FL_BATCH lines), one table per
// compiled ISA (cpu/batch_kernels.cc), chosen at run time with the other kernel tables.
#pragma once

#include "cpu/center.h"
#include "cpu/info_nce.h"

namespace fastloss::cpu {

struct BatchTable {
  InfoNcePhases<float> info_nce_f32;
  InfoNcePhases<double> info_nce_f64;
  CenterPhases<float> center_f32;
  CenterPhases<double> center_f64;
};

}  // namespace fastloss::cpu
