// The in-batch losses' entry: each FL_BATCH line of losses.def names its own driver.
#include "backend.h"

namespace fastloss::cpu {

LossResult batch(const LossRequest& req) {
  using Driver = LossResult (*)(const LossRequest&);
  static constexpr Driver kDrivers[kNumKernels] = {
#define FL_POINTWISE(...) nullptr,
#define FL_ROW(...) nullptr,
#define FL_EMBEDDING(...) nullptr,
#define FL_BATCH(name, driver, ...) &driver,
#include "fastloss/losses.def"
  };
  return kDrivers[int(req.kernel)](req);
}

}  // namespace fastloss::cpu
