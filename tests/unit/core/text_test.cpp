// The shared string helpers: case-insensitive compare, trim, percent-decoding, base64.
#include "core/text.hpp"

#include <gtest/gtest.h>

namespace ferry::detail {
namespace {

TEST(Text, IequalsAndTrim) {
  EXPECT_TRUE(iequals("Content-Type", "content-type"));
  EXPECT_FALSE(iequals("Content-Type", "content-typ"));
  EXPECT_EQ(trim(" \t a b \r\n"), "a b");
  EXPECT_EQ(trim(" \r\n"), "");
}

TEST(Text, PercentDecodeKeepsMalformedSequences) {
  EXPECT_EQ(percent_decode("a%2Fb%20c%41"), "a/b cA");
  EXPECT_EQ(percent_decode("%2f"), "/");
  EXPECT_EQ(percent_decode("100%"), "100%");
  EXPECT_EQ(percent_decode("%G1%4"), "%G1%4");
}

TEST(Text, Base64RoundTripsAndRefusesNonBase64) {
  // RFC 4648 section 10 test vectors.
  const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(base64_encode(plain), encoded);
    EXPECT_EQ(base64_decode(encoded), std::string(plain)) << encoded;
  }
  EXPECT_EQ(base64_decode("Zm9v\nYmFy\n"), "foobar");  // GitHub wraps content in lines
  std::string binary("\0\xff\x80", 3);
  EXPECT_EQ(base64_decode(base64_encode(binary)), binary);
  EXPECT_FALSE(base64_decode("Zm9"));
  EXPECT_FALSE(base64_decode("Zm9*"));
}

}  // namespace
}  // namespace ferry::detail
