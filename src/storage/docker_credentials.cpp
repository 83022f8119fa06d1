#include "storage/docker_credentials.hpp"

#include "agent/secrets.hpp"
#include "core/masking.hpp"
#include "ferry/error.hpp"

namespace ferry::storage {

std::optional<oci::RegistryCredentials> registry_credentials(const std::string& registry_host,
                                                             const std::string& secret_name) {
  if (secret_name.empty()) return oci::credentials_from_docker_config(registry_host);
  std::optional<std::string> raw = agent::find_secret(secret_name);
  if (!raw) {
    throw ValueError("The secret '" + secret_name +
                     "' (registry_credentials_secret of Docker storage) is not set on this "
                     "machine. Set it to {\"username\": ..., \"password\": ...}: export " +
                     secret_name + "='{...}' or run `ferry secrets set " + secret_name + "`.");
  }
  oci::RegistryCredentials creds = oci::credentials_from_json(*raw);
  detail::register_secret_value(creds.password);
  return creds;
}

}  // namespace ferry::storage
