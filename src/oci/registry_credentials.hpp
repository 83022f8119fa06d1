// Credentials for a container registry: from Docker's config file (what `docker login`
// writes) or from a secret holding {"username": ..., "password": ...}.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace ferry::oci {

struct RegistryCredentials {
  std::string username;
  std::string password;  // or a token; never printed
};

// $DOCKER_CONFIG/config.json when DOCKER_CONFIG is set, else ~/.docker/config.json.
std::filesystem::path docker_config_path();

// The entry for registry_host ("ghcr.io", "127.0.0.1:5000"; "docker.io" also matches Docker
// Hub's "https://index.docker.io/v1/") in the docker config file's "auths". Keys may carry a
// scheme and path ("https://host", "http://host/v1/"). An entry has "auth" (base64 of
// "user:pass") or "username" and "password". nullopt when the file or the entry is missing,
// or the entry is empty (a credential helper holds it: not supported). A file that is not
// JSON, or an "auth" that is not base64 "user:pass", is a ferry::ValueError naming the file.
std::optional<RegistryCredentials> credentials_from_docker_config(std::string_view registry_host);

// A secret's value {"username": "...", "password": "..."}. Anything else is a
// ferry::ValueError describing the expected form, never echoing the value.
RegistryCredentials credentials_from_json(std::string_view secret_value);

}  // namespace ferry::oci
