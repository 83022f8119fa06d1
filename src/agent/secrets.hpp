// Secret lookup at run time: the environment first (NAME, then
// FERRY__CONTEXT__SECRETS__NAME), then the secret store ($FERRY_HOME/secrets.json, see
// secrets/secret_store.hpp). Values never reach the backend: every value resolved for a run
// is registered for masking (core/masking.hpp).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ferry/codec.hpp"

namespace ferry::agent {

// The raw value of a secret: environment NAME, then FERRY__CONTEXT__SECRETS__NAME, then the
// store; nullopt if none has it. Throws ValueError if the store exists but is unsafe
// (readable by others) or invalid. Registers nothing for masking.
std::optional<std::string> find_secret(const std::string& name);

// A raw secret value as the reference reads it: JSON when it parses as JSON ("123" -> 123,
// "{...}" -> an object, "\"x\"" -> "x"), else the string itself.
Value secret_value_from_raw(const std::string& raw);

// find_secret, typed as above.
std::optional<Value> find_secret_value(const std::string& name);

// Resolves every name (raw strings, for the run's context) and registers each value, and the
// string parts of JSON values, for masking. A missing one throws ValueError naming it and
// saying how to set it (never a value).
std::map<std::string, std::string> resolve_secrets(const std::vector<std::string>& names);

// Best effort, for commands that print what runs stored: registers for masking every value
// in the store and in FERRY__CONTEXT__SECRETS__* variables. Never throws.
void register_known_secrets() noexcept;

}  // namespace ferry::agent
