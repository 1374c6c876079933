// The CPU backend of ops.cc: one driver per kernel family.
#pragma once

#include "ops.h"

namespace fastloss::cpu {

LossResult pointwise(const LossRequest& req);
LossResult rows(const LossRequest& req);

}  // namespace fastloss::cpu
