#include "oci/registry_credentials.hpp"

#include <cstdlib>
#include <fstream>
#include <iterator>

#include "core/text.hpp"
#include "ferry/codec.hpp"
#include "ferry/error.hpp"

namespace ferry::oci {

namespace fs = std::filesystem;

namespace {

// "https://host/v1/" -> "host".
std::string key_host(std::string_view key) {
  for (std::string_view scheme : {"https://", "http://"}) {
    if (key.substr(0, scheme.size()) == scheme) key.remove_prefix(scheme.size());
  }
  if (auto slash = key.find('/'); slash != std::string_view::npos) key = key.substr(0, slash);
  return std::string(key);
}

bool is_docker_hub(std::string_view host) {
  return host == "docker.io" || host == "index.docker.io" || host == "registry-1.docker.io";
}

bool same_registry(std::string_view a, std::string_view b) {
  return detail::iequals(a, b) || (is_docker_hub(a) && is_docker_hub(b));
}

std::string string_field(const Value& entry, const char* name) {
  auto it = entry.find(name);
  return it != entry.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

fs::path docker_config_path() {
  if (const char* dir = std::getenv("DOCKER_CONFIG"); dir && *dir) {
    return fs::path(dir) / "config.json";
  }
  const char* home = std::getenv("HOME");
  return fs::path(home && *home ? home : ".") / ".docker" / "config.json";
}

std::optional<RegistryCredentials> credentials_from_docker_config(std::string_view registry_host) {
  const fs::path path = docker_config_path();
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  const std::string text(std::istreambuf_iterator<char>(in), {});
  // The parser's message may quote the file (and so a password): not passed on.
  Value config = Value::parse(text, nullptr, /*allow_exceptions=*/false);
  if (config.is_discarded() || !config.is_object()) {
    throw ValueError("The Docker config file " + path.string() +
                     " is not a JSON object: fix it, or log in again with docker login.");
  }
  auto auths = config.find("auths");
  if (auths == config.end() || !auths->is_object()) return std::nullopt;

  // An exact key ("host") wins over a key with a scheme or path ("https://host/v1/").
  const Value* entry = nullptr;
  for (const auto& [key, value] : auths->items()) {
    if (!value.is_object() || !same_registry(key_host(key), registry_host)) continue;
    if (!entry || key == registry_host) entry = &value;
  }
  if (!entry) return std::nullopt;

  RegistryCredentials creds;
  if (std::string auth = string_field(*entry, "auth"); !auth.empty()) {
    std::optional<std::string> decoded = detail::base64_decode(auth);
    const auto colon = decoded ? decoded->find(':') : std::string::npos;
    if (colon == std::string::npos) {
      throw ValueError("The \"auth\" of " + std::string(registry_host) + " in " + path.string() +
                       " is not the base64 of \"username:password\": log in again with "
                       "docker login " +
                       std::string(registry_host) + ".");
    }
    creds.username = decoded->substr(0, colon);
    creds.password = decoded->substr(colon + 1);
  } else {
    creds.username = string_field(*entry, "username");
    creds.password = string_field(*entry, "password");
  }
  if (creds.username.empty() && creds.password.empty()) return std::nullopt;
  return creds;
}

RegistryCredentials credentials_from_json(std::string_view secret_value) {
  static const std::string kForm =
      "The registry credentials secret must be a JSON object {\"username\": \"...\", "
      "\"password\": \"...\"} (the password may be an access token)";
  Value value = Value::parse(secret_value, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded() || !value.is_object())
    throw ValueError(kForm + ": it is not a JSON object.");
  RegistryCredentials creds{string_field(value, "username"), string_field(value, "password")};
  if (creds.username.empty() || creds.password.empty()) {
    throw ValueError(kForm + ": \"username\" or \"password\" is missing, empty or not a string.");
  }
  return creds;
}

}  // namespace ferry::oci
