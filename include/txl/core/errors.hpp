#pragma once
/// @file core/errors.hpp
/// # Errors
///
/// User input (token ids, lengths, memories, checkpoint files) is checked at runtime and a
/// failed check throws one of these. Each message names the value, what was expected and
/// where. Internal invariants that no input can break are not checked at runtime.

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace txl {

/// Base of every error txl throws on bad input.
struct error : std::runtime_error {
    using std::runtime_error::runtime_error;
};
/// A length, shape or id that does not fit the model (`T = 0`, a token id outside the
/// vocabulary, a memory of the wrong batch or width, `M + T > P`, ...).
struct shape_error : error {
    using error::error;
};
/// A checkpoint that cannot be read: missing file, wrong shape, dtype or name, truncated.
struct checkpoint_error : error {
    using error::error;
};
/// Long work (reading a large text) given up because its `stop` callback asked for it
/// (Ctrl-C): not bad input, so a program may tell it apart.
struct interrupted : error {
    using error::error;
};

namespace detail {
template <class... A>
std::string concat(A&&... a) {
    std::ostringstream s;
    (s << ... << std::forward<A>(a));
    return s.str();
}
}  // namespace detail

/// `check<E>(cond, "where: ", value, " expected ", ...)` throws `E` with the pieces joined.
template <class E = shape_error, class... A>
inline void check(bool ok, A&&... message) {
    if (!ok) throw E(detail::concat(std::forward<A>(message)...));
}

}  // namespace txl
