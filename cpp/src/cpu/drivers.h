// The CPU backend of ops.cc.
#pragma once

#include "ops.h"

namespace fastloss::cpu {

PointwiseResult pointwise(const PointwiseRequest& req);
RowResult rows(const RowRequest& req);

}  // namespace fastloss::cpu
