// Registry credentials for Docker storage and the Docker agent, resolved on the machine that
// needs them and never stored: a named secret ({"username", "password"}; environment first,
// then the secret store), else the docker config file.
#pragma once

#include <optional>
#include <string>

#include "oci/registry_credentials.hpp"

namespace ferry::storage {

// nullopt: no credentials anywhere (an open registry). A named secret that is missing or
// malformed is a ValueError naming the secret and how to set it (never its value).
std::optional<oci::RegistryCredentials> registry_credentials(const std::string& registry_host,
                                                             const std::string& secret_name);

}  // namespace ferry::storage
