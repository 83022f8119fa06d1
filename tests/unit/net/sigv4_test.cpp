// SigV4 against AWS's published Signature Version 4 test suite (credentials AKIDEXAMPLE /
// wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, 20150830T123600Z, us-east-1, service "service"):
// the expected Authorization values are the suite's.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "net/sigv4.hpp"

namespace {

using namespace std::chrono;
using ferry::net::AwsCredentials;
using ferry::net::Fields;
namespace sigv4 = ferry::net::sigv4;

const AwsCredentials kCreds{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "", "test"};
const char kScope[] =
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, ";

system_clock::time_point suite_time() {
  return sys_days{year{2015} / August / 30} + hours{12} + minutes{36};
}

sigv4::Options suite_options() {
  return {.region = "us-east-1", .service = "service", .time = suite_time()};
}

struct Vector {
  const char* name;
  const char* method;
  std::string path;
  std::string query;  // as sent
  Fields extra_headers;
  std::string body;
  const char* signed_headers;
  const char* signature;
};

std::string authorization(const Vector& v, const AwsCredentials& creds = kCreds) {
  sigv4::Message m;
  m.method = v.method;
  m.path = v.path;
  m.query = v.query;
  m.headers = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}};
  for (const auto& h : v.extra_headers) m.headers.push_back(h);
  m.body = v.body;
  return sigv4::sign_message(m, creds, suite_options()).authorization;
}

std::string expected(const Vector& v) {
  return std::string(kScope) + "SignedHeaders=" + v.signed_headers + ", Signature=" + v.signature;
}

const char kUnreserved[] = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

}  // namespace

TEST(SigV4, AwsTestSuiteVectors) {
  const std::string u = kUnreserved;
  const Vector vectors[] = {
      {"get-vanilla",
       "GET",
       "/",
       "",
       {},
       "",
       "host;x-amz-date",
       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
      {"get-vanilla-query-order-key-case",
       "GET",
       "/",
       "Param2=value2&Param1=value1",
       {},
       "",
       "host;x-amz-date",
       "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
      {"get-vanilla-query-unreserved",
       "GET",
       "/",
       u + "=" + u,
       {},
       "",
       "host;x-amz-date",
       "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"},
      {"get-vanilla-utf8-query",
       "GET",
       "/",
       "\xE1\x88\xB4=bar",
       {},
       "",
       "host;x-amz-date",
       "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"},
      {"get-vanilla-empty-query-key",
       "GET",
       "/",
       "Param1=value1",
       {},
       "",
       "host;x-amz-date",
       "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb"},
      {"get-utf8",
       "GET",
       "/\xE1\x88\xB4",
       "",
       {},
       "",
       "host;x-amz-date",
       "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"},
      {"get-unreserved",
       "GET",
       "/" + u,
       "",
       {},
       "",
       "host;x-amz-date",
       "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"},
      {"get-header-key-duplicate",
       "GET",
       "/",
       "",
       {{"My-Header1", "value2"}, {"My-Header1", "value2"}, {"My-Header1", "value1"}},
       "",
       "host;my-header1;x-amz-date",
       "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"},
      {"get-header-value-order",
       "GET",
       "/",
       "",
       {{"My-Header1", "value4"},
        {"My-Header1", "value1"},
        {"My-Header1", "value3"},
        {"My-Header1", "value2"}},
       "",
       "host;my-header1;x-amz-date",
       "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"},
      {"get-header-value-trim",
       "GET",
       "/",
       "",
       {{"My-Header1", " value1"}, {"My-Header2", "\"a   b   c\""}},
       "",
       "host;my-header1;my-header2;x-amz-date",
       "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"},
      {"post-vanilla",
       "POST",
       "/",
       "",
       {},
       "",
       "host;x-amz-date",
       "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
      {"post-vanilla-query",
       "POST",
       "/",
       "Param1=value1",
       {},
       "",
       "host;x-amz-date",
       "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"},
      {"post-vanilla-query-nonunreserved",
       "POST",
       "/",
       "%40%23%24%25%5E=&%2B=%2F%2C%3F%3E%3C%60%22%3B%3A%5C%7C%5D%5B%7B%7D",
       {},
       "",
       "host;x-amz-date",
       "66c82657c86e26fb25238d0e69f011edc4c6df5ae71119d7cb98ed9b87393c1e"},
      {"post-vanilla-query-space",
       "POST",
       "/",
       "p=",
       {},
       "",
       "host;x-amz-date",
       "e71688addb58a26418614085fb730ba3faa623b461c17f48f2fbdb9361b94a9b"},
      {"post-header-key-sort",
       "POST",
       "/",
       "",
       {{"My-Header1", "value1"}},
       "",
       "host;my-header1;x-amz-date",
       "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"},
      {"post-header-value-case",
       "POST",
       "/",
       "",
       {{"My-Header1", "VALUE1"}},
       "",
       "host;my-header1;x-amz-date",
       "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"},
      {"post-x-www-form-urlencoded",
       "POST",
       "/",
       "",
       {{"Content-Type", "application/x-www-form-urlencoded"}},
       "Param1=value1",
       "content-type;host;x-amz-date",
       "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"},
      {"post-x-www-form-urlencoded-parameters",
       "POST",
       "/",
       "",
       {{"Content-Type", "application/x-www-form-urlencoded; charset=utf8"}},
       "Param1=value1",
       "content-type;host;x-amz-date",
       "1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe"},
  };
  for (const Vector& v : vectors) EXPECT_EQ(authorization(v), expected(v)) << v.name;
}

TEST(SigV4, SessionTokenIsSignedAsTheSuiteShows) {
  AwsCredentials creds = kCreds;
  creds.session_token =
      "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfp"
      "SPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQ"
      "DYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+"
      "scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";
  Vector v{"post-sts-header-before",
           "POST",
           "/",
           "",
           {{"X-Amz-Security-Token", creds.session_token}},
           "",
           "host;x-amz-date;x-amz-security-token",
           "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"};
  EXPECT_EQ(authorization(v, creds), expected(v));
}

TEST(SigV4, CanonicalRequestAndStringToSignOfTheSuite) {
  sigv4::Message m{"GET",
                   "/",
                   "Param2=value2&Param1=value1",
                   {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}},
                   ""};
  sigv4::Signature s = sigv4::sign_message(m, kCreds, suite_options());
  EXPECT_EQ(s.canonical_request,
            "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\n"
            "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(s.string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
            "816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0");
}

TEST(SigV4, CanonicalQueryAndUriEncoding) {
  EXPECT_EQ(sigv4::canonical_query(""), "");
  EXPECT_EQ(sigv4::canonical_query("b=2&a=1&a=0"), "a=0&a=1&b=2");
  EXPECT_EQ(sigv4::canonical_query("k=a%20b&flag"), "flag=&k=a%20b");
  EXPECT_EQ(sigv4::canonical_query("x=a+b"), "x=a%2Bb") << "'+' is not a space";
  EXPECT_EQ(sigv4::canonical_query("prefix=a/b~c"), "prefix=a%2Fb~c");
  EXPECT_EQ(sigv4::canonical_uri("", false), "/");
  EXPECT_EQ(sigv4::canonical_uri("/a/./b/../c//d/", false), "/a/c/d/");
  EXPECT_EQ(sigv4::canonical_uri("/a%20b", false), "/a%2520b") << "other services: twice";
  EXPECT_EQ(sigv4::canonical_uri("/a%20b/c d", true), "/a%20b/c%20d") << "S3: once";
  EXPECT_EQ(sigv4::canonical_uri("/a//b/../c", true), "/a//b/../c") << "S3: not normalized";
}

TEST(SigV4, SignRequestSignsWhatGoesOnTheWire) {
  ferry::net::Request r;
  r.url = "https://example.amazonaws.com/";
  r.params = {{"Param2", "value2"}, {"Param1", "value1"}};
  sigv4::Signature s = sigv4::sign_request(r, kCreds, suite_options());
  EXPECT_EQ(s.authorization,
            std::string(kScope) + "SignedHeaders=host;x-amz-date, Signature=" +
                "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
  EXPECT_EQ(r.url, "https://example.amazonaws.com/?Param2=value2&Param1=value1");
  EXPECT_TRUE(r.params.empty());
  Fields want = {{"Host", "example.amazonaws.com"},
                 {"X-Amz-Date", "20150830T123600Z"},
                 {"Authorization", s.authorization}};
  EXPECT_EQ(r.headers, want);

  ferry::net::Request local;
  local.method = "POST";
  local.url = "http://127.0.0.1:8080";
  local.body = "{}";
  AwsCredentials temp = kCreds;
  temp.session_token = "TOKEN";
  sigv4::sign_request(local, temp,
                      {.region = "eu-west-1", .service = "s3", .time = suite_time(), .s3 = true});
  std::string host, token, content;
  for (const auto& [n, v] : local.headers) {
    if (n == "Host") host = v;
    if (n == "X-Amz-Security-Token") token = v;
    if (n == "X-Amz-Content-Sha256") content = v;
  }
  EXPECT_EQ(host, "127.0.0.1:8080");
  EXPECT_EQ(token, "TOKEN");
  EXPECT_EQ(content, "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
}

TEST(SigV4, ParseAuthorization) {
  auto a = sigv4::parse_authorization(std::string(kScope) +
                                      "SignedHeaders=host;x-amz-date, Signature=abc123");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->access_key_id, "AKIDEXAMPLE");
  EXPECT_EQ(a->date, "20150830");
  EXPECT_EQ(a->region, "us-east-1");
  EXPECT_EQ(a->service, "service");
  EXPECT_EQ(a->signed_headers, (std::vector<std::string>{"host", "x-amz-date"}));
  EXPECT_EQ(a->signature, "abc123");
  EXPECT_FALSE(sigv4::parse_authorization("Bearer x"));
  EXPECT_FALSE(sigv4::parse_authorization("AWS4-HMAC-SHA256 Credential=a/b, Signature=x"));
}
