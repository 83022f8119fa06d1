#include "storage/object_storage.hpp"

#include <filesystem>

#include "core/digest.hpp"
#include "core/files.hpp"
#include "ferry/context.hpp"
#include "ferry/error.hpp"
#include "ferry/flow.hpp"
#include "ferry/module.hpp"
#include "storage/fetched_flow.hpp"

namespace ferry::storage {

namespace fs = std::filesystem;

ObjectStorageImpl::ObjectStorageImpl(Traits traits, std::string key, std::string local_script_path)
    : traits_(std::move(traits)),
      key_(std::move(key)),
      local_script_path_(std::move(local_script_path)) {}

void ObjectStorageImpl::note_source_file(const std::string& path) {
  // The reference's CLI sets local_script_path to the registered file while it runs it.
  if (stored_as_script && traits_.uploads_script && local_script_path_.empty()) {
    local_script_path_ = path;
  }
}

std::string ObjectStorageImpl::store_flow(const Flow& flow) {
  return key_.empty() ? generated_location(flow.name()) : key_;
}

void ObjectStorageImpl::build() {
  if (added_.empty()) return;
  std::string script;
  if (stored_as_script) {
    bool uploads = traits_.uploads_script && !local_script_path_.empty();
    if (!uploads) {
      // Nothing to upload: the user puts the source at the key themselves.
      if (key_.empty()) throw ValueError(traits_.missing_script_key_error);
      return;
    }
    std::error_code ec;
    if (!fs::is_regular_file(local_script_path_, ec)) {
      throw ValueError("local_script_path '" + local_script_path_ +
                       "' is not a file: give the path of the flow's source file.");
    }
    script = detail::read_file(local_script_path_);
  }
  std::unique_ptr<net::ObjectClient> client = make_client();
  for (const auto& [name, flow] : added_) {
    const std::string& key = flows.at(name);
    std::string payload = stored_as_script ? script : freeze_flow(*flow);
    logger().info("Uploading " + std::string(stored_as_script ? "flow script" : "flow") + " '" +
                  name + "' to " + client->uri(key));
    try {
      client->put(key, payload, put_options());
    } catch (const net::ObjectError& e) {
      logger().error("Error uploading Flow to " + type() + ": " + e.what());
      throw;
    }
    if (!stored_as_script) digests[name] = detail::sha256_hex(payload);
  }
}

bool ObjectStorageImpl::has_stored(const std::string& name) const {
  auto it = flows.find(name);
  if (it == flows.end()) return false;
  return make_client()->exists(it->second);
}

Value ObjectStorageImpl::fetched_pin(const std::string& name) const {
  auto it = pins_.find(name);
  return it == pins_.end() ? Value::object() : it->second;
}

std::string ObjectStorageImpl::not_found_message(const std::string&,
                                                 const net::ObjectError& error) const {
  return error.what();
}

Flow ObjectStorageImpl::load_flow(const std::string& name, const std::string& location) {
  std::unique_ptr<net::ObjectClient> client = make_client();
  std::string uri = client->uri(location);
  logger().info("Downloading flow from " + uri);
  net::ObjectData data;
  try {
    data = client->get(location);
  } catch (const net::ObjectError& e) {
    logger().error("Error downloading Flow from " + type() + ": " + e.what());
    if (e.kind() == net::ObjectError::Kind::NotFound) {
      throw FlowStorageError(not_found_message(location, e));
    }
    throw;
  }
  auto or_none = [](const std::string& s) { return s.empty() ? std::string("None") : s; };
  logger().info("Flow successfully downloaded. ETag: " + or_none(data.info.etag) +
                ", LastModified: " + or_none(data.info.last_modified) +
                ", VersionId: " + or_none(data.info.version_id));
  Value pin = Value::object();
  if (!data.info.etag.empty()) pin["etag"] = data.info.etag;
  if (!data.info.version_id.empty()) pin["version_id"] = data.info.version_id;
  pins_[name] = std::move(pin);
  if (stored_as_script) return load_fetched_source(data.bytes, name, slugify(type()), data.sha256);
  return thaw_fetched_package(data.bytes, name, digests, uri, data.sha256);
}

}  // namespace ferry::storage
