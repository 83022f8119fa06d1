// The S3 client (src/net/s3_client.hpp) against Ceph RGW, a real S3 server that checks the
// SigV4 signatures (round trips, metadata, errors by kind, conditional puts, upload_options),
// and against the loopback HttpServer for what RGW cannot show (addressing, endpoints from
// the environment, retries, the headers sent).
#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "core/digest.hpp"
#include "ferry/error.hpp"
#include "net/s3_client.hpp"
#include "net/sigv4.hpp"
#include "support/ceph_rgw.hpp"
#include "support/git_servers.hpp"  // free_port
#include "support/http_server.hpp"
#include "support/test_support.hpp"
#include "unit/net/object_test_util.hpp"
#include "unit/storage/storage_test_util.hpp"

namespace {

using ferry::object_test::object_error_of;
using ferry::object_test::random_bytes;

using ferry::Value;
using ferry::ValueError;
using ferry::net::ObjectError;
using ferry::net::PutOptions;
using ferry::net::S3Client;
using ferry::storage_test::error_of;
using ferry::storage_test::has;
using ferry::storage_test::ScopedEnv;
using ferry::test::CephRgw;
using ferry::test::HttpReply;
using ferry::test::HttpRequest;
using ferry::test::HttpServer;
using Kind = ObjectError::Kind;

// No AWS settings from the machine (secret, variables, shared files) and no secret store:
// each test says where its credentials and endpoint come from.
struct CleanAws {
  ferry::test::ScopedFerryHome home;
  std::vector<std::unique_ptr<ScopedEnv>> vars;
  CleanAws() {
    for (const char* name :
         {"AWS_CREDENTIALS", "FERRY__CONTEXT__SECRETS__AWS_CREDENTIALS", "AWS_ACCESS_KEY_ID",
          "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
          "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"})
      vars.push_back(std::make_unique<ScopedEnv>(name, nullptr));
    for (const char* name : {"AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"})
      vars.push_back(std::make_unique<ScopedEnv>(name, "/nonexistent/ferry-test-aws"));
  }
};

std::string random_name(const std::string& prefix) {
  std::random_device device;
  std::mt19937_64 engine(device());
  std::string out = prefix;
  for (int i = 0; i < 10; ++i) out += "abcdefghijklmnopqrstuvwxyz0123456789"[engine() % 36];
  return out;
}

// ---------------------------------------------------------------- against Ceph RGW

class S3ClientRgw : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!CephRgw::available())
      FAIL() << "Ceph (radosgw, ceph-mon, ceph-osd) is not installed: run scripts/install-deps.sh";
    try {
      rgw_ = &CephRgw::shared();
    } catch (const std::exception& e) {
      FAIL() << e.what();
    }
    static bool reported = false;
    if (!reported) {
      reported = true;
      std::cout << "[ Ceph RGW ] started in " << rgw_->start_seconds() << " s ("
                << rgw_->start_steps() << ")\n";
    }
  }

  Value options(const std::string& secret = "") const {
    return {{"endpoint_url", rgw_->endpoint()},
            {"aws_access_key_id", rgw_->access_key()},
            {"aws_secret_access_key", secret.empty() ? rgw_->secret_key() : secret}};
  }

  // A bucket of this test binary's run, made on first use.
  const std::string& bucket() {
    static const std::string name = [this] {
      std::string b = random_name("ferry-s3-");
      S3Client(b, options()).create_bucket();
      return b;
    }();
    return name;
  }

  S3Client client(Value upload_options = nullptr) {
    return S3Client(bucket(), options(), std::move(upload_options));
  }

  // A signed GET's response, headers included (ObjectData has no headers).
  ferry::net::Response raw_get(const std::string& key) {
    S3Client c = client();
    ferry::net::Request req;
    req.url = c.object_url(key);
    ferry::net::AwsCredentials creds{rgw_->access_key(), rgw_->secret_key(), "", "test"};
    ferry::net::sigv4::sign_request(req, creds,
                                    {.region = "us-east-1", .service = "s3", .s3 = true});
    return ferry::net::send(req);
  }

  CleanAws clean_;
  CephRgw* rgw_ = nullptr;
};

TEST_F(S3ClientRgw, BinaryBytesRoundTripWithEtagAndLastModified) {
  S3Client s3 = client();
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  bytes += std::string("\0\r\n\0", 4);
  ferry::net::ObjectInfo put = s3.put("flows/binary.bin", bytes);
  EXPECT_TRUE(put.etag.starts_with("\"")) << put.etag;

  ferry::net::ObjectData got = s3.get("flows/binary.bin");
  EXPECT_EQ(got.bytes, bytes);
  EXPECT_EQ(got.info.etag, put.etag);
  EXPECT_TRUE(
      std::regex_match(got.info.last_modified, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")))
      << got.info.last_modified;
  EXPECT_EQ(got.info.last_modified.substr(0, 4), ferry::storage_test::current_utc_year());
}

TEST_F(S3ClientRgw, FiveMegabytesRoundTrip) {
  S3Client s3 = client();
  std::string bytes = random_bytes(5 * 1024 * 1024);
  s3.put("flows/big.bin", bytes);
  ferry::net::ObjectData got = s3.get("flows/big.bin");
  ASSERT_EQ(got.bytes.size(), bytes.size());
  EXPECT_TRUE(got.bytes == bytes);
}

TEST_F(S3ClientRgw, KeysWithSpacesAndUnicodeAreSignedAndStoredAsGiven) {
  S3Client s3 = client();
  const std::string key = "my flows/a b+c=d&e~f(1)/fl\xC3\xB6w.py";
  s3.put(key, "print('hi')");
  EXPECT_EQ(s3.get(key).bytes, "print('hi')");
  EXPECT_TRUE(s3.exists(key));
}

TEST_F(S3ClientRgw, ExistsAndRemove) {
  S3Client s3 = client();
  EXPECT_FALSE(s3.exists("flows/not-there"));
  s3.put("flows/here", "x");
  EXPECT_TRUE(s3.exists("flows/here"));
  s3.put("flows/empty", "");
  EXPECT_TRUE(s3.exists("flows/empty"));
  s3.remove("flows/here");
  EXPECT_FALSE(s3.exists("flows/here"));
  EXPECT_NO_THROW(s3.remove("flows/here"));  // already gone: fine
}

TEST_F(S3ClientRgw, MissingKeyIsNotFoundNamingTheObject) {
  S3Client s3 = client();
  ObjectError e = object_error_of([&] { s3.get("flows/missing-key"); });
  EXPECT_EQ(e.kind(), Kind::NotFound) << e.what();
  EXPECT_EQ(e.status(), 404);
  EXPECT_TRUE(has(e.what(), "s3://" + bucket() + "/flows/missing-key")) << e.what();
}

TEST_F(S3ClientRgw, MissingBucketIsNoSuchBucket) {
  std::string missing = random_name("ferry-missing-");
  S3Client s3(missing, options());
  ObjectError e = object_error_of([&] { s3.get("k"); });
  EXPECT_EQ(e.kind(), Kind::NoSuchBucket) << e.what();
  EXPECT_TRUE(has(e.what(), missing)) << e.what();
  ObjectError on_exists = object_error_of([&] { s3.exists("k"); });
  EXPECT_EQ(on_exists.kind(), Kind::NoSuchBucket) << on_exists.what();
}

TEST_F(S3ClientRgw, WrongSecretIsAuthWithoutTheSecretInTheMessage) {
  bucket();
  const std::string wrong = "WrongSecretKeyValue0123456789abcdefghijk";
  S3Client s3(bucket(), options(wrong));
  for (auto call :
       {+[](S3Client& c) { c.get("flows/binary.bin"); },
        +[](S3Client& c) { c.put("flows/x", "y"); }, +[](S3Client& c) { c.exists("flows/x"); }}) {
    ObjectError e = object_error_of([&] { call(s3); });
    EXPECT_EQ(e.kind(), Kind::Auth) << e.what();
    EXPECT_EQ(e.status(), 403);
    std::string message = e.what();
    EXPECT_TRUE(has(message, "s3://" + bucket() + "/flows/")) << message;
    EXPECT_TRUE(has(message, "client_options")) << message;  // where the credentials came from
    EXPECT_FALSE(has(message, wrong)) << message;
    EXPECT_FALSE(has(message, rgw_->secret_key())) << message;
  }
}

TEST_F(S3ClientRgw, OverwriteOffRefusesAndKeepsTheOldObject) {
  S3Client s3 = client();
  const std::string key = random_name("flows/once-");
  PutOptions once;
  once.overwrite = false;
  s3.put(key, "first", once);  // a new key: allowed
  ObjectError e = object_error_of([&] { s3.put(key, "second", once); });
  EXPECT_EQ(e.kind(), Kind::AlreadyExists) << e.what();
  EXPECT_TRUE(has(e.what(), s3.uri(key))) << e.what();
  EXPECT_EQ(s3.get(key).bytes, "first");
  s3.put(key, "third");  // overwrite on (the default) replaces it
  EXPECT_EQ(s3.get(key).bytes, "third");
}

TEST_F(S3ClientRgw, UploadOptionsAreSentAsHeaders) {
  S3Client s3 = client({{"Metadata", {{"owner", "ferry"}, {"flow", "etl"}}},
                        {"ContentType", "text/x-python"},
                        {"CacheControl", "no-cache"},
                        {"ContentDisposition", "attachment; filename=\"f.py\""}});
  s3.put("flows/with-options.py", "print(1)");
  ferry::net::Response r = raw_get("flows/with-options.py");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("x-amz-meta-owner"), "ferry");
  EXPECT_EQ(r.header("x-amz-meta-flow"), "etl");
  EXPECT_EQ(r.header("Content-Type"), "text/x-python");
  EXPECT_EQ(r.header("Cache-Control"), "no-cache");
  EXPECT_EQ(r.header("Content-Disposition"), "attachment; filename=\"f.py\"");
}

TEST_F(S3ClientRgw, CreatingAnOwnedBucketAgainIsFine) {
  EXPECT_NO_THROW(S3Client(bucket(), options()).create_bucket());
}

// ---------------------------------------------------------------- without a server

Value fake_keys(const std::string& endpoint = "") {
  Value v = {{"aws_access_key_id", "AKIDEXAMPLE"},
             {"aws_secret_access_key", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}};
  if (!endpoint.empty()) v["endpoint_url"] = endpoint;
  return v;
}

TEST(S3Client, UnknownUploadOptionIsAValueErrorListingTheKnownOnes) {
  CleanAws clean;
  std::string message = error_of<ValueError>([] {
    S3Client("b", fake_keys(), {{"ContentTyp", "text/plain"}});
  });
  EXPECT_TRUE(has(message, "ContentTyp")) << message;
  EXPECT_TRUE(has(message, "ContentType")) << message;
  EXPECT_TRUE(has(message, "Metadata")) << message;
  EXPECT_TRUE(has(message, "GrantFullControl")) << message;
}

TEST(S3Client, UploadOptionHeaders) {
  ferry::net::Fields h = ferry::net::s3_upload_headers({{"ACL", "private"},
                                                        {"StorageClass", "STANDARD_IA"},
                                                        {"Metadata", {{"a", "1"}}},
                                                        {"ServerSideEncryption", "aws:kms"},
                                                        {"SSEKMSKeyId", "key-1"},
                                                        {"Tagging", "t=1"}});
  ferry::net::Fields expected = {{"x-amz-acl", "private"},
                                 {"x-amz-meta-a", "1"},
                                 {"x-amz-server-side-encryption-aws-kms-key-id", "key-1"},
                                 {"x-amz-server-side-encryption", "aws:kms"},
                                 {"x-amz-storage-class", "STANDARD_IA"},
                                 {"x-amz-tagging", "t=1"}};
  EXPECT_EQ(h, expected);  // in name order: nlohmann objects iterate so
  EXPECT_TRUE(ferry::net::s3_upload_headers(nullptr).empty());
  EXPECT_TRUE(has(error_of<ValueError>([] {
                    ferry::net::s3_upload_headers({{"ACL", 1}});
                  }),
                  "ACL"));
}

TEST(S3Client, HttpDatesBecomeIso8601Utc) {
  EXPECT_EQ(ferry::net::http_date_to_iso8601("Tue, 01 Dec 2026 13:05:00 GMT"),
            "2026-12-01T13:05:00Z");
  EXPECT_EQ(ferry::net::http_date_to_iso8601("Sun, 06 Nov 1994 08:49:37 GMT"),
            "1994-11-06T08:49:37Z");
  EXPECT_EQ(ferry::net::http_date_to_iso8601("yesterday"), "");
  EXPECT_EQ(ferry::net::http_date_to_iso8601(""), "");
}

TEST(S3Client, AddressingStyleRules) {
  CleanAws clean;
  ScopedEnv region("AWS_REGION", "eu-west-1");
  // No endpoint: AWS's, virtual-hosted for a DNS-label bucket.
  EXPECT_EQ(S3Client("flows", fake_keys()).object_url("a/b c"),
            "https://flows.s3.eu-west-1.amazonaws.com/a/b%20c");
  // A dot in the name (TLS wildcards match one label) or upper case: path-style.
  EXPECT_EQ(S3Client("my.flows", fake_keys()).object_url("k"),
            "https://s3.eu-west-1.amazonaws.com/my.flows/k");
  EXPECT_EQ(S3Client("My_Flows", fake_keys()).object_url("k"),
            "https://s3.eu-west-1.amazonaws.com/My_Flows/k");
  // IP addresses and localhost: path-style, unless told otherwise.
  EXPECT_TRUE(S3Client("flows", fake_keys("http://10.1.2.3:9000")).path_style());
  EXPECT_TRUE(S3Client("flows", fake_keys("http://localhost:9000/")).path_style());
  EXPECT_FALSE(S3Client("flows", fake_keys("https://minio.example.com")).path_style());
  Value path = fake_keys("https://minio.example.com");
  path["addressing_style"] = "path";
  EXPECT_EQ(S3Client("flows", path).object_url("k"), "https://minio.example.com/flows/k");
  Value virt = fake_keys("http://localhost:9000");
  virt["addressing_style"] = "virtual";
  EXPECT_EQ(S3Client("flows", virt).object_url("k"), "http://flows.localhost:9000/k");
  Value http = fake_keys();
  http["use_ssl"] = false;
  EXPECT_EQ(S3Client("flows", http).object_url("k"), "http://flows.s3.eu-west-1.amazonaws.com/k");
  Value bad = fake_keys();
  bad["addressing_style"] = "sideways";
  EXPECT_TRUE(has(error_of<ValueError>([&] { S3Client("flows", bad); }), "sideways"));
}

TEST(S3Client, UriNamesBucketAndKey) {
  CleanAws clean;
  EXPECT_EQ(S3Client("bkt", fake_keys()).uri("a/b.py"), "s3://bkt/a/b.py");
}

// ---------------------------------------------------------------- against the loopback fake

TEST(S3ClientFake, PathStyleRequestsGoToSlashBucketSlashKey) {
  CleanAws clean;
  HttpServer server;
  S3Client s3("flows", fake_keys(server.url("/")));
  s3.put("dir/flow.py", "body");
  ASSERT_EQ(server.request_count(), 1u);
  HttpRequest r = server.requests()[0];
  EXPECT_EQ(r.method, "PUT");
  EXPECT_EQ(r.target, "/flows/dir/flow.py");
  EXPECT_EQ(r.header("Host"), "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(server.stored("/flows/dir/flow.py"), "body");
}

TEST(S3ClientFake, VirtualHostedRequestsPutTheBucketInTheHost) {
  CleanAws clean;
  HttpServer server;
  Value o = fake_keys("http://localhost:" + std::to_string(server.port()));
  o["addressing_style"] = "virtual";
  S3Client s3("flows", o);
  s3.put("dir/flow.py", "body");  // curl resolves *.localhost to the loopback address
  ASSERT_EQ(server.request_count(), 1u);
  HttpRequest r = server.requests()[0];
  EXPECT_EQ(r.target, "/dir/flow.py");
  EXPECT_EQ(r.header("Host"), "flows.localhost:" + std::to_string(server.port()));
}

TEST(S3ClientFake, EndpointFromAwsEndpointUrlS3BeforeAwsEndpointUrl) {
  CleanAws clean;
  HttpServer server;
  ScopedEnv s3_endpoint("AWS_ENDPOINT_URL_S3", server.url("/").c_str());
  ScopedEnv general("AWS_ENDPOINT_URL", "http://127.0.0.1:1");
  S3Client s3("flows", fake_keys());
  EXPECT_EQ(s3.endpoint(), server.url(""));
  s3.put("k", "v");
  EXPECT_EQ(server.stored("/flows/k"), "v");
  // client_options endpoint_url wins over both.
  HttpServer other;
  S3Client explicit_endpoint("flows", fake_keys(other.url("/")));
  explicit_endpoint.put("k", "w");
  EXPECT_EQ(other.stored("/flows/k"), "w");
  EXPECT_EQ(server.request_count(), 1u);
}

TEST(S3ClientFake, SignedHeadersMatchTheBody) {
  CleanAws clean;
  HttpServer server;
  Value o = fake_keys(server.url("/"));
  o["region_name"] = "eu-central-1";
  S3Client s3("flows", o);
  s3.put("k", std::string("payload\0bytes", 13));
  HttpRequest r = server.requests().at(0);
  std::string auth = r.header("Authorization");
  EXPECT_TRUE(auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")) << auth;
  EXPECT_TRUE(has(auth, "/eu-central-1/s3/aws4_request")) << auth;
  EXPECT_EQ(r.header("x-amz-content-sha256"), ferry::detail::sha256_hex(r.body));
  EXPECT_EQ(r.body, std::string("payload\0bytes", 13));
  EXPECT_FALSE(r.has_header("X-Amz-Security-Token"));
  EXPECT_EQ(r.header("Content-Type"), "application/octet-stream");
}

TEST(S3ClientFake, SessionTokenIsSent) {
  CleanAws clean;
  HttpServer server;
  Value o = fake_keys(server.url("/"));
  o["aws_session_token"] = "SessionTokenValue123";
  S3Client("flows", o).put("k", "v");
  HttpRequest r = server.requests().at(0);
  EXPECT_EQ(r.header("X-Amz-Security-Token"), "SessionTokenValue123");
  EXPECT_TRUE(has(r.header("Authorization"), "x-amz-security-token")) << "signed";
}

TEST(S3ClientFake, OverwriteOffSendsIfNoneMatch) {
  CleanAws clean;
  HttpServer server([](const HttpRequest&) {
    return HttpReply{412, {}, "<Error><Code>PreconditionFailed</Code></Error>"};
  });
  PutOptions once;
  once.overwrite = false;
  ObjectError e =
      object_error_of([&] { S3Client("flows", fake_keys(server.url("/"))).put("k", "v", once); });
  EXPECT_EQ(e.kind(), Kind::AlreadyExists) << e.what();
  EXPECT_EQ(server.requests().at(0).header("If-None-Match"), "*");
}

TEST(S3ClientFake, A503ThenSuccessIsRetried) {
  CleanAws clean;
  HttpServer server;
  server.fail_next(1, 503);
  S3Client("flows", fake_keys(server.url("/"))).put("k", "v");
  EXPECT_EQ(server.request_count(), 2u);
  EXPECT_EQ(server.stored("/flows/k"), "v");
}

TEST(S3ClientFake, ADroppedConnectionIsRetried) {
  CleanAws clean;
  HttpServer server;
  server.drop_next(1);
  S3Client s3("flows", fake_keys(server.url("/")));
  s3.put("k", "v");
  EXPECT_EQ(server.request_count(), 2u);
  EXPECT_EQ(s3.get("k").bytes, "v");
}

TEST(S3ClientFake, Persistent503IsTransient) {
  CleanAws clean;
  HttpServer server;
  server.fail_next(10, 503);
  ObjectError e = object_error_of([&] { S3Client("flows", fake_keys(server.url("/"))).get("k"); });
  EXPECT_EQ(e.kind(), Kind::Transient) << e.what();
  EXPECT_EQ(e.status(), 503);
  EXPECT_EQ(server.request_count(), 4u);  // the first attempt and net::send's 3 retries
}

TEST(S3ClientFake, NoServerIsTransientNamingTheEndpoint) {
  CleanAws clean;
  int port = ferry::test::free_port();  // nothing listens there
  std::string endpoint = "http://127.0.0.1:" + std::to_string(port);
  ObjectError e = object_error_of([&] { S3Client("flows", fake_keys(endpoint)).get("k"); });
  EXPECT_EQ(e.kind(), Kind::Transient) << e.what();
  EXPECT_EQ(e.status(), 0);
  EXPECT_TRUE(has(e.what(), endpoint)) << e.what();
}

TEST(S3ClientFake, A403IsNotRetried) {
  CleanAws clean;
  HttpServer server([](const HttpRequest&) {
    return HttpReply{403,
                     {{"Content-Type", "application/xml"}},
                     "<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code>"
                     "<Message>Access Denied</Message></Error>"};
  });
  ObjectError e =
      object_error_of([&] { S3Client("flows", fake_keys(server.url("/"))).get("a/k"); });
  EXPECT_EQ(e.kind(), Kind::Auth) << e.what();
  EXPECT_EQ(server.request_count(), 1u);
  EXPECT_TRUE(has(e.what(), "s3://flows/a/k")) << e.what();
  EXPECT_FALSE(has(e.what(), "wJalrXUtnFEMI")) << e.what();
}

TEST(S3ClientFake, WrongRegionHintsAtRegionName) {
  CleanAws clean;
  HttpServer server([](const HttpRequest&) {
    return HttpReply{301,
                     {{"x-amz-bucket-region", "eu-west-1"}},
                     "<Error><Code>PermanentRedirect</Code></Error>"};
  });
  ObjectError e = object_error_of([&] { S3Client("flows", fake_keys(server.url("/"))).get("k"); });
  EXPECT_EQ(e.kind(), Kind::Other) << e.what();
  EXPECT_TRUE(has(e.what(), "region_name")) << e.what();
  EXPECT_TRUE(has(e.what(), "eu-west-1")) << e.what();
}

}  // namespace
