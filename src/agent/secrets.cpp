#include "agent/secrets.hpp"

#include <cstdlib>
#include <cstring>

#include "backend/backend.hpp"
#include "core/masking.hpp"
#include "ferry/error.hpp"
#include "secrets/active_store.hpp"

extern char** environ;

namespace ferry::agent {

namespace {

constexpr const char* kScopedPrefix = "FERRY__CONTEXT__SECRETS__";

std::optional<std::string> from_environment(const std::string& name) {
  if (const char* v = std::getenv(name.c_str())) return std::string(v);
  std::string scoped = kScopedPrefix + name;
  if (const char* v = std::getenv(scoped.c_str())) return std::string(v);
  return std::nullopt;
}

}  // namespace

std::optional<std::string> find_secret(const std::string& name) {
  if (std::optional<std::string> v = from_environment(name)) return v;
  return secrets::open_active_store()->get(name);
}

Value secret_value_from_raw(const std::string& raw) {
  Value parsed = Value::parse(raw, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return Value(raw);
  return parsed;
}

std::optional<Value> find_secret_value(const std::string& name) {
  std::optional<std::string> raw = find_secret(name);
  if (!raw) return std::nullopt;
  return secret_value_from_raw(*raw);
}

std::map<std::string, std::string> resolve_secrets(const std::vector<std::string>& names) {
  std::map<std::string, std::string> out;
  std::unique_ptr<secrets::ActiveStore> store;  // opened when first needed
  for (const std::string& name : names) {
    std::optional<std::string> value = from_environment(name);
    if (!value) {
      if (!store) store = secrets::open_active_store();
      value = store->get(name);
    }
    if (!value) {
      throw ValueError("Secret '" + name + "' was not found. Set it in " + store->where() +
                       " with: ferry secrets set " + name + " (or the environment variable " +
                       name + " or " + kScopedPrefix + name + ").");
    }
    detail::register_secret_value_and_parts(*value);
    out[name] = std::move(*value);
  }
  return out;
}

void register_known_secrets() noexcept {
  try {
    for (char** e = environ; e && *e; ++e) {
      if (std::strncmp(*e, kScopedPrefix, std::strlen(kScopedPrefix)) != 0) continue;
      if (const char* eq = std::strchr(*e, '=')) detail::register_secret_value_and_parts(eq + 1);
    }
    // The server's store is not read here: this runs before printing any error, and must
    // not wait on a server that is down. Runs masked what they resolved when they logged.
    if (backend::configured_api()) return;
    for (const auto& [name, value] : secrets::open_active_store()->load()) {
      detail::register_secret_value_and_parts(value);
    }
  } catch (...) {
    // An unreadable or unsafe store: a run could not have resolved its values either.
  }
}

}  // namespace ferry::agent
