// Parsing big JSON documents fast: simdjson's parser, its result converted to a ferry::Value
// (nlohmann). nlohmann's own parser reads a character at a time and grows each string one
// character at a time (about 15 ns a byte here), which made the graph of a flow with a 5 MB
// parameter default take longer to parse than to download. The result is the Value that
// Value::parse gives for the same text, numbers typed as nlohmann types them.
#pragma once

#include <cstddef>
#include <string_view>

#include "ferry/codec.hpp"

namespace ferry::detail {

// The parsed document, or a discarded Value (is_discarded()) when `text` is not JSON, as
// Value::parse(text, nullptr, false) does. simdjson reads up to 64 bytes past the end of its
// input: when the caller knows at least that many bytes after `text` are readable (the same
// buffer goes on; their content does not matter), it says so with `readable_after` and the
// text is parsed where it is, else it is first copied into a padded buffer.
Value parse_json_fast(std::string_view text, std::size_t readable_after = 0);

}  // namespace ferry::detail
