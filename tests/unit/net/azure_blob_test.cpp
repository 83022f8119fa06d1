// The Azure Blob client (src/net/azure_blob.hpp) against azurite, which checks SharedKey
// signatures and SAS tokens, and against the loopback HttpServer for retries, the requests
// sent and the error messages.
#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <functional>
#include <iostream>
#include <memory>
#include <regex>
#include <string>

#include "core/masking.hpp"
#include "ferry/error.hpp"
#include "net/azure_blob.hpp"
#include "support/azurite_server.hpp"
#include "support/http_server.hpp"
#include "unit/net/object_test_util.hpp"

namespace {

using ferry::object_test::object_error_of;
using ferry::object_test::random_bytes;

using ferry::net::AzureBlobClient;
using ferry::net::ObjectData;
using ferry::net::ObjectError;
using ferry::net::ObjectInfo;
using ferry::net::PutOptions;
using ferry::test::AzuriteServer;
using ferry::test::HttpReply;
using ferry::test::HttpRequest;
using ferry::test::HttpServer;
using Kind = ObjectError::Kind;

// Another valid base64 key: the server must refuse it.
const std::string kWrongKey = "d3Jvbmcta2V5LWZvci1kZXZzdG9yZWFjY291bnQxLXRlc3Rz";

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A message is clean when no credential is in it, and nothing had to be masked either (the
// masking registry would otherwise hide a leak from the check).
void expect_no_secret(const std::string& message, const std::string& sas = "") {
  EXPECT_FALSE(has(message, std::string(ferry::net::kDevStorageKey))) << message;
  EXPECT_FALSE(has(message, kWrongKey)) << message;
  EXPECT_FALSE(has(message, "sig=")) << message;
  EXPECT_FALSE(has(message, "SharedKey ")) << message;
  EXPECT_FALSE(has(message, "****")) << message;
  if (!sas.empty()) {
    std::size_t sig = sas.find("sig=");
    EXPECT_FALSE(has(message, sas.substr(sig + 4))) << message;
  }
}

bool iso_utc(const std::string& text) {
  return std::regex_match(text, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)"));
}

std::string binary_bytes() {
  std::string bytes;
  for (int i = 0; i < 512; ++i) bytes.push_back(static_cast<char>(i % 256));
  return bytes;
}

// A fresh container on the shared azurite, named after the test.
class AzuriteBlob : public ::testing::Test {
 protected:
  AzuriteBlob() : server_(AzuriteServer::shared()), container_(container_name()) {
    static bool reported = false;
    if (!reported) {
      std::cerr << "[azurite] started in " << server_.start_time().count() << " ms\n";
      reported = true;
    }
    client_ = std::make_unique<AzureBlobClient>(container_, server_.connection_string());
    client_->create_container();
  }

  static std::string container_name() {
    std::string name = "t-";
    for (char c : std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()))
      if (std::isalnum(static_cast<unsigned char>(c)))
        name.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    return name.substr(0, 63);
  }

  AzuriteServer& server_;
  std::string container_;
  std::unique_ptr<AzureBlobClient> client_;
};

}  // namespace

TEST_F(AzuriteBlob, BinaryAndFiveMegabyteBlobsRoundTripWithEtagAndLastModified) {
  std::string big(5 * 1024 * 1024, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 131 + i / 7) % 256);
  for (const auto& [key, bytes] :
       std::vector<std::pair<std::string, std::string>>{{"flows/binary.bin", binary_bytes()},
                                                        {"flows/five-mb.bin", big},
                                                        {"my flow/2026 12 01+x.bin", "spaces"},
                                                        {"empty", ""}}) {
    ObjectInfo put = client_->put(key, bytes);
    EXPECT_TRUE(put.etag.size() > 2 && put.etag.front() == '"') << put.etag;
    EXPECT_TRUE(iso_utc(put.last_modified)) << put.last_modified;
    ObjectData got = client_->get(key);
    EXPECT_EQ(got.bytes.size(), bytes.size()) << key;
    EXPECT_TRUE(got.bytes == bytes) << key;
    EXPECT_EQ(got.info.etag, put.etag) << key;
    EXPECT_TRUE(iso_utc(got.info.last_modified)) << got.info.last_modified;
  }
  EXPECT_EQ(client_->uri("flows/binary.bin"), "az://" + container_ + "/flows/binary.bin");
}

TEST_F(AzuriteBlob, ExistsForBlobsEmptyOrNotAndNotForMissingOnes) {
  client_->put("full", "bytes");
  client_->put("empty", "");
  EXPECT_TRUE(client_->exists("full"));
  EXPECT_TRUE(client_->exists("empty"));
  EXPECT_FALSE(client_->exists("missing"));
  client_->remove("full");
  EXPECT_FALSE(client_->exists("full"));
  client_->remove("full");      // already gone: fine
  client_->create_container();  // exists already: fine
}

TEST_F(AzuriteBlob, MissingBlobIsNotFoundNamingItsUri) {
  ObjectError e = object_error_of([&] { client_->get("flows/missing"); });
  EXPECT_EQ(e.kind(), Kind::NotFound) << e.what();
  EXPECT_EQ(e.status(), 404);
  EXPECT_TRUE(has(e.what(), "az://" + container_ + "/flows/missing")) << e.what();
}

TEST_F(AzuriteBlob, MissingContainerIsNoSuchBucket) {
  AzureBlobClient other("no-such-container", server_.connection_string());
  for (auto call : std::vector<std::function<void()>>{[&] { other.get("blob"); },
                                                      [&] { other.put("blob", "x"); },
                                                      [&] { other.exists("blob"); }}) {
    ObjectError e = object_error_of(call);
    EXPECT_EQ(e.kind(), Kind::NoSuchBucket) << e.what();
    EXPECT_TRUE(has(e.what(), "container 'no-such-container' does not exist")) << e.what();
    EXPECT_TRUE(has(e.what(), "az://no-such-container/blob")) << e.what();
  }
}

TEST_F(AzuriteBlob, WrongAccountKeyIsAuthNamingAccountAndContainerButNotTheKey) {
  std::string text = server_.connection_string();
  text.replace(text.find(ferry::net::kDevStorageKey), ferry::net::kDevStorageKey.size(), kWrongKey);
  AzureBlobClient wrong(container_, text);
  ferry::detail::clear_secret_values_for_testing();  // so a leak is not hidden by masking
  for (auto call : std::vector<std::function<void()>>{[&] { wrong.get("blob"); },
                                                      [&] { wrong.put("blob", "x"); },
                                                      [&] { wrong.exists("blob"); }}) {
    ObjectError e = object_error_of(call);
    EXPECT_EQ(e.kind(), Kind::Auth) << e.what();
    EXPECT_EQ(e.status(), 403);
    EXPECT_TRUE(has(e.what(), "refused the account key (AccountKey) in the connection string"))
        << e.what();
    EXPECT_TRUE(has(e.what(), "account 'devstoreaccount1'")) << e.what();
    EXPECT_TRUE(has(e.what(), "container '" + container_ + "'")) << e.what();
    expect_no_secret(e.what());
  }
  EXPECT_FALSE(client_->exists("blob")) << "the refused put wrote nothing";
}

TEST_F(AzuriteBlob, SasConnectionStringWorksAndARefusedSasIsAuthWithoutTheToken) {
  std::string sas_text = server_.sas_connection_string();
  AzureBlobClient sas(container_, sas_text);
  ObjectInfo put = sas.put("via-sas", binary_bytes());
  EXPECT_FALSE(put.etag.empty());
  EXPECT_EQ(sas.get("via-sas").bytes, binary_bytes());
  EXPECT_TRUE(sas.exists("via-sas"));
  EXPECT_FALSE(sas.exists("missing"));
  EXPECT_EQ(client_->get("via-sas").bytes, binary_bytes()) << "the key client sees it too";

  ferry::detail::clear_secret_values_for_testing();
  AzureBlobClient expired(container_,
                          server_.sas_connection_string("rwdlac", "2001-01-01T00:00:00Z"));
  AzureBlobClient read_only(container_, server_.sas_connection_string("rl"));
  ferry::detail::clear_secret_values_for_testing();
  EXPECT_EQ(read_only.get("via-sas").bytes, binary_bytes());
  for (auto call : std::vector<std::function<void()>>{[&] { expired.get("via-sas"); },
                                                      [&] { read_only.put("new", "x"); }}) {
    ObjectError e = object_error_of(call);
    EXPECT_EQ(e.kind(), Kind::Auth) << e.what();
    EXPECT_TRUE(has(e.what(), "refused the SAS token (SharedAccessSignature)")) << e.what();
    EXPECT_TRUE(has(e.what(), "container '" + container_ + "'")) << e.what();
    expect_no_secret(e.what(), sas_text);
  }
}

TEST_F(AzuriteBlob, OverwriteFalseIsRefusedAndKeepsTheOldBlobOverwriteTrueReplacesIt) {
  PutOptions keep;
  keep.overwrite = false;
  ObjectInfo first = client_->put("flow", "old", keep);  // new blob: allowed
  ObjectError e = object_error_of([&] { client_->put("flow", "new", keep); });
  EXPECT_EQ(e.kind(), Kind::AlreadyExists) << e.what();
  EXPECT_EQ(std::string(e.what()),
            "az://" + container_ + "/flow already exists; set overwrite=true to replace it");
  ObjectData still = client_->get("flow");
  EXPECT_EQ(still.bytes, "old");
  EXPECT_EQ(still.info.etag, first.etag);

  ObjectInfo second = client_->put("flow", "new");  // overwrite=true is the default
  EXPECT_NE(second.etag, first.etag);
  EXPECT_EQ(client_->get("flow").bytes, "new");
}

// ---- Against the loopback server: what is sent, retries, messages. ----

namespace {

std::string key_connection_string(const HttpServer& server) {
  return "AccountName=devstoreaccount1;AccountKey=" + std::string(ferry::net::kDevStorageKey) +
         ";BlobEndpoint=" + server.url("/devstoreaccount1");
}

// Answers like Put Blob / Get Blob on success.
HttpReply blob_ok(const HttpRequest& request) {
  HttpReply reply;
  reply.status = request.method == "PUT" ? 201 : 200;
  reply.headers = {{"ETag", "\"0x8DCAFE\""},
                   {"Last-Modified", "Tue, 01 Dec 2026 13:05:00 GMT"},
                   {"x-ms-version-id", "2026-12-01T13:05:00.1234567Z"}};
  if (request.method == "GET") reply.body = "stored bytes";
  return reply;
}

}  // namespace

TEST(AzureBlobRequests, PutIsASignedBlockBlobUploadAndInfoComesFromTheHeaders) {
  HttpServer server(blob_ok);
  AzureBlobClient client("flows", key_connection_string(server));
  PutOptions options;
  options.overwrite = false;
  options.content_type = "application/x-ferry";
  ObjectInfo info = client.put("a b/c", "payload", options);
  EXPECT_EQ(info.etag, "\"0x8DCAFE\"");
  EXPECT_EQ(info.last_modified, "2026-12-01T13:05:00Z");
  EXPECT_EQ(info.version_id, "2026-12-01T13:05:00.1234567Z");

  ASSERT_EQ(server.request_count(), 1u);
  HttpRequest seen = server.requests()[0];
  EXPECT_EQ(seen.method, "PUT");
  EXPECT_EQ(seen.path, "/devstoreaccount1/flows/a b/c");
  EXPECT_EQ(seen.target, "/devstoreaccount1/flows/a%20b/c");
  EXPECT_EQ(seen.body, "payload");
  EXPECT_EQ(seen.header("x-ms-blob-type"), "BlockBlob");
  EXPECT_EQ(seen.header("If-None-Match"), "*");
  EXPECT_EQ(seen.header("Content-Type"), "application/x-ferry");
  EXPECT_EQ(seen.header("x-ms-version"), std::string(ferry::net::kAzureBlobApiVersion));
  EXPECT_TRUE(has(seen.header("x-ms-date"), " GMT")) << seen.header("x-ms-date");
  std::string auth = seen.header("Authorization");
  EXPECT_EQ(auth.rfind("SharedKey devstoreaccount1:", 0), 0u) << auth;
  EXPECT_EQ(auth.size(), std::string("SharedKey devstoreaccount1:").size() + 44) << auth;

  EXPECT_EQ(client.get("a b/c").bytes, "stored bytes");
  EXPECT_EQ(server.requests()[1].method, "GET");
}

TEST(AzureBlobRequests, SasRidesInTheQueryWithoutAnAuthorizationHeader) {
  HttpServer server(blob_ok);
  std::string sas = ferry::test::make_account_sas(
      "devstoreaccount1", std::string(ferry::net::kDevStorageKey), "rw", "2099-01-01T00:00:00Z");
  AzureBlobClient client(
      "flows", "BlobEndpoint=" + server.url("/devstoreaccount1") + ";SharedAccessSignature=" + sas);
  client.put("blob", "x");
  client.create_container();
  std::vector<HttpRequest> seen = server.requests();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_FALSE(seen[0].has_header("Authorization"));
  EXPECT_EQ(seen[0].param("sv"), std::string(ferry::net::kAzureBlobApiVersion));
  EXPECT_FALSE(seen[0].param("sig").empty());
  EXPECT_EQ(seen[1].param("restype"), "container");
  EXPECT_FALSE(seen[1].param("sig").empty());
}

TEST(AzureBlobRequests, A503AndADroppedConnectionAreRetried) {
  HttpServer server(blob_ok);
  AzureBlobClient client("flows", key_connection_string(server));
  server.fail_next(1, 503);
  EXPECT_EQ(client.put("blob", "x").etag, "\"0x8DCAFE\"");
  EXPECT_EQ(server.request_count(), 2u);

  server.clear_requests();
  server.drop_next(1);
  EXPECT_EQ(client.get("blob").bytes, "stored bytes");
  EXPECT_EQ(server.request_count(), 2u);
}

TEST(AzureBlobRequests, A403IsAuthAndNotRetried) {
  HttpServer server([](const HttpRequest&) {
    return HttpReply{403,
                     {{"x-ms-error-code", "AuthenticationFailed"}},
                     "<?xml version=\"1.0\"?><Error><Code>AuthenticationFailed</Code><Message>"
                     "Signature did not match. String to sign used was PUT ...</Message></Error>"};
  });
  AzureBlobClient client("flows", key_connection_string(server));
  ferry::detail::clear_secret_values_for_testing();
  ObjectError e = object_error_of([&] { client.put("blob", "x"); });
  EXPECT_EQ(e.kind(), Kind::Auth) << e.what();
  EXPECT_EQ(server.request_count(), 1u);
  EXPECT_FALSE(has(e.what(), "String to sign")) << e.what();
  expect_no_secret(e.what());
}

TEST(AzureBlobRequests, ErrorsNeverCarryTheKeyOrTheSas) {
  std::string sas = ferry::test::make_account_sas(
      "devstoreaccount1", std::string(ferry::net::kDevStorageKey), "rw", "2099-01-01T00:00:00Z");
  HttpServer server([](const HttpRequest& request) {
    if (request.path.find("/always-busy") != std::string::npos)
      return HttpReply{500, {{"Retry-After", "0"}, {"x-ms-error-code", "InternalError"}}, ""};
    // A 400 whose message quotes the request target, SAS included.
    return HttpReply{400,
                     {{"x-ms-error-code", "InvalidQueryParameterValue"}},
                     "<Error><Code>InvalidQueryParameterValue</Code><Message>Bad value in " +
                         request.target + "</Message></Error>"};
  });
  std::vector<std::string> texts = {
      key_connection_string(server),
      "BlobEndpoint=" + server.url("/devstoreaccount1") + ";SharedAccessSignature=" + sas};
  for (const std::string& text : texts) {
    AzureBlobClient client("flows", text);
    ObjectError busy = object_error_of([&] { client.get("always-busy"); });
    EXPECT_EQ(busy.kind(), Kind::Transient) << busy.what();
    EXPECT_TRUE(has(busy.what(), "after 4 attempts")) << busy.what();
    expect_no_secret(busy.what(), sas);

    ObjectError bad = object_error_of([&] { client.put("bad", "x"); });
    EXPECT_EQ(bad.kind(), Kind::Other) << bad.what();
    EXPECT_TRUE(has(bad.what(), "InvalidQueryParameterValue")) << bad.what();
    // The server quoted the SAS: masking (the client registered it) removes it.
    EXPECT_FALSE(has(bad.what(), sas.substr(sas.find("sig=") + 4))) << bad.what();
    EXPECT_FALSE(has(bad.what(), std::string(ferry::net::kDevStorageKey))) << bad.what();
  }

  // Nothing listening: Transient, naming the endpoint without the query.
  int port = 0;
  {
    HttpServer gone;
    port = gone.port();
  }
  std::string endpoint = "http://127.0.0.1:" + std::to_string(port) + "/devstoreaccount1";
  AzureBlobClient nowhere("flows", "BlobEndpoint=" + endpoint + ";SharedAccessSignature=" + sas);
  ferry::detail::clear_secret_values_for_testing();
  ObjectError e = object_error_of([&] { nowhere.get("blob"); });
  EXPECT_EQ(e.kind(), Kind::Transient) << e.what();
  EXPECT_EQ(e.status(), 0);
  EXPECT_TRUE(has(e.what(), endpoint + "/flows/blob")) << e.what();
  expect_no_secret(e.what(), sas);
}

TEST(AzureBlobRequests, ExistsAsksForOneByteAndTakesAnEmptyBlobsInvalidRangeAsYes) {
  // The cloud answers a ranged read of an empty blob with 416 InvalidRange (azurite with 200).
  HttpServer server([](const HttpRequest& request) {
    if (request.path.find("/empty") != std::string::npos)
      return HttpReply{416, {{"x-ms-error-code", "InvalidRange"}}, ""};
    if (request.path.find("/missing") != std::string::npos)
      return HttpReply{404, {{"x-ms-error-code", "BlobNotFound"}}, ""};
    return HttpReply{206, {{"Content-Range", "bytes 0-0/10"}}, "x"};
  });
  AzureBlobClient client("flows", key_connection_string(server));
  EXPECT_TRUE(client.exists("full"));
  EXPECT_TRUE(client.exists("empty"));
  EXPECT_FALSE(client.exists("missing"));
  for (const HttpRequest& seen : server.requests()) {
    EXPECT_EQ(seen.method, "GET");
    EXPECT_EQ(seen.header("x-ms-range"), "bytes=0-0");
  }
}
