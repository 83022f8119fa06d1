// AWS Signature Version 4 (for CodeCommit now, S3 later): canonical request, string to sign,
// signing key and Authorization header, checked against AWS's published test-suite vectors
// (tests/unit/net/sigv4_test.cpp). curl's own SigV4 option does not canonicalize query
// strings, so ferry signs requests itself.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/aws_credentials.hpp"
#include "net/http_client.hpp"

namespace ferry::net::sigv4 {

struct Options {
  std::string region{};
  std::string service{};
  std::chrono::system_clock::time_point time = std::chrono::system_clock::now();
  // S3 rules: the path is encoded once and not normalized, and the payload hash is also sent
  // as x-amz-content-sha256. Other services encode the path (as sent) again.
  bool s3 = false;
  // The payload hash to sign; default the SHA-256 of the body ("UNSIGNED-PAYLOAD" for S3
  // streaming uploads).
  std::string payload_hash{};
};

// What signing produced; the intermediate texts are kept for tests and for error messages
// of a verifier.
struct Signature {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signed_headers;  // "host;x-amz-date"
  std::string signature;       // 64 hex digits
  std::string authorization;   // the Authorization header's value
};

// A request as the signer sees it: the path as sent (percent-encoded), the query as sent
// (without '?'), and every header that is to be signed (names in any case; repeated names
// are joined with ',' in order).
struct Message {
  std::string method;
  std::string path = "/";
  std::string query{};
  Fields headers{};
  std::string body{};
};

// "20150830T123600Z".
std::string amz_date(std::chrono::system_clock::time_point time);

// The canonical URI of a path as sent: S3 decodes and re-encodes each segment once; other
// services remove "." and ".." segments and empty ones, then encode each segment again.
std::string canonical_uri(std::string_view path, bool s3);
// The canonical query of a query as sent: each name and value decoded, then encoded with
// AWS's rules (only A-Z a-z 0-9 - _ . ~ stay), pairs sorted by name then value, '&'-joined.
std::string canonical_query(std::string_view query);

// Signs a message whose headers already hold Host and X-Amz-Date (and
// X-Amz-Security-Token when there is a session token).
Signature sign_message(const Message& message, const AwsCredentials& credentials,
                       const Options& options);

// Signs a request for sending: adds Host, X-Amz-Date, X-Amz-Security-Token (when the
// credentials have a session token), X-Amz-Content-Sha256 (S3) and Authorization. Every
// header the request carries is signed (the client sends exactly those, plus
// Content-Length, Accept and Expect-style headers curl adds, which are not).
Signature sign_request(Request& request, const AwsCredentials& credentials, const Options& options);

// The parts of an Authorization header, for a server checking a signature.
struct Authorization {
  std::string access_key_id, date, region, service;
  std::vector<std::string> signed_headers;
  std::string signature;
};
std::optional<Authorization> parse_authorization(std::string_view header);

// HMAC-SHA256 (raw bytes) and hex, exposed for the tests.
std::string hmac_sha256(std::string_view key, std::string_view data);
std::string hex(std::string_view bytes);

}  // namespace ferry::net::sigv4
