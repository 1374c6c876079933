// The kernel ids and the facts every layer needs about them, expanded from losses.def. No
// backend code here: ops.cc, the bindings, the CPU tables and cuda/ all read this one list.
#pragma once

#include <cstdint>

namespace fastloss {

// Each fact is an enum whose values are also its names (the bindings' kernels() reports them):
// FL_FACT(Type, values...) defines `enum class Type` and `const char* fact_name(Type)`.
#define FL_FACT_NAME_(value) #value,
#define FL_FACT_VALUE_(value) value,
#define FL_FACT(Type, LIST)                                                  \
  enum class Type : int8_t { LIST(FL_FACT_VALUE_) };                         \
  inline const char* fact_name(Type v) {                                     \
    static const char* const names[] = {LIST(FL_FACT_NAME_)};                \
    return names[static_cast<int>(v)];                                       \
  }

#define FL_FAMILIES(X) X(pointwise) X(row) X(embedding) X(batch)
// What a kernel's second input holds (see losses.def).
#define FL_TARGET_KINDS(X) \
  X(difference) X(soft) X(label) X(sparse) X(dense) X(differentiable) X(index_list) X(logits) X(embedding) \
  X(relevance) X(relevance_order) X(sparse_cost) X(centers)
#define FL_AUX_KINDS(X) X(none) X(per_element) X(per_class) X(differentiable)
#define FL_CLASS_WEIGHTS(X) X(none) X(in_row) X(in_row_and_mean) X(factor)
// An embedding kernel's per-row label (input `inputs`): none, or one real value per row.
#define FL_ROW_LABELS(X) X(none) X(row)

FL_FACT(Family, FL_FAMILIES)
FL_FACT(TargetKind, FL_TARGET_KINDS)
FL_FACT(AuxKind, FL_AUX_KINDS)
FL_FACT(ClassWeight, FL_CLASS_WEIGHTS)
FL_FACT(RowLabel, FL_ROW_LABELS)

enum class Kernel : int {
#define FL_POINTWISE(name, Functor, target, aux) name,
#define FL_ROW(name, stem, Functor, target, class_weight, label_aux) name,
#define FL_EMBEDDING(name, Functor, inputs, label) name,
#define FL_BATCH(name, driver, inputs, target) name,
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
  // Embedding and batch kernels: the number of differentiable arrays (2 or 3); embedding
  // kernels also their per-row label.
  int8_t embedding_inputs = 0;
  RowLabel row_label = RowLabel::none;

  // The target gets a gradient from the same pass: d/dy = -d/dx (difference), the functor's
  // own d/dy (differentiable), the row functor's second gradient row for a second logits
  // array (logits), or an embedding functor's gradient row of its second input (embedding).
  constexpr bool target_differentiable() const {
    return target == TargetKind::difference || target == TargetKind::differentiable ||
           target == TargetKind::logits || target == TargetKind::embedding;
  }
  // A pointwise kernel that reads a per-element operand (aux 0, required).
  constexpr bool has_operand() const {
    return family == Family::pointwise &&
           (aux == AuxKind::per_element || aux == AuxKind::differentiable);
  }
  // The per-element operand (pointwise aux 0) gets the functor's gradient, into grads[2].
  constexpr bool operand_differentiable() const { return aux == AuxKind::differentiable; }
  // The functor writes gradients besides d/dx (kOperandGrads, losses.def).
  constexpr bool functor_grads() const {
    return target == TargetKind::differentiable || aux == AuxKind::differentiable;
  }
  // A row kernel's target has one entry per logit (x's shape, the class axis moved with x's):
  // probabilities, a list of class indices, a second logits array, or relevance labels.
  constexpr bool target_per_class() const {
    return target == TargetKind::dense || target == TargetKind::index_list ||
           target == TargetKind::logits || ranks_lists();
  }
  // A listwise ranking kernel: relevance labels of x's shape, an optional mask as input 2, each
  // row compacted to its valid items by the driver (losses.def).
  constexpr bool ranks_lists() const {
    return target == TargetKind::relevance || target == TargetKind::relevance_order;
  }
};

inline constexpr KernelInfo kKernels[kNumKernels] = {
#define FL_POINTWISE(name, Functor, target, aux)                                               \
  {#name, #name, Family::pointwise, TargetKind::target, AuxKind::aux, ClassWeight::none},
#define FL_ROW(name, stem, Functor, target, class_weight, label_aux)                           \
  {#name, #stem, Family::row, TargetKind::target, AuxKind::label_aux, ClassWeight::class_weight},
#define FL_EMBEDDING(name, Functor, inputs, label)                                              \
  {#name, #name, Family::embedding, TargetKind::embedding, AuxKind::none, ClassWeight::none,     \
   inputs, RowLabel::label},
#define FL_BATCH(name, driver, inputs, target)                                                  \
  {#name, #name, Family::batch, TargetKind::target, AuxKind::none, ClassWeight::none, inputs,    \
   RowLabel::none},
#include "fastloss/losses.def"
};

constexpr const KernelInfo& kernel_info(Kernel k) { return kKernels[static_cast<int>(k)]; }

}  // namespace fastloss
