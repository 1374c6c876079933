// The CUDA backend's table (see cpp/src/backend.h), for cuda/module.cpp.
#pragma once

#include "backend.h"

namespace fastloss::cuda {

const DeviceBackend& backend();

}  // namespace fastloss::cuda
