#include "storage/repo_file.hpp"

#include <cctype>
#include <filesystem>

#include "agent/secrets.hpp"
#include "core/digest.hpp"
#include "core/files.hpp"
#include "core/masking.hpp"
#include "core/text.hpp"
#include "ferry/error.hpp"
#include "ferry/module.hpp"

namespace ferry::storage::repo {

namespace fs = std::filesystem;

namespace {

bool has_cpp_extension(const fs::path& name) {
  std::string ext = name.extension().string();
  return ext == ".cpp" || ext == ".cc" || ext == ".cxx" || ext == ".c++" || ext == ".C";
}

}  // namespace

std::optional<std::string> token(const std::string& secret_name, const char* default_name) {
  if (!secret_name.empty()) {
    // resolve_secrets throws the store's error naming the secret, and registers the value.
    return agent::resolve_secrets({secret_name}).at(secret_name);
  }
  std::optional<std::string> value = agent::find_secret(default_name);
  if (value) detail::register_secret_value_and_parts(*value);
  return value;
}

std::string base64_encode(std::string_view bytes) { return detail::base64_encode(bytes); }

std::string base64_decode(std::string_view text) {
  std::optional<std::string> bytes = detail::base64_decode(text);
  if (!bytes) throw FlowStorageError("The file content is not valid base64.");
  return *bytes;
}

std::string encode_path(std::string_view path) {
  std::string out;
  std::size_t start = 0;
  while (true) {
    std::size_t slash = path.find('/', start);
    out += net::url_encode(
        path.substr(start, slash == std::string_view::npos ? path.npos : slash - start));
    if (slash == std::string_view::npos) break;
    out.push_back('/');
    start = slash + 1;
  }
  return out;
}

net::Response send(const net::Request& request, const std::string& what) {
  try {
    return net::send(request);
  } catch (const net::HttpError& e) {
    throw FlowStorageError(what + " failed: " + e.what());
  }
}

std::string status_text(const net::Request& request, const net::Response& response) {
  try {
    net::raise_for_status(request, response);
  } catch (const net::HttpError& e) {
    return e.what();
  }
  return "HTTP " + std::to_string(response.status);
}

Value json_body(const net::Response& response, const std::string& what) {
  Value v = Value::parse(response.body, nullptr, false);
  if (v.is_discarded() || !v.is_object()) {
    throw FlowStorageError(what + " answered something that is not a JSON object (" +
                           std::to_string(response.body.size()) + " bytes).");
  }
  return v;
}

bool is_commit_sha(std::string_view text) {
  if (text.size() != 40) return false;
  for (char c : text) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

Flow load_fetched_source(std::string_view kind, std::string_view repo_path,
                         const std::string& content, const std::string& name) {
  fs::path file = fs::path(std::string(repo_path)).filename();
  if (file.empty() || !has_cpp_extension(file)) file += ".cpp";  // the compiler goes by it
  fs::path source = cache_dir() / std::string(kind) / detail::sha256_hex(content) / file;
  std::error_code ec;
  if (!fs::is_regular_file(source, ec)) detail::write_file_atomic(source, content);
  return load_flow_from_source(source, name);
}

}  // namespace ferry::storage::repo
