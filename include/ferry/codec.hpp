// The one codec for values that cross task edges, constants and parameters.
//
// Values travel as JSON (nlohmann::json): built-in types, std::string, vectors, maps,
// std::optional, and any user type with nlohmann to_json/from_json functions. A type
// descriptor ("integer", "array<string>", ...) lets ferry check a parameter's value without
// running user code, so frozen flows can validate parameters too.
#pragma once

#include <array>
#include <deque>
#include <list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

NLOHMANN_JSON_NAMESPACE_BEGIN
// nlohmann 3.11 has no std::optional support: an empty optional is null.
template <typename T>
struct adl_serializer<std::optional<T>> {
  static void to_json(json& j, const std::optional<T>& v) {
    if (v) {
      j = *v;
    } else {
      j = nullptr;
    }
  }
  static void from_json(const json& j, std::optional<T>& v) {
    if (j.is_null()) {
      v.reset();
    } else {
      v = j.get<T>();
    }
  }
};
NLOHMANN_JSON_NAMESPACE_END

namespace ferry {

using Value = nlohmann::json;

template <class T>
Value encode(const T& value) {
  return Value(value);
}

template <class T>
T decode(const Value& value) {
  return value.template get<T>();
}

namespace detail {
template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};
template <class T>
struct is_sequence : std::false_type {};
template <class T, class A>
struct is_sequence<std::vector<T, A>> : std::true_type {};
template <class T, class A>
struct is_sequence<std::list<T, A>> : std::true_type {};
template <class T, class A>
struct is_sequence<std::deque<T, A>> : std::true_type {};
template <class T, class C, class A>
struct is_sequence<std::set<T, C, A>> : std::true_type {};
template <class T, std::size_t N>
struct is_sequence<std::array<T, N>> : std::true_type {};
template <class T>
struct is_string_map : std::false_type {};
template <class V, class C, class A>
struct is_string_map<std::map<std::string, V, C, A>> : std::true_type {};
template <class V, class H, class E, class A>
struct is_string_map<std::unordered_map<std::string, V, H, E, A>> : std::true_type {};
}  // namespace detail

// The type descriptor of T: "boolean", "integer", "number", "string", "any" (a raw
// Value), "array<T>", "map<T>" (string keys), "optional<T>", or "json" for a user type
// whose shape only its from_json knows.
template <class T>
std::string type_of() {
  using U = std::remove_cvref_t<T>;
  if constexpr (std::is_same_v<U, bool>) {
    return "boolean";
  } else if constexpr (std::is_integral_v<U>) {
    return "integer";
  } else if constexpr (std::is_floating_point_v<U>) {
    return "number";
  } else if constexpr (std::is_same_v<U, std::string> || std::is_same_v<U, std::string_view> ||
                       std::is_same_v<U, const char*>) {
    return "string";
  } else if constexpr (std::is_same_v<U, Value>) {
    return "any";
  } else if constexpr (detail::is_optional<U>::value) {
    return "optional<" + type_of<typename U::value_type>() + ">";
  } else if constexpr (detail::is_sequence<U>::value) {
    return "array<" + type_of<typename U::value_type>() + ">";
  } else if constexpr (detail::is_string_map<U>::value) {
    return "map<" + type_of<typename U::mapped_type>() + ">";
  } else {
    return "json";
  }
}

// Whether value fits the descriptor; on false, *why (if given) says what did not fit.
bool value_matches(std::string_view type, const Value& value, std::string* why = nullptr);

// Turns the text of a `--param k=v` into a value of the given type: a string parameter takes
// the text as it is, every other type parses it as JSON. Throws ValueError naming the
// parameter, the expected type and the text when it does not fit.
Value parse_param_text(std::string_view param, std::string_view type, std::string_view text);

}  // namespace ferry
