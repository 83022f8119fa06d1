// The value codec: type descriptors, value checks, parameter text and round trips.
#include <gtest/gtest.h>

#include <array>
#include <deque>
#include <limits>
#include <list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "ferry/codec.hpp"
#include "ferry/error.hpp"

namespace {

struct Point {
  int x = 0;
  std::string label;
  std::vector<double> weights;
  bool operator==(const Point&) const = default;
};

void to_json(nlohmann::json& j, const Point& p) {
  j = {{"x", p.x}, {"label", p.label}, {"weights", p.weights}};
}

void from_json(const nlohmann::json& j, Point& p) {
  j.at("x").get_to(p.x);
  j.at("label").get_to(p.label);
  j.at("weights").get_to(p.weights);
}

enum class Color { Red, Green };

// Runs value_matches and returns the `why` text (empty when it matched).
std::string why_not(std::string_view type, const ferry::Value& value) {
  std::string why;
  bool ok = ferry::value_matches(type, value, &why);
  if (ok) return "";
  EXPECT_FALSE(why.empty()) << "a failed match must say why";
  return why;
}

// The message of the ValueError parse_param_text throws, or "" if it does not throw.
std::string parse_error(std::string_view param, std::string_view type, std::string_view text) {
  try {
    ferry::parse_param_text(param, type, text);
  } catch (const ferry::ValueError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

// ---- type_of ---------------------------------------------------------------------------

TEST(CodecTypeOf, Scalars) {
  EXPECT_EQ(ferry::type_of<bool>(), "boolean");
  EXPECT_EQ(ferry::type_of<int>(), "integer");
  EXPECT_EQ(ferry::type_of<long long>(), "integer");
  EXPECT_EQ(ferry::type_of<unsigned>(), "integer");
  EXPECT_EQ(ferry::type_of<double>(), "number");
  EXPECT_EQ(ferry::type_of<float>(), "number");
  EXPECT_EQ(ferry::type_of<std::string>(), "string");
  EXPECT_EQ(ferry::type_of<std::string_view>(), "string");
  EXPECT_EQ(ferry::type_of<const char*>(), "string");
  EXPECT_EQ(ferry::type_of<nlohmann::json>(), "any");
  EXPECT_EQ(ferry::type_of<ferry::Value>(), "any");
}

TEST(CodecTypeOf, IgnoresCvRef) {
  EXPECT_EQ(ferry::type_of<const int&>(), "integer");
  EXPECT_EQ(ferry::type_of<const std::string&>(), "string");
  EXPECT_EQ(ferry::type_of<const std::vector<int>&>(), "array<integer>");
}

TEST(CodecTypeOf, Containers) {
  EXPECT_EQ(ferry::type_of<std::vector<int>>(), "array<integer>");
  EXPECT_EQ(ferry::type_of<std::list<std::string>>(), "array<string>");
  EXPECT_EQ(ferry::type_of<std::deque<bool>>(), "array<boolean>");
  EXPECT_EQ((ferry::type_of<std::set<double>>()), "array<number>");
  EXPECT_EQ((ferry::type_of<std::array<int, 3>>()), "array<integer>");
  EXPECT_EQ((ferry::type_of<std::map<std::string, double>>()), "map<number>");
  EXPECT_EQ((ferry::type_of<std::unordered_map<std::string, std::string>>()), "map<string>");
  EXPECT_EQ(ferry::type_of<std::optional<int>>(), "optional<integer>");
}

TEST(CodecTypeOf, Nested) {
  EXPECT_EQ(ferry::type_of<std::vector<std::vector<int>>>(), "array<array<integer>>");
  EXPECT_EQ((ferry::type_of<std::map<std::string, std::vector<std::optional<double>>>>()),
            "map<array<optional<number>>>");
  EXPECT_EQ(ferry::type_of<std::optional<std::vector<std::string>>>(), "optional<array<string>>");
  EXPECT_EQ(ferry::type_of<std::vector<ferry::Value>>(), "array<any>");
}

TEST(CodecTypeOf, UserTypesAndNonStringMapsAreJson) {
  EXPECT_EQ(ferry::type_of<Point>(), "json");
  EXPECT_EQ(ferry::type_of<std::vector<Point>>(), "array<json>");
  // Only string-keyed maps are "map<T>"; others have no JSON-object form.
  EXPECT_EQ((ferry::type_of<std::map<int, int>>()), "json");
  EXPECT_EQ(ferry::type_of<Color>(), "json");
}

// ---- value_matches ---------------------------------------------------------------------

TEST(CodecValueMatches, Boolean) {
  EXPECT_TRUE(ferry::value_matches("boolean", true));
  EXPECT_TRUE(ferry::value_matches("boolean", false));
  EXPECT_EQ(why_not("boolean", 1), "not true or false");
  EXPECT_EQ(why_not("boolean", "true"), "not true or false");
  EXPECT_FALSE(ferry::value_matches("boolean", nullptr));
}

TEST(CodecValueMatches, Integer) {
  EXPECT_TRUE(ferry::value_matches("integer", 42));
  EXPECT_TRUE(ferry::value_matches("integer", -7));
  EXPECT_TRUE(ferry::value_matches("integer", 18446744073709551615ULL));
  // A whole-valued float is accepted (JSON has one number type).
  EXPECT_TRUE(ferry::value_matches("integer", 3.0));
  EXPECT_EQ(why_not("integer", 3.5), "not a whole number");
  EXPECT_EQ(why_not("integer", "3"), "not a whole number");
  EXPECT_EQ(why_not("integer", true), "not a whole number");
  EXPECT_EQ(why_not("integer", nullptr), "not a whole number");
  EXPECT_FALSE(ferry::value_matches("integer", std::numeric_limits<double>::infinity()));
}

TEST(CodecValueMatches, Number) {
  EXPECT_TRUE(ferry::value_matches("number", 1.5));
  EXPECT_TRUE(ferry::value_matches("number", 2));
  EXPECT_EQ(why_not("number", "1.5"), "not a number");
  EXPECT_EQ(why_not("number", false), "not a number");
}

TEST(CodecValueMatches, String) {
  EXPECT_TRUE(ferry::value_matches("string", "hi"));
  EXPECT_TRUE(ferry::value_matches("string", ""));
  EXPECT_EQ(why_not("string", 5), "not a string");
  EXPECT_EQ(why_not("string", nullptr), "not a string");
}

TEST(CodecValueMatches, AnyAndJsonTakeEverything) {
  for (const char* type : {"any", "json"}) {
    EXPECT_TRUE(ferry::value_matches(type, nullptr)) << type;
    EXPECT_TRUE(ferry::value_matches(type, 1)) << type;
    EXPECT_TRUE(ferry::value_matches(type, "s")) << type;
    EXPECT_TRUE(ferry::value_matches(type, ferry::Value::array({1, "a"}))) << type;
    EXPECT_TRUE(ferry::value_matches(type, ferry::Value{{"k", 1}})) << type;
  }
}

TEST(CodecValueMatches, Array) {
  EXPECT_TRUE(ferry::value_matches("array<integer>", ferry::Value::array()));
  EXPECT_TRUE(ferry::value_matches("array<integer>", ferry::Value::array({1, 2, 3})));
  EXPECT_EQ(why_not("array<integer>", ferry::Value::array({1, "two", 3})),
            "item 1: not a whole number");
  EXPECT_EQ(why_not("array<integer>", 5), "not a JSON array");
  EXPECT_EQ(why_not("array<integer>", ferry::Value{{"a", 1}}), "not a JSON array");
}

TEST(CodecValueMatches, NestedArray) {
  ferry::Value good = ferry::Value::array({ferry::Value::array({1, 2}), ferry::Value::array()});
  EXPECT_TRUE(ferry::value_matches("array<array<integer>>", good));
  ferry::Value bad = ferry::Value::array({ferry::Value::array({1}), ferry::Value::array({1, 2.5})});
  EXPECT_EQ(why_not("array<array<integer>>", bad), "item 1: item 1: not a whole number");
  EXPECT_EQ(why_not("array<array<integer>>", ferry::Value::array({1})), "item 0: not a JSON array");
}

TEST(CodecValueMatches, Map) {
  EXPECT_TRUE(ferry::value_matches("map<number>", ferry::Value::object()));
  EXPECT_TRUE(ferry::value_matches("map<number>", ferry::Value{{"a", 1.5}, {"b", 2}}));
  EXPECT_EQ(why_not("map<number>", ferry::Value{{"a", 1.5}, {"b", "x"}}), "key 'b': not a number");
  EXPECT_EQ(why_not("map<number>", ferry::Value::array({1.0})), "not a JSON object");
  ferry::Value nested = {{"outer", {{"inner", "no"}}}};
  EXPECT_EQ(why_not("map<map<integer>>", nested), "key 'outer': key 'inner': not a whole number");
  EXPECT_TRUE(ferry::value_matches("map<array<string>>", ferry::Value{{"k", {"a", "b"}}}));
}

TEST(CodecValueMatches, Optional) {
  EXPECT_TRUE(ferry::value_matches("optional<integer>", nullptr));
  EXPECT_TRUE(ferry::value_matches("optional<integer>", 4));
  EXPECT_EQ(why_not("optional<integer>", "4"), "not a whole number");
  EXPECT_TRUE(ferry::value_matches("array<optional<string>>", ferry::Value::array({"a", nullptr})));
  EXPECT_EQ(why_not("array<optional<string>>", ferry::Value::array({"a", nullptr, 3})),
            "item 2: not a string");
  EXPECT_TRUE(ferry::value_matches("optional<array<integer>>", nullptr));
  EXPECT_EQ(why_not("optional<array<integer>>", ferry::Value::array({nullptr})),
            "item 0: not a whole number");
}

TEST(CodecValueMatches, UnknownTypeIsRefused) {
  EXPECT_EQ(why_not("widget", 1), "unknown type 'widget'");
  EXPECT_EQ(why_not("array<widget>", ferry::Value::array({1})), "item 0: unknown type 'widget'");
  // A malformed descriptor is not unwrapped.
  EXPECT_FALSE(ferry::value_matches("array<>", ferry::Value::array()));
  EXPECT_FALSE(ferry::value_matches("array<integer", ferry::Value::array()));
}

TEST(CodecValueMatches, WhyMayBeNull) {
  EXPECT_FALSE(ferry::value_matches("integer", "x", nullptr));
  EXPECT_FALSE(ferry::value_matches("array<integer>", ferry::Value::array({"x"})));
}

TEST(CodecValueMatches, TypeOfDescriptorsAcceptEncodedValues) {
  EXPECT_TRUE(ferry::value_matches(ferry::type_of<std::vector<std::vector<int>>>(),
                                   ferry::encode(std::vector<std::vector<int>>{{1}, {2, 3}})));
  EXPECT_TRUE(ferry::value_matches(
      ferry::type_of<std::map<std::string, double>>(),
      ferry::encode(std::map<std::string, double>{{"pi", 3.14}, {"e", 2.72}})));
  EXPECT_TRUE(ferry::value_matches(ferry::type_of<std::optional<int>>(),
                                   ferry::encode(std::optional<int>{})));
  EXPECT_TRUE(ferry::value_matches(ferry::type_of<Point>(), ferry::encode(Point{1, "p", {}})));
}

// ---- parse_param_text ------------------------------------------------------------------

TEST(CodecParseParamText, StringTakesTextVerbatim) {
  EXPECT_EQ(ferry::parse_param_text("s", "string", "123"), ferry::Value("123"));
  EXPECT_EQ(ferry::parse_param_text("s", "string", "hello world"), ferry::Value("hello world"));
  EXPECT_EQ(ferry::parse_param_text("s", "string", "\"quoted\""), ferry::Value("\"quoted\""));
  EXPECT_EQ(ferry::parse_param_text("s", "string", ""), ferry::Value(""));
  EXPECT_EQ(ferry::parse_param_text("s", "optional<string>", "null"), ferry::Value("null"));
}

TEST(CodecParseParamText, Integer) {
  ferry::Value v = ferry::parse_param_text("n", "integer", "42");
  EXPECT_TRUE(v.is_number_integer());
  EXPECT_EQ(v, 42);
  EXPECT_EQ(ferry::parse_param_text("n", "integer", "-3"), -3);
}

TEST(CodecParseParamText, IntegerFromWordThrowsNamingParameterAndType) {
  EXPECT_THROW(ferry::parse_param_text("count", "integer", "abc"), ferry::ValueError);
  std::string msg = parse_error("count", "integer", "abc");
  EXPECT_NE(msg.find("'count'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("integer"), std::string::npos) << msg;
  EXPECT_NE(msg.find("abc"), std::string::npos) << msg;
}

TEST(CodecParseParamText, IntegerFromFractionSaysWhy) {
  std::string msg = parse_error("count", "integer", "4.5");
  EXPECT_NE(msg.find("'count'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("expects integer"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not a whole number"), std::string::npos) << msg;
}

TEST(CodecParseParamText, IsAValueErrorAndAFerryError) {
  EXPECT_THROW(ferry::parse_param_text("b", "boolean", "yes"), ferry::Error);
  EXPECT_THROW(ferry::parse_param_text("b", "boolean", "1"), ferry::ValueError);
}

TEST(CodecParseParamText, BooleanAndNumber) {
  EXPECT_EQ(ferry::parse_param_text("b", "boolean", "true"), true);
  EXPECT_EQ(ferry::parse_param_text("b", "boolean", "false"), false);
  EXPECT_DOUBLE_EQ(ferry::parse_param_text("x", "number", "2.5").get<double>(), 2.5);
}

TEST(CodecParseParamText, ArraysAndMapsFromJson) {
  EXPECT_EQ(ferry::parse_param_text("xs", "array<integer>", "[1, 2, 3]"),
            ferry::Value::array({1, 2, 3}));
  EXPECT_EQ(ferry::parse_param_text("xss", "array<array<string>>", R"([["a"], []])"),
            ferry::Value::array({ferry::Value::array({"a"}), ferry::Value::array()}));
  EXPECT_EQ(ferry::parse_param_text("m", "map<number>", R"({"a": 1.5})"),
            (ferry::Value{{"a", 1.5}}));
  std::string msg = parse_error("xs", "array<integer>", R"([1, "two"])");
  EXPECT_NE(msg.find("'xs'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("item 1"), std::string::npos) << msg;
  EXPECT_FALSE(parse_error("xs", "array<integer>", "1,2").empty());
}

TEST(CodecParseParamText, Optional) {
  EXPECT_TRUE(ferry::parse_param_text("o", "optional<integer>", "null").is_null());
  EXPECT_EQ(ferry::parse_param_text("o", "optional<integer>", "7"), 7);
  EXPECT_FALSE(parse_error("o", "optional<integer>", "seven").empty());
}

TEST(CodecParseParamText, AnyTakesJsonOrABareWord) {
  EXPECT_EQ(ferry::parse_param_text("a", "any", "12"), 12);
  EXPECT_EQ(ferry::parse_param_text("a", "any", R"({"k": [1]})"), (ferry::Value{{"k", {1}}}));
  EXPECT_EQ(ferry::parse_param_text("a", "any", "hello"), ferry::Value("hello"));
  EXPECT_EQ(ferry::parse_param_text("j", "json", "hello"), ferry::Value("hello"));
}

// ---- encode / decode ---------------------------------------------------------------------

TEST(CodecRoundTrip, Scalars) {
  EXPECT_EQ(ferry::decode<int>(ferry::encode(42)), 42);
  EXPECT_EQ(ferry::decode<bool>(ferry::encode(true)), true);
  EXPECT_DOUBLE_EQ(ferry::decode<double>(ferry::encode(0.25)), 0.25);
  EXPECT_EQ(ferry::decode<std::string>(ferry::encode(std::string("ferry"))), "ferry");
}

TEST(CodecRoundTrip, Optional) {
  std::optional<int> some = 5;
  ferry::Value v = ferry::encode(some);
  EXPECT_EQ(v, 5);
  EXPECT_EQ(ferry::decode<std::optional<int>>(v), some);

  std::optional<int> none;
  ferry::Value n = ferry::encode(none);
  EXPECT_TRUE(n.is_null());
  EXPECT_EQ(ferry::decode<std::optional<int>>(n), std::nullopt);

  std::vector<std::optional<std::string>> mixed{"a", std::nullopt, "c"};
  ferry::Value m = ferry::encode(mixed);
  EXPECT_EQ(m, (ferry::Value::array({"a", nullptr, "c"})));
  EXPECT_EQ(ferry::decode<std::vector<std::optional<std::string>>>(m), mixed);
}

TEST(CodecRoundTrip, Containers) {
  std::map<std::string, std::vector<int>> m{{"a", {1, 2}}, {"b", {}}};
  ferry::Value v = ferry::encode(m);
  EXPECT_TRUE(v.is_object());
  EXPECT_EQ((ferry::decode<std::map<std::string, std::vector<int>>>(v)), m);
}

TEST(CodecRoundTrip, UserType) {
  Point p{3, "corner", {0.5, 1.5}};
  ferry::Value v = ferry::encode(p);
  EXPECT_EQ(v.at("x"), 3);
  EXPECT_EQ(v.at("label"), "corner");
  EXPECT_EQ(ferry::decode<Point>(v), p);

  std::vector<Point> ps{p, Point{-1, "", {}}};
  EXPECT_EQ(ferry::decode<std::vector<Point>>(ferry::encode(ps)), ps);
}

TEST(CodecRoundTrip, DecodeOfWrongShapeThrows) {
  EXPECT_THROW(ferry::decode<int>(ferry::Value("nope")), nlohmann::json::exception);
  EXPECT_THROW(ferry::decode<Point>(ferry::Value{{"x", 1}}), nlohmann::json::exception);
}
