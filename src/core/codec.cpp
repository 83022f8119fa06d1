#include "ferry/codec.hpp"

#include <cmath>

#include "ferry/error.hpp"

namespace ferry {

namespace {

// "array<integer>" -> inner "integer" when type starts with prefix "array<".
bool unwrap(std::string_view type, std::string_view prefix, std::string_view* inner) {
  if (type.size() > prefix.size() + 1 && type.substr(0, prefix.size()) == prefix &&
      type.back() == '>') {
    *inner = type.substr(prefix.size(), type.size() - prefix.size() - 1);
    return true;
  }
  return false;
}

bool fail(std::string* why, std::string text) {
  if (why) *why = std::move(text);
  return false;
}

}  // namespace

bool value_matches(std::string_view type, const Value& value, std::string* why) {
  std::string_view inner;
  if (type == "any" || type == "json") return true;
  if (type == "boolean") return value.is_boolean() || fail(why, "not true or false");
  if (type == "integer") {
    if (value.is_number_integer()) return true;
    if (value.is_number_float()) {
      double d = value.get<double>();
      if (std::isfinite(d) && d == std::floor(d)) return true;
    }
    return fail(why, "not a whole number");
  }
  if (type == "number") return value.is_number() || fail(why, "not a number");
  if (type == "string") return value.is_string() || fail(why, "not a string");
  if (unwrap(type, "optional<", &inner)) return value.is_null() || value_matches(inner, value, why);
  if (unwrap(type, "array<", &inner)) {
    if (!value.is_array()) return fail(why, "not a JSON array");
    for (std::size_t i = 0; i < value.size(); ++i) {
      std::string sub;
      if (!value_matches(inner, value[i], &sub)) {
        return fail(why, "item " + std::to_string(i) + ": " + sub);
      }
    }
    return true;
  }
  if (unwrap(type, "map<", &inner)) {
    if (!value.is_object()) return fail(why, "not a JSON object");
    for (auto it = value.begin(); it != value.end(); ++it) {
      std::string sub;
      if (!value_matches(inner, it.value(), &sub))
        return fail(why, "key '" + it.key() + "': " + sub);
    }
    return true;
  }
  return fail(why, "unknown type '" + std::string(type) + "'");
}

Value parse_param_text(std::string_view param, std::string_view type, std::string_view text) {
  if (type == "string" || type == "optional<string>") return Value(std::string(text));
  Value value = Value::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    // A bare word for an untyped parameter is a string, as it would be on a shell.
    if (type == "any" || type == "json") return Value(std::string(text));
    throw ValueError("Parameter '" + std::string(param) + "' expects " + std::string(type) +
                     ", got '" + std::string(text) + "' (not valid JSON).");
  }
  std::string why;
  if (!value_matches(type, value, &why)) {
    throw ValueError("Parameter '" + std::string(param) + "' expects " + std::string(type) +
                     ", got '" + std::string(text) + "' (" + why + ").");
  }
  return value;
}

}  // namespace ferry
