// Azure connection strings (src/net/azure_connection_string.hpp): the accepted forms, the
// derived blob endpoint, the refused ones, and messages that never quote the string.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/masking.hpp"
#include "ferry/error.hpp"
#include "net/azure_connection_string.hpp"

namespace {

using ferry::ValueError;
using ferry::net::AzureConnection;
using ferry::net::parse_azure_connection_string;

// A base64 key (the well-known emulator key is one; a made-up one keeps the cases apart).
const std::string kKey = "c2VjcmV0LWtleS1ieXRlcy1mb3ItZmVycnktdGVzdHM=";
const std::string kSas =
    "sv=2021-12-02&ss=b&srt=sco&sp=rl&se=2099-01-01T00%3A00%3A00Z&sig=AbC%2Bdef%3D";

struct Case {
  std::string text;
  std::string account, key, sas, endpoint;
};

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string error_of(const std::string& text) {
  try {
    parse_azure_connection_string(text);
  } catch (const ValueError& e) {
    return e.what();
  }
  return "<no ValueError>";
}

}  // namespace

TEST(AzureConnectionString, AcceptedFormsAndTheirBlobEndpoint) {
  const std::vector<Case> cases = {
      {"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=" + kKey +
           ";EndpointSuffix=core.windows.net",
       "acct", kKey, "", "https://acct.blob.core.windows.net"},
      // Suffix defaults to the public cloud, protocol to https; keys are case-insensitive;
      // spaces around parts and an empty trailing part are fine.
      {" accountname=acct ; ACCOUNTKEY=" + kKey + " ;", "acct", kKey, "",
       "https://acct.blob.core.windows.net"},
      {"DefaultEndpointsProtocol=http;AccountName=acct;AccountKey=" + kKey +
           ";EndpointSuffix=core.chinacloudapi.cn",
       "acct", kKey, "", "http://acct.blob.core.chinacloudapi.cn"},
      // BlobEndpoint wins over the derived one; its trailing '/' is dropped.
      {"AccountName=acct;AccountKey=" + kKey + ";BlobEndpoint=https://blobs.example.test/", "acct",
       kKey, "", "https://blobs.example.test"},
      // The portal's SAS form: endpoints and a SAS, no account (values hold '=').
      {"BlobEndpoint=https://acct.blob.core.windows.net/;QueueEndpoint=https://q.test/;"
       "SharedAccessSignature=" +
           kSas,
       "", "", kSas, "https://acct.blob.core.windows.net"},
      {"AccountName=acct;SharedAccessSignature=?" + kSas, "acct", "", kSas,
       "https://acct.blob.core.windows.net"},
      // With both, the key is used (as in the Azure SDKs).
      {"AccountName=acct;AccountKey=" + kKey + ";SharedAccessSignature=" + kSas, "acct", kKey, "",
       "https://acct.blob.core.windows.net"},
      {"UseDevelopmentStorage=true", "devstoreaccount1", std::string(ferry::net::kDevStorageKey),
       "", "http://127.0.0.1:10000/devstoreaccount1"},
      {"UseDevelopmentStorage=True;BlobEndpoint=http://127.0.0.1:12345/devstoreaccount1",
       "devstoreaccount1", std::string(ferry::net::kDevStorageKey), "",
       "http://127.0.0.1:12345/devstoreaccount1"},
  };
  for (const Case& c : cases) {
    AzureConnection got = parse_azure_connection_string(c.text);
    EXPECT_EQ(got.account_name, c.account) << c.text;
    EXPECT_EQ(got.account_key, c.key) << c.text;
    EXPECT_EQ(got.sas, c.sas) << c.text;
    EXPECT_EQ(got.blob_endpoint, c.endpoint) << c.text;
  }
}

TEST(AzureConnectionString, MalformedStringsAreRefusedWithoutQuotingThem) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "it is empty"},
      {"  ;  ", "it is empty"},
      {"AccountName=acct;c2VjcmV0LWtleQ", "part 2 has no '='"},
      {"AccountName=acct;=" + kKey, "part 2 has no name"},
      {"AccountName=acct;AccountKey=" + kKey + ";accountkey=" + kKey,
       "the key 'accountkey' appears more than once"},
      {"DefaultEndpointsProtocol=ftp;AccountName=acct;AccountKey=" + kKey,
       "DefaultEndpointsProtocol must be 'http' or 'https'"},
      {"AccountKey=" + kKey, "AccountKey is given without AccountName"},
      {"AccountName=acct;AccountKey=not*base64!" + kKey, "AccountKey is not base64"},
      {"SharedAccessSignature=" + kSas, "it has neither AccountName nor BlobEndpoint"},
      {"BlobEndpoint=acct.blob.core.windows.net;SharedAccessSignature=" + kSas,
       "BlobEndpoint must start with http:// or https://"},
      {"AccountName=acct;AccountKey=" + kKey + ";BlobEndpoint=https://x.test/?" + kSas,
       "BlobEndpoint must not have a query"},
      {"UseDevelopmentStorage=false", "UseDevelopmentStorage must be 'true'"},
  };
  for (const auto& [text, problem] : cases) {
    std::string message = error_of(text);
    EXPECT_TRUE(has(message, "Malformed Azure connection string: " + problem))
        << message << "\nfor: " << text;
    EXPECT_FALSE(has(message, kKey)) << message;
    EXPECT_FALSE(has(message, "sig=")) << message;
    EXPECT_FALSE(has(message, "****")) << "nothing secret was there to mask: " << message;
  }
}

TEST(AzureConnectionString, NoKeyNorSasIsRefusedNamingWhatFerryNeeds) {
  // The reference fell back to DefaultAzureCredential here; ferry says what it needs.
  for (const std::string text :
       {"AccountName=acct", "DefaultEndpointsProtocol=https;AccountName=acct;EndpointSuffix=x.test",
        "BlobEndpoint=https://acct.blob.core.windows.net"}) {
    std::string message = error_of(text);
    EXPECT_TRUE(has(message,
                    "ferry needs a connection string with AccountKey=... or "
                    "SharedAccessSignature=..."))
        << message;
  }
}

TEST(AzureConnectionString, TheKeyAndTheSasAreRegisteredForMasking) {
  ferry::detail::clear_secret_values_for_testing();
  parse_azure_connection_string("AccountName=acct;AccountKey=" + kKey);
  parse_azure_connection_string("AccountName=acct;SharedAccessSignature=" + kSas);
  std::string log = "key " + kKey + " sas " + kSas + " sig AbC%2Bdef%3D decoded AbC+def=";
  std::string masked = ferry::detail::mask_secrets(log);
  EXPECT_FALSE(has(masked, kKey)) << masked;
  EXPECT_FALSE(has(masked, "AbC")) << masked;
  EXPECT_TRUE(has(masked, "key ****")) << masked;
  ferry::detail::clear_secret_values_for_testing();
}
