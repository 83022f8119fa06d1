// Azure Storage connection strings ("DefaultEndpointsProtocol=https;AccountName=...;
// AccountKey=...;EndpointSuffix=core.windows.net"), parsed into what the Blob client needs:
// the blob endpoint and one credential (the account key or a SAS token).
#pragma once

#include <string>
#include <string_view>

namespace ferry::net {

// The well-known development-storage (azurite) account.
inline constexpr std::string_view kDevStorageAccount = "devstoreaccount1";
inline constexpr std::string_view kDevStorageKey =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
inline constexpr std::string_view kDevStorageBlobEndpoint =
    "http://127.0.0.1:10000/devstoreaccount1";

struct AzureConnection {
  std::string account_name{};  // "" only with a SAS and an explicit BlobEndpoint
  std::string account_key{};   // base64, as given; "" when a SAS is used
  std::string sas{};           // the SAS query ("sv=...&sig=..."), no leading '?'; "" with a key
  // Where blobs live, without a trailing '/': "https://acct.blob.core.windows.net", or a path-
  // style endpoint that carries the account in its path
  // ("http://127.0.0.1:10000/devstoreaccount1").
  std::string blob_endpoint{};
};

// Parses `Key=Value;...` (keys case-insensitive, values may contain '=', empty parts
// ignored): DefaultEndpointsProtocol (default https), AccountName, AccountKey,
// EndpointSuffix (default core.windows.net), BlobEndpoint, SharedAccessSignature,
// UseDevelopmentStorage=true. Other keys (QueueEndpoint, ...) are ignored. The blob endpoint
// is BlobEndpoint, else <protocol>://<account>.blob.<suffix>. With both a key and a SAS, the
// key is used (as the Azure SDKs do).
//
// Throws ValueError naming the problem (never echoing the string or a value from it: it
// holds the key). Registers the key and the SAS (and its signature) for masking.
AzureConnection parse_azure_connection_string(std::string_view text);

}  // namespace ferry::net
