// Slugs and generated locations (reference §1.1: python-slugify defaults).
#include <gtest/gtest.h>

#include <chrono>
#include <regex>
#include <string>

#include "ferry/storage/storage.hpp"
#include "unit/storage/storage_test_util.hpp"

namespace {

using ferry::storage::generated_location;
using ferry::storage::slugify;
using ferry::storage::timestamp_slug;
using ferry::storage_test::current_utc_year;

// 2023-01-05T12:34:56Z.
std::chrono::system_clock::time_point jan_5_2023() {
  return std::chrono::system_clock::from_time_t(1672922096);
}

}  // namespace

TEST(Slug, VerifiedReferenceExamples) {
  EXPECT_EQ(slugify("WELL what do you know?!~? looks like a test!!!!"),
            "well-what-do-you-know-looks-like-a-test");
  EXPECT_EQ(slugify("WHAT IS THIS !!! ~~~~"), "what-is-this");
  EXPECT_EQ(slugify("!&& ~~ cool flow :shades:"), "cool-flow-shades");
  EXPECT_EQ(slugify("Über flow"), "uber-flow");
  EXPECT_EQ(slugify("My_Flow"), "my-flow");
  EXPECT_EQ(slugify("emoji-flow-❌"), "emoji-flow");
}

TEST(Slug, TransliteratesLatinLetters) {
  EXPECT_EQ(slugify("Łódź"), "lodz");
  EXPECT_EQ(slugify("Straße"), "strasse");
  EXPECT_EQ(slugify("Œuvre complète"), "oeuvre-complete");
  EXPECT_EQ(slugify("smørrebrød Ørsted"), "smorrebrod-orsted");
  EXPECT_EQ(slugify("ÀÉÎÕÜ ñ ç"), "aeiou-n-c");
}

TEST(Slug, EmptyAndAllPunctuationGiveEmpty) {
  EXPECT_EQ(slugify(""), "");
  EXPECT_EQ(slugify("!!! ~~~ ???"), "");
  EXPECT_EQ(slugify("❌❌"), "");
}

TEST(Slug, KeepsDigitsAndCollapsesRuns) {
  EXPECT_EQ(slugify("  etl  2023 -- v2  "), "etl-2023-v2");
  EXPECT_EQ(slugify("already-a-slug"), "already-a-slug");
  EXPECT_EQ(slugify("a/b\\c.d"), "a-b-c-d");
}

TEST(Slug, InvalidUtf8DoesNotLeakIntoTheSlug) {
  std::string s =
      slugify(std::string("ok\xff\xfe"
                          "flow\xc3",
                          9));
  EXPECT_EQ(s, "ok-flow");
}

TEST(Slug, TimestampWithMicroseconds) {
  EXPECT_EQ(timestamp_slug(jan_5_2023() + std::chrono::microseconds(123456)),
            "2023-01-05t12-34-56-123456-00-00");
}

TEST(Slug, TimestampWithoutMicroseconds) {
  EXPECT_EQ(timestamp_slug(jan_5_2023()), "2023-01-05t12-34-56-00-00");
}

TEST(Slug, TimestampKeepsSixFractionDigitsAndIgnoresSubMicroseconds) {
  // Python's isoformat prints all six digits once there is a fraction.
  EXPECT_EQ(timestamp_slug(jan_5_2023() + std::chrono::microseconds(120000)),
            "2023-01-05t12-34-56-120000-00-00");
  EXPECT_EQ(timestamp_slug(jan_5_2023() + std::chrono::microseconds(7)),
            "2023-01-05t12-34-56-000007-00-00");
  // Datetimes have microsecond resolution: a few nanoseconds are no fraction at all.
  auto ns = std::chrono::duration_cast<std::chrono::system_clock::duration>(
      std::chrono::nanoseconds(999));
  EXPECT_EQ(timestamp_slug(jan_5_2023() + ns), "2023-01-05t12-34-56-00-00");
}

TEST(Slug, GeneratedLocationIsSlugSlashTimestamp) {
  std::string loc = generated_location("My Flow!");
  static const std::regex shape(R"(^my-flow/\d{4}-\d{2}-\d{2}t\d{2}-\d{2}-\d{2}(-\d{6})?-00-00$)");
  EXPECT_TRUE(std::regex_match(loc, shape)) << loc;
  EXPECT_EQ(loc.rfind("my-flow/" + current_utc_year() + "-", 0), 0u) << loc;
}
