#include "core/masking.hpp"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <shared_mutex>
#include <vector>

namespace ferry::detail {

namespace {

struct Registry {
  std::atomic<bool> any{false};
  std::shared_mutex mutex;
  std::vector<std::string> values;  // longest first, no duplicates
};

Registry& registry() {
  static Registry* r = new Registry;  // never destroyed: loggers may run during exit
  return *r;
}

void add_string_leaves(const Value& v) {
  if (v.is_string()) {
    register_secret_value(v.get<std::string>());
  } else if (v.is_object()) {
    for (auto it = v.begin(); it != v.end(); ++it) add_string_leaves(it.value());
  } else if (v.is_array()) {
    for (const Value& e : v) add_string_leaves(e);
  }
}

void replace_all(std::string& text, const std::vector<std::string>& values) {
  for (const std::string& secret : values) {
    std::size_t pos = text.find(secret);
    if (pos == std::string::npos) continue;
    std::string out;
    out.reserve(text.size());
    std::size_t from = 0;
    while (pos != std::string::npos) {
      out.append(text, from, pos - from);
      out.append(kSecretMask);
      from = pos + secret.size();
      pos = text.find(secret, from);
    }
    out.append(text, from, std::string::npos);
    text = std::move(out);
  }
}

}  // namespace

void register_secret_value(std::string value) {
  if (value.size() < kMinMaskedLength) return;
  Registry& r = registry();
  std::unique_lock lock(r.mutex);
  if (std::find(r.values.begin(), r.values.end(), value) != r.values.end()) return;
  // Longest first, so a secret that contains another is masked whole.
  auto at = std::find_if(r.values.begin(), r.values.end(),
                         [&](const std::string& v) { return v.size() < value.size(); });
  r.values.insert(at, std::move(value));
  r.any.store(true, std::memory_order_release);
}

void register_secret_value_and_parts(const std::string& raw) {
  register_secret_value(raw);
  Value parsed = Value::parse(raw, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_discarded()) add_string_leaves(parsed);
}

bool has_secret_values() { return registry().any.load(std::memory_order_acquire); }

void mask_secrets_in(std::string& text) {
  Registry& r = registry();
  if (!r.any.load(std::memory_order_acquire)) return;
  std::shared_lock lock(r.mutex);
  replace_all(text, r.values);
}

std::string mask_secrets(std::string_view text) {
  std::string out(text);
  mask_secrets_in(out);
  return out;
}

Value mask_secrets_json(const Value& value) {
  if (!has_secret_values()) return value;
  if (value.is_string()) return mask_secrets(value.get_ref<const std::string&>());
  if (value.is_array()) {
    Value out = Value::array();
    for (const Value& e : value) out.push_back(mask_secrets_json(e));
    return out;
  }
  if (value.is_object()) {
    Value out = Value::object();
    for (auto it = value.begin(); it != value.end(); ++it) {
      out[mask_secrets(std::string_view(it.key()))] = mask_secrets_json(it.value());
    }
    return out;
  }
  return value;
}

void clear_secret_values_for_testing() {
  Registry& r = registry();
  std::unique_lock lock(r.mutex);
  r.values.clear();
  r.any.store(false, std::memory_order_release);
}

}  // namespace ferry::detail
