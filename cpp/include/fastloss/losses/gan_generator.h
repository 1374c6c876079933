// gan_generator: the generator's term on the discriminator's outputs for fake samples, with the
// terms of losses/gan_discriminator.h: non-saturating logistic c = 1 (softplus(-x) = -log D),
// minimax negated logistic c = 0 (log(1 - D) = -softplus(x)), Wasserstein and hinge linear
// c = -1 (-x), least squares c = 1 ((x - 1)^2 / 2). A table entry of its own so that the kernel
// list names every public loss; the math is the discriminator's.
#pragma once
#include "fastloss/losses/gan_discriminator.h"

FL_ISA_NAMESPACE_BEGIN

template <class T>
struct GanGenerator : GanTerm<T> {
  FL_HOST_DEVICE explicit GanGenerator(const double* params) : GanTerm<T>(params) {}
};

FL_ISA_NAMESPACE_END
