// Errors raised by the native layer. Messages start with "[fastloss.<function>]" and name the
// argument and the offending value; the bindings translate them into Python exceptions.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace fastloss {

// Becomes ValueError in Python.
class ValueError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// Becomes TypeError in Python.
class TypeError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

namespace detail {
template <class... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}
}  // namespace detail

}  // namespace fastloss

// FL_CHECK(cond, "huber", "delta must be > 0, got ", delta)
#define FL_CHECK(cond, fn, ...)                                                            \
  do {                                                                                     \
    if (!(cond))                                                                           \
      throw ::fastloss::ValueError(::fastloss::detail::concat("[fastloss.", fn, "] ", __VA_ARGS__)); \
  } while (0)

#define FL_CHECK_TYPE(cond, fn, ...)                                                       \
  do {                                                                                     \
    if (!(cond))                                                                           \
      throw ::fastloss::TypeError(::fastloss::detail::concat("[fastloss.", fn, "] ", __VA_ARGS__)); \
  } while (0)
