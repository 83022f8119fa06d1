#include "ferry/storage/storage.hpp"

#include <algorithm>
#include <mutex>
#include <set>

#include "ferry/error.hpp"
#include "ferry/flow.hpp"
#include "ferry/version.hpp"

namespace ferry::storage {

namespace {

std::map<std::string, StorageFactory>& factories() {
  static std::map<std::string, StorageFactory> map;
  return map;
}

std::mutex& factories_mutex() {
  static std::mutex m;
  return m;
}

}  // namespace

std::string StorageImpl::add_flow(const Flow& flow) {
  if (replaces_on_add()) {
    flows.clear();
    digests.clear();
    added_.clear();
  } else if (contains(flow.name())) {
    throw ValueError("Name conflict: Flow with the name \"" + flow.name() +
                     "\" is already present in this storage.");
  }
  std::string location = store_flow(flow);
  flows[flow.name()] = location;
  added_[flow.name()] = std::make_shared<Flow>(flow);
  return location;
}

Flow StorageImpl::get_flow(const std::string& name) {
  auto it = flows.find(name);
  if (it == flows.end()) throw ValueError("Flow is not contained in this storage");
  return load_flow(name, it->second);
}

std::vector<std::string> StorageImpl::labels() const {
  if (!add_default_labels) return user_labels;
  std::set<std::string> all(user_labels.begin(), user_labels.end());
  for (std::string& l : default_labels()) all.insert(std::move(l));
  return {all.begin(), all.end()};
}

Value StorageImpl::serialize() const {
  Value out = {{"type", type()},
               {"flows", flows},
               {"digests", digests},
               {"secrets", secrets},
               {"ferry_version", FERRY_VERSION}};
  serialize_fields(out);
  return out;
}

Flow Storage::get_flow(const std::string& name) { return checked().get_flow(name); }

StorageImpl& Storage::checked() const {
  if (!impl_) throw ValueError("This storage handle is empty: give the flow a storage first.");
  return *impl_;
}

Storage Storage::deserialize(const Value& d) {
  if (!d.is_object() || !d.contains("type") || !d["type"].is_string()) {
    throw ValueError("A stored storage descriptor must be a JSON object with a \"type\".");
  }
  std::string type = d["type"];
  StorageFactory factory;
  {
    std::lock_guard lock(factories_mutex());
    auto it = factories().find(type);
    if (it != factories().end()) factory = it->second;
  }
  if (!factory) {
    std::string known;
    for (const std::string& t : storage_types()) known += (known.empty() ? "" : ", ") + t;
    throw ValueError("Unknown storage type '" + type +
                     "' in a stored flow descriptor. This ferry (" + FERRY_VERSION + ") knows: " +
                     known + ". Upgrade ferry on this machine or re-register the flow.");
  }
  try {
    std::shared_ptr<StorageImpl> impl = factory(d);
    if (d.contains("flows") && d["flows"].is_object()) {
      impl->flows = d["flows"].get<std::map<std::string, std::string>>();
    }
    if (d.contains("digests") && d["digests"].is_object()) {
      impl->digests = d["digests"].get<std::map<std::string, std::string>>();
    }
    if (d.contains("secrets") && d["secrets"].is_array()) {
      impl->secrets = d["secrets"].get<std::vector<std::string>>();
    }
    return Storage(std::move(impl));
  } catch (const nlohmann::json::exception& e) {
    throw ValueError("The stored " + type + " storage descriptor is malformed: " + e.what());
  }
}

void register_storage_type(const std::string& type, StorageFactory factory) {
  std::lock_guard lock(factories_mutex());
  factories()[type] = std::move(factory);
}

std::vector<std::string> storage_types() {
  std::lock_guard lock(factories_mutex());
  std::vector<std::string> out;
  for (const auto& [name, f] : factories()) out.push_back(name);
  return out;
}

}  // namespace ferry::storage
