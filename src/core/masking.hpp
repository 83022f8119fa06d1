// Masking of secret values: a process-wide registry of the values resolved for a run, and
// the functions that replace them by "****" in text (log lines, error messages, state
// messages) and in JSON values (--json outputs, results sent to the backend).
//
// Cheap when no secret is registered: one atomic load, no lock, no copy beyond the result.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "ferry/codec.hpp"

namespace ferry::detail {

// What a masked value is replaced by.
inline constexpr std::string_view kSecretMask = "****";

// Values shorter than this are not registered: masking "1" or "yes" would garble every log
// line that contains that text, and such short values are guessable anyway.
inline constexpr std::size_t kMinMaskedLength = 4;

// Registers a value to be masked from now on in this process (ignored when shorter than
// kMinMaskedLength; registering a value twice is harmless).
void register_secret_value(std::string value);

// Registers `raw` and, when it parses as JSON, every string leaf of it (so the fields of an
// AWS_CREDENTIALS-style object are masked on their own too).
void register_secret_value_and_parts(const std::string& raw);

// Whether any value is registered (an atomic flag: the fast path of every function below).
bool has_secret_values();

// `text` with every registered value replaced by "****" (longest values first).
std::string mask_secrets(std::string_view text);

// The same, in place; a no-op when nothing is registered.
void mask_secrets_in(std::string& text);

// A copy of `value` whose strings (object keys included) are masked.
Value mask_secrets_json(const Value& value);

// Empties the registry (tests only: a real process never forgets a secret).
void clear_secret_values_for_testing();

}  // namespace ferry::detail
