// The kernel ids and the facts every layer needs about them, expanded from losses.def. No
// backend code here: ops.cc, the bindings, the CPU tables and cuda/ all read this one list.
#pragma once

#include <cstdint>

namespace fastloss {

enum class Family : int8_t { pointwise, row };

// What a kernel's second input holds (see losses.def).
enum class TargetKind : int8_t { difference, soft, label, sparse, dense };

enum class AuxKind : int8_t { none, per_element, per_class };

enum class ClassWeight : int8_t { none, in_row, in_row_and_mean, factor };

enum class Kernel : int {
#define FL_POINTWISE(name, Functor, target, aux) name,
#define FL_ROW(name, stem, Functor, target, class_weight, label_aux) name,
#include "fastloss/losses.def"
  count
};
constexpr int kNumKernels = static_cast<int>(Kernel::count);

struct KernelInfo {
  const char* name;       // the kernel id as a string (the bindings' kernels() key)
  const char* stem;       // the public function and math header it belongs to
  Family family;
  TargetKind target;
  AuxKind aux;            // pointwise: the per-element operand; rows: the label's per-class value
  ClassWeight class_weight;

  // The target gets a gradient from the same pass (d/dy = -d/dx).
  constexpr bool target_differentiable() const { return target == TargetKind::difference; }
};

inline constexpr KernelInfo kKernels[kNumKernels] = {
#define FL_POINTWISE(name, Functor, target, aux)                                               \
  {#name, #name, Family::pointwise, TargetKind::target, AuxKind::aux, ClassWeight::none},
#define FL_ROW(name, stem, Functor, target, class_weight, label_aux)                           \
  {#name, #stem, Family::row, TargetKind::target, AuxKind::label_aux, ClassWeight::class_weight},
#include "fastloss/losses.def"
};

constexpr const KernelInfo& kernel_info(Kernel k) { return kKernels[static_cast<int>(k)]; }

}  // namespace fastloss
