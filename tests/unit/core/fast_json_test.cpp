// parse_json_fast (simdjson) gives the Value nlohmann's own parser gives, types included.
#include "core/fast_json.hpp"

#include "core/big_buffer.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using ferry::Value;
using ferry::detail::parse_json_fast;

TEST(FastJson, SameValuesAndTypesAsNlohmann) {
  const std::vector<std::string> documents = {
      R"({})",
      R"([])",
      R"({"a": 1, "b": -2, "c": 18446744073709551615, "d": 1.5, "e": -0.0, "f": 1e300})",
      R"({"s": "caf\u00e9 \ud83d\ude00 \"quoted\" \\ \n\t", "t": true, "f": false, "n": null})",
      R"([0, -9223372036854775808, 9223372036854775807, 9223372036854775808, 2.5e-3])",
      R"({"nested": {"list": [[], {}, [1, [2, [3]]], {"k": {"k": "v"}}]}, "": "empty key"})",
      R"({"dup": 1, "dup": 2})",
      "  \n[\"leading and trailing space\"]  \n",
  };
  for (const std::string& text : documents) {
    Value expected = Value::parse(text);
    Value actual = parse_json_fast(text);
    EXPECT_EQ(actual, expected) << text;
    EXPECT_EQ(actual.dump(), expected.dump()) << text;
  }
  EXPECT_TRUE(parse_json_fast("7").is_number_unsigned()) << "as nlohmann types it";
  EXPECT_TRUE(parse_json_fast("-7").is_number_integer());
  EXPECT_FALSE(parse_json_fast("-7").is_number_unsigned());
}

TEST(FastJson, MalformedTextIsDiscarded) {
  for (const char* text : {"", "{", "[1,]", "{\"a\" 1}", "nul", "\"unterminated", "[1] [2]",
                           "{\"bad\": \"\\x\"}", "\xff\xfe", "[1e999]"}) {
    EXPECT_TRUE(parse_json_fast(text).is_discarded()) << text;
    EXPECT_TRUE(Value::parse(text, nullptr, false).is_discarded()) << "nlohmann agrees: " << text;
  }
}

// Parsed in place, the bytes after the text are read but never become part of the value.
TEST(FastJson, InPlaceParseStopsAtTheEndOfTheText) {
  const std::string tail = "e]}\"xx" + std::string(100, ' ');
  struct Case {
    std::string text;
    bool valid;
  };
  for (const Case& c : std::vector<Case>{{"[1, 2]", true},
                                         {"{\"a\": true}", true},
                                         {"[1, 2", false},
                                         {"[tru", false},
                                         {"{\"a\": \"b", false},
                                         {"123", true},
                                         {"12", true}}) {
    const std::string buffer = c.text + tail;
    Value v = parse_json_fast(std::string_view(buffer).substr(0, c.text.size()), tail.size());
    EXPECT_EQ(!v.is_discarded(), c.valid) << c.text;
    if (c.valid) EXPECT_EQ(v, Value::parse(c.text)) << c.text;
  }
  const std::string digits = "12" + std::string("345") + std::string(100, ' ');
  EXPECT_EQ(parse_json_fast(std::string_view(digits).substr(0, 2), digits.size() - 2), 12u);
}

TEST(FastJson, BigStringSurvivesWhole) {
  std::string big(3'000'000, 'x');
  big[1'234'567] = 'y';
  Value v = parse_json_fast("{\"payload\": \"" + big + "\"}");
  ASSERT_TRUE(v.is_object());
  EXPECT_EQ(v["payload"].get_ref<const std::string&>(), big);
}

// Texts from kBigBufferBytes up have their string buffer allocated and prepared before the
// parse (big_buffer.hpp): the same values, escapes, several big strings and all, in place
// or copied.
TEST(FastJson, TextsAboveTheBigBufferSizeParseTheSame) {
  std::string first(ferry::detail::kBigBufferBytes, 'a');
  for (std::size_t i = 0; i < first.size(); i += 4099) first[i] = 'b';
  const std::string second(3'000'000, 'z');
  const std::string text = "{\"first\": \"" + first + "\", \"escaped\": \"tab\\there \\u00e9\", " +
                           "\"list\": [1, 2.5, \"" + second + "\"]}";
  const Value expected = Value::parse(text);
  EXPECT_EQ(parse_json_fast(text), expected);
  const std::string padded = text + std::string(64, ' ');
  Value in_place = parse_json_fast(std::string_view(padded).substr(0, text.size()), 64);
  EXPECT_EQ(in_place, expected);
  EXPECT_EQ(in_place["first"].get_ref<const std::string&>(), first);
  EXPECT_EQ(in_place["escaped"], "tab\there \u00e9");
  EXPECT_TRUE(parse_json_fast(text.substr(0, text.size() - 1)).is_discarded()) << "unclosed";
}

}  // namespace
