// The S3 object client: the REST API over net::send, signed with SigV4 (src/net/sigv4.hpp),
// configured from the reference's boto3 options: client_options (endpoint_url, use_ssl,
// region_name, verify, addressing_style, credentials) and upload_options (ExtraArgs).
// Checked against Ceph RGW (tests/support/ceph_rgw.hpp) and a loopback fake.
#pragma once

#include <string>
#include <string_view>

#include "ferry/codec.hpp"
#include "net/aws_credentials.hpp"
#include "net/object_client.hpp"

namespace ferry::net {

class S3Client : public ObjectClient {
 public:
  // client_options (a JSON object or null), boto3 client kwargs:
  //  - credentials and region as resolve_aws_credentials / resolve_aws_region find them
  //    (region default "us-east-1");
  //  - endpoint_url, else AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL, else
  //    https://s3.<region>.amazonaws.com (http with use_ssl=false);
  //  - addressing_style "auto" (default), "path" or "virtual": auto is path-style when the
  //    endpoint host is an IP address or localhost, or the bucket name is not a plain DNS
  //    label (a dot, upper case, '_'), else virtual-hosted;
  //  - verify: false turns TLS verification off (a CA bundle path is not supported: the
  //    system's CAs are used);
  //  - anything else is ignored (other boto3 kwargs).
  // upload_options (a JSON object or null), boto3 ExtraArgs sent with every put: ACL,
  // CacheControl, ContentDisposition, ContentEncoding, ContentLanguage, ContentType, Expires,
  // Metadata (object of strings), ServerSideEncryption, SSEKMSKeyId, StorageClass, Tagging,
  // WebsiteRedirectLocation, GrantRead, GrantFullControl. Another name is a ValueError.
  S3Client(std::string bucket, Value client_options = nullptr, Value upload_options = nullptr);

  std::string uri(std::string_view key) const override;  // "s3://bucket/key"
  ObjectInfo put(std::string_view key, std::string_view bytes,
                 const PutOptions& options = {}) override;
  ObjectData get(std::string_view key) override;
  bool exists(std::string_view key) override;

  // Creates the bucket (in the client's region); one that already belongs to the caller
  // is fine.
  void create_bucket();
  // Deletes the object; a missing one is fine (S3 answers 204 either way).
  void remove(std::string_view key);

  // The URL an object is requested at (path-style or virtual-hosted), for tests and logs.
  std::string object_url(std::string_view key) const;
  const std::string& endpoint() const { return endpoint_; }
  const std::string& region() const { return region_; }
  bool path_style() const { return path_style_; }

 private:
  Response send_signed(Request request, std::string_view key, std::string_view action) const;
  [[noreturn]] void fail(const Response& response, std::string_view key,
                         std::string_view action) const;

  std::string bucket_;
  AwsCredentials credentials_;
  std::string region_;
  std::string endpoint_;  // scheme://host[:port][/prefix], no trailing '/'
  bool path_style_ = false;
  bool verify_tls_ = true;
  Fields upload_headers_;  // upload_options as request headers
};

// "Tue, 01 Dec 2026 13:05:00 GMT" (an HTTP date) as "2026-12-01T13:05:00Z"; "" if it is not
// one.
std::string http_date_to_iso8601(std::string_view http_date);

// boto3 ExtraArgs as S3 request headers; ValueError for an unknown name (listing the known
// ones) or a value that is not a string.
Fields s3_upload_headers(const Value& upload_options);

}  // namespace ferry::net
