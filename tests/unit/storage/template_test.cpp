// Webhook templates (reference §2.11 rendering, cases 90-92): ${NAME} and $NAME from the
// environment then the secret store, $$ escapes, errors for unknown names and a lone $.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "ferry/error.hpp"
#include "storage/template.hpp"
#include "unit/storage/storage_test_util.hpp"

namespace {

using ferry::Value;
using ferry::ValueError;
using ferry::storage::render_template;
using ferry::storage::render_templates;
using ferry::storage::TemplateLookup;
using ferry::storage_test::error_of;
using ferry::storage_test::has;

TemplateLookup table(std::map<std::string, std::string> values) {
  return [values](const std::string& name) -> std::optional<std::string> {
    auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

}  // namespace

TEST(WebhookTemplate, BracedAndBareNamesAndEscapes) {
  auto lookup = table({{"TOKEN", "abc"}, {"A_1", "x"}, {"EMPTY", ""}});
  EXPECT_EQ(render_template("Bearer ${TOKEN}", lookup), "Bearer abc");
  EXPECT_EQ(render_template("Bearer $TOKEN", lookup), "Bearer abc");
  EXPECT_EQ(render_template("$A_1-${A_1}y $A_1.z", lookup), "x-xy x.z");
  EXPECT_EQ(render_template("cost: $$5 and $$TOKEN", lookup), "cost: $5 and $TOKEN");
  EXPECT_EQ(render_template("[${EMPTY}]", lookup), "[]");
  EXPECT_EQ(render_template("no templates at all", lookup), "no templates at all");
  EXPECT_EQ(render_template("", lookup), "");
  // A value is not rendered again.
  EXPECT_EQ(render_template("${V}", table({{"V", "$OTHER ${X}"}})), "$OTHER ${X}");
}

TEST(WebhookTemplate, UnknownNameNamesItWithTheReferenceText) {
  auto lookup = table({});
  EXPECT_EQ(error_of<ValueError>([&] { render_template("Token ${SOME_CRED}", lookup); }),
            "Template value 'SOME_CRED' does not refer to an environment variable or secret.");
  EXPECT_EQ(error_of<ValueError>([&] { render_template("?key=$ANOTHER_SECRET", lookup); }),
            "Template value 'ANOTHER_SECRET' does not refer to an environment variable or "
            "secret.");
}

TEST(WebhookTemplate, LoneDollarIsASyntaxErrorThatDoesNotEchoTheText) {
  auto lookup = table({{"A", "1"}});
  for (const char* text : {"price $", "$ 5", "${A", "${}", "${1A}", "$1", "${A-B}", "a$-b"}) {
    std::string e = error_of<ValueError>([&] { render_template(text, lookup, "'headers.X'"); });
    EXPECT_TRUE(has(e, "Invalid placeholder in 'headers.X' at character")) << text << ": " << e;
    EXPECT_TRUE(has(e, "Write $$ for a literal '$'")) << e;
  }
  EXPECT_TRUE(has(error_of<ValueError>([&] { render_template("secretvalue $", lookup); }),
                  "at character 13"));
  EXPECT_FALSE(has(error_of<ValueError>([&] { render_template("secretvalue $", lookup); }),
                   "secretvalue"));
}

TEST(WebhookTemplate, NestedObjectsRenderedKeysArraysNumbersCopiedInputUntouched) {
  auto lookup = table({{"USER", "ada"}, {"JAVA_HOME", "/opt/java"}, {"K", "v"}});
  Value in = {{"coffee_place", "coffee_place: ${JAVA_HOME}"},
              {"${K}", "key kept"},
              {"a", {{"b", {{"c", "Bearer: ${USER}"}, {"n", 3}, {"f", 1.5}, {"t", true}}}}},
              {"list", {"${USER}", 1}},
              {"null", nullptr}};
  Value copy = in;
  Value out = render_templates(in, lookup);
  EXPECT_EQ(in, copy) << "the input is not changed";
  EXPECT_EQ(out["coffee_place"], "coffee_place: /opt/java");
  EXPECT_EQ(out["${K}"], "key kept");
  EXPECT_EQ(out["a"]["b"]["c"], "Bearer: ada");
  EXPECT_EQ(out["a"]["b"]["n"], 3);
  EXPECT_EQ(out["a"]["b"]["f"], 1.5);
  EXPECT_EQ(out["a"]["b"]["t"], true);
  EXPECT_EQ(out["list"], (Value{"${USER}", 1})) << "arrays are copied, not rendered";
  EXPECT_TRUE(out["null"].is_null());
  // Errors name the key path.
  Value bad = {{"headers", {{"X-Price", "5 $"}}}};
  EXPECT_TRUE(has(error_of<ValueError>([&] { render_templates(bad, lookup, "build_request_kwargs"); }),
                  "'build_request_kwargs.headers.X-Price'"));
}
