#include "storage/object_result.hpp"

#include "ferry/error.hpp"

namespace ferry::storage {

ObjectResultImpl::ObjectResultImpl(std::string location)
    : location_(location.empty() ? std::string("{flow_run_id}/{task_name}.json")
                                 : std::move(location)) {}

void ObjectResultImpl::write(const std::string& location, const Value& value) const {
  net::PutOptions options;
  options.content_type = "application/json";
  make_client()->put(location, value.dump(), options);
}

std::optional<Value> ObjectResultImpl::read(const std::string& location) const {
  std::unique_ptr<net::ObjectClient> client = make_client();
  net::ObjectData data;
  try {
    data = client->get(location);
  } catch (const net::ObjectError& e) {
    if (e.kind() == net::ObjectError::Kind::NotFound) return std::nullopt;
    throw;
  }
  Value v = Value::parse(data.bytes, nullptr, false);
  if (v.is_discarded()) {
    throw FlowStorageError("The stored result " + client->uri(location) + " is not valid JSON.");
  }
  return v;
}

}  // namespace ferry::storage
