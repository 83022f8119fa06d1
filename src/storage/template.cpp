#include "storage/template.hpp"

#include "ferry/error.hpp"

namespace ferry::storage {

namespace {

bool name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool name_char(char c) { return name_start(c) || (c >= '0' && c <= '9'); }

}  // namespace

std::string render_template(std::string_view text, const TemplateLookup& lookup,
                            std::string_view where) {
  std::string out;
  out.reserve(text.size());
  auto value_of = [&](const std::string& name) {
    std::optional<std::string> v = lookup ? lookup(name) : std::nullopt;
    if (!v) {
      throw ValueError("Template value '" + name +
                       "' does not refer to an environment variable or secret.");
    }
    return std::move(*v);
  };
  auto invalid = [&](std::size_t at) {
    throw ValueError("Invalid placeholder in " + std::string(where) + " at character " +
                     std::to_string(at + 1) +
                     ": a '$' must be followed by a NAME, {NAME} or another '$' (NAME: "
                     "letters, digits and '_', not starting with a digit). Write $$ for a "
                     "literal '$'.");
  };
  for (std::size_t i = 0; i < text.size();) {
    char c = text[i];
    if (c != '$') {
      out.push_back(c);
      ++i;
      continue;
    }
    std::size_t next = i + 1;
    if (next < text.size() && text[next] == '$') {
      out.push_back('$');
      i = next + 1;
    } else if (next < text.size() && name_start(text[next])) {
      std::size_t end = next;
      while (end < text.size() && name_char(text[end])) ++end;
      out += value_of(std::string(text.substr(next, end - next)));
      i = end;
    } else if (next < text.size() && text[next] == '{' && next + 1 < text.size() &&
               name_start(text[next + 1])) {
      std::size_t end = next + 1;
      while (end < text.size() && name_char(text[end])) ++end;
      if (end < text.size() && text[end] == '}') {
        out += value_of(std::string(text.substr(next + 1, end - next - 1)));
        i = end + 1;
      } else {
        invalid(i);
      }
    } else {
      invalid(i);
    }
  }
  return out;
}

Value render_templates(const Value& value, const TemplateLookup& lookup, const std::string& where) {
  if (value.is_string()) {
    return render_template(value.get_ref<const std::string&>(), lookup,
                           where.empty() ? "a template" : "'" + where + "'");
  }
  if (!value.is_object()) return value;
  Value out = Value::object();
  for (const auto& [key, item] : value.items()) {
    std::string path = where.empty() ? key : where + "." + key;
    out[key] = item.is_object() || item.is_string() ? render_templates(item, lookup, path) : item;
  }
  return out;
}

}  // namespace ferry::storage
