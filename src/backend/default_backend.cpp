// Choosing a backend: by database URL (the server), or by configuration (every other
// command: the server's API when one is configured, else the embedded file).
#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "backend/backend.hpp"
#include "backend/postgres_backend.hpp"
#include "backend/remote_backend.hpp"
#include "core/config.hpp"
#include "ferry/error.hpp"
#include "ferry/module.hpp"

namespace ferry::backend {

namespace {

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

std::filesystem::path home_folder() {
  const std::filesystem::path home = ferry::home_dir();
  std::error_code ec;
  std::filesystem::create_directories(home, ec);
  if (ec) {
    throw ferry::Error("could not create the ferry home folder " + home.string() + ": " +
                       ec.message() + " (set FERRY_HOME to a writable folder)");
  }
  return home;
}

// The environment variable, else the config's section.key, else "".
std::string setting(const char* env, const char* section, const char* key) {
  if (const char* v = std::getenv(env); v && *v) return v;
  return config::get_string(section, key, "");
}

}  // namespace

std::unique_ptr<Backend> open_backend_url(const std::string& database_url) {
  if (starts_with(database_url, "postgresql://") || starts_with(database_url, "postgres://")) {
    return open_postgres_backend(database_url);
  }
  std::string path = database_url;
  if (starts_with(path, "sqlite://")) {
    path = path.substr(std::string("sqlite://").size());
    if (!starts_with(path, "/")) {
      throw ferry::ValueError("database URL '" + database_url +
                              "': a sqlite URL takes an absolute path, as in "
                              "sqlite:///var/lib/ferry/ferry.db");
    }
  } else if (path.empty() || path.find("://") != std::string::npos) {
    throw ferry::ValueError("database URL '" + database_url +
                            "' is not one ferry knows: use sqlite:///ABSOLUTE/PATH.db or "
                            "postgresql://USER@HOST:PORT/DATABASE");
  }
  return open_sqlite_backend(path);
}

std::string default_database_url() {
  std::string url = config::get_string("server", "database", "");
  if (!url.empty()) return url;
  return "sqlite://" + std::filesystem::absolute(home_folder() / "ferry.db").string();
}

std::optional<ApiSettings> configured_api() {
  ApiSettings api;
  api.url = setting("FERRY_API", "api", "url");
  if (api.url.empty()) return std::nullopt;
  api.api_key = setting("FERRY_API_KEY", "api", "key");
  api.ca_file = setting("FERRY_API_CA_FILE", "api", "ca_file");
  return api;
}

std::unique_ptr<Backend> open_default_backend() {
  if (std::optional<ApiSettings> api = configured_api()) {
    if (api->api_key.empty()) {
      throw ferry::ValueError("FERRY_API is set to " + api->url +
                              " but no API key is: set FERRY_API_KEY to a key made by "
                              "`ferry server api-key create NAME` on the server");
    }
    RemoteOptions options;
    options.url = api->url;
    options.api_key = api->api_key;
    options.ca_file = api->ca_file;
    options.retry_for = std::chrono::seconds(
        static_cast<long long>(config::get_number("api", "retry_seconds", 300)));
    return open_remote_backend(std::move(options));
  }
  return open_sqlite_backend((home_folder() / "ferry.db").string());
}

}  // namespace ferry::backend
