// ${NAME} / $NAME templates (Python string.Template rules), rendered at request time so
// the values (credentials, mostly) are never stored.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "ferry/codec.hpp"

namespace ferry::storage {

// Gives a name's value, or nothing when the name is unknown.
using TemplateLookup = std::function<std::optional<std::string>(const std::string& name)>;

// Substitutes ${NAME} and $NAME (NAME: [A-Za-z_][A-Za-z0-9_]*); "$$" is a literal "$".
// An unknown name: ValueError "Template value 'NAME' does not refer to an environment
// variable or secret."; a "$" followed by anything else: ValueError naming `where` and the
// column, never the text itself.
std::string render_template(std::string_view text, const TemplateLookup& lookup,
                            std::string_view where = "a template");

// A rendered copy of value: every string in nested objects is rendered (where = its key
// path); keys, arrays and other scalars are copied as they are. The input is not changed.
Value render_templates(const Value& value, const TemplateLookup& lookup,
                       const std::string& where = "");

}  // namespace ferry::storage
