#include "core/fast_json.hpp"

#include <simdjson.h>

#include <cstdint>
#include <string>

#include "core/big_buffer.hpp"

namespace ferry::detail {

namespace {

Value convert(simdjson::dom::element element) {
  switch (element.type()) {
    case simdjson::dom::element_type::OBJECT: {
      Value out = Value::object();
      for (simdjson::dom::key_value_pair field : simdjson::dom::object(element)) {
        out[std::string(field.key)] = convert(field.value);  // a repeated key: the last wins
      }
      return out;
    }
    case simdjson::dom::element_type::ARRAY: {
      Value out = Value::array();
      for (simdjson::dom::element item : simdjson::dom::array(element)) {
        out.push_back(convert(item));
      }
      return out;
    }
    case simdjson::dom::element_type::STRING: {
      const std::string_view text(element);
      std::string copy;
      reserve_big(copy, text.size());  // a flow's big constant: huge pages, fewer faults
      copy.assign(text);
      return Value(std::move(copy));
    }
    case simdjson::dom::element_type::INT64: {
      // nlohmann types a non-negative integer as unsigned: the same Value, the same type.
      const std::int64_t n = int64_t(element);
      if (n >= 0) return Value(static_cast<std::uint64_t>(n));
      return Value(n);
    }
    case simdjson::dom::element_type::UINT64:
      return Value(uint64_t(element));
    case simdjson::dom::element_type::DOUBLE:
      return Value(double(element));
    case simdjson::dom::element_type::BOOL:
      return Value(bool(element));
    case simdjson::dom::element_type::NULL_VALUE:
      return Value(nullptr);
  }
  return Value(nullptr);
}

}  // namespace

Value parse_json_fast(std::string_view text, std::size_t readable_after) {
  simdjson::dom::parser parser;
  // A copy of a 5 MB graph costs more in page faults than the parse: avoided when the bytes
  // after the text may be read.
  const bool copy = readable_after < simdjson::SIMDJSON_PADDING;
  // simdjson unescapes every string into its document's string buffer (5/3 of the text's
  // size, of which at most the text's size is written): for a big text, allocate the
  // document first and prepare that buffer before the parse writes it (a 5 MB string: ~3 ms
  // of page faults instead of 16 ms; see big_buffer.hpp). This uses dom::document's
  // allocate() and string_buf, public members of simdjson 3.0 that its documentation calls
  // internal; the parse allocates nothing more when they suffice.
  if (text.size() >= kBigBufferBytes && parser.doc.allocate(text.size()) == simdjson::SUCCESS) {
    prepare_for_writing(parser.doc.string_buf.get(), 5 * text.size() / 3, text.size());
  }
  simdjson::dom::element root;
  if (parser.parse(text.data(), text.size(), copy).get(root)) {
    return Value(Value::value_t::discarded);
  }
  return convert(root);
}

}  // namespace ferry::detail
