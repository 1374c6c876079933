// The CUDA drivers' entry points, called by backend.cc for a request ops.cc has checked.
#pragma once

#include "device_memory.h"
#include "ops.h"

namespace fastloss::cuda {

Status pointwise(const LossRequest& req, LossResult* result);

}  // namespace fastloss::cuda
