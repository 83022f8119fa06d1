// Azure storage: flows as blobs in an Azure Blob Storage container. See
// docs/storage/azure.md.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ferry/result.hpp"
#include "ferry/storage/storage.hpp"

namespace ferry::storage {

// The connection string is a secret, looked up when it is needed (at build and at run
// time, on that machine): the secret named connection_string_secret, else the secret
// AZURE_STORAGE_CONNECTION_STRING (the environment variable of that name comes first, as
// for every secret). Strings with AccountKey (Shared Key signing), SharedAccessSignature
// (SAS) and BlobEndpoint (emulators, custom domains) work.
struct AzureOptions {
  std::string container;
  std::string connection_string_secret{};
  std::string blob_name{};        // default "<slug(flow name)>/<slug(timestamp)>" per flow
  bool overwrite = false;         // false: an existing blob is an error and stays untouched
  bool stored_as_script = false;  // script form needs blob_name and uploads nothing
  std::optional<bool> add_default_labels{};
  std::vector<std::string> labels{};
  std::vector<std::string> secrets{};
};

// Frozen by default: build() uploads each flow's package; get_flow() downloads the blob.
// Default result: AzureResult in the same container.
class Azure : public Storage {
 public:
  explicit Azure(AzureOptions options);
  const std::string& container() const;
  const std::string& blob_name() const;
  const std::string& connection_string_secret() const;
  bool overwrite() const;
};

}  // namespace ferry::storage

namespace ferry {

struct AzureResultOptions {
  std::string container;
  std::string connection_string_secret{};
  std::string location = "{flow_run_id}/{task_name}.json";
};

// Task results as JSON blobs in an Azure container.
class AzureResult : public Result {
 public:
  explicit AzureResult(AzureResultOptions options);
};

}  // namespace ferry
