// GCS storage: flows as objects in a Google Cloud Storage bucket. See docs/storage/gcs.md.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ferry/result.hpp"
#include "ferry/storage/storage.hpp"

namespace ferry::storage {

// Credentials, found when needed (at build and at run time, on that machine): the secret
// GCP_CREDENTIALS (a service-account key, JSON), GOOGLE_APPLICATION_CREDENTIALS, then the
// metadata server. STORAGE_EMULATOR_HOST points every request at another endpoint.
struct GCSOptions {
  std::string bucket;
  std::string key{};      // default "<slug(flow name)>/<slug(timestamp)>" per flow
  std::string project{};  // default: the credentials' project_id
  bool stored_as_script = false;
  // Script form: the source build() uploads (`ferry register` fills it when empty). Without
  // it (and with a key), nothing is uploaded.
  std::string local_script_path{};
  std::optional<bool> add_default_labels{};
  std::vector<std::string> labels{};
  std::vector<std::string> secrets{};
};

// Frozen by default: build() uploads each flow's package; get_flow() downloads it (a
// missing object: `Flow not found in bucket: flow=KEY bucket=BUCKET`). Default result:
// GCSResult in the same bucket.
class GCS : public Storage {
 public:
  explicit GCS(GCSOptions options);
  const std::string& bucket() const;
  const std::string& key() const;
  const std::string& project() const;
  const std::string& local_script_path() const;
};

}  // namespace ferry::storage

namespace ferry {

struct GCSResultOptions {
  std::string bucket;
  std::string project{};
  std::string location = "{flow_run_id}/{task_name}.json";
};

// Task results as JSON objects in a GCS bucket.
class GCSResult : public Result {
 public:
  explicit GCSResult(GCSResultOptions options);
};

}  // namespace ferry
