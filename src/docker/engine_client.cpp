#include "docker/engine_client.hpp"

#include <cctype>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <regex>
#include <utility>

#include "core/text.hpp"
#include "net/http_client.hpp"

namespace ferry::docker {

namespace {

using Json = nlohmann::json;

constexpr std::size_t kLastLines = 20;
// Requests that answer at once; building, pushing, pulling, importing, waiting and logs have
// no time limit (they take as long as the work does).
constexpr double kShortTimeout = 120;

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

std::string without_trailing_slash(std::string text) {
  while (text.size() > 1 && text.back() == '/') text.pop_back();
  return text;
}

// An image name, container id or reference in a URL path: the engine routes
// /images/{name:.*}/json, so '/', ':' and '@' stay as they are; the rest is percent-encoded.
std::string path_part(std::string_view name) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : name) {
    if (std::isalnum(c) ||
        std::string_view("-_.~/:@").find(static_cast<char>(c)) != std::string_view::npos) {
      out.push_back(static_cast<char>(c));
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string flag(bool value) { return value ? "1" : "0"; }

// "1.41" -> {1, 41}; {0, 0} when malformed.
std::pair<int, int> version_pair(const std::string& version) {
  std::size_t dot = version.find('.');
  if (dot == std::string::npos) return {0, 0};
  try {
    return {std::stoi(version.substr(0, dot)), std::stoi(version.substr(dot + 1))};
  } catch (...) {
    return {0, 0};
  }
}

std::string string_member(const Json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::vector<std::string> string_list(const Json& object, const char* key) {
  std::vector<std::string> out;
  auto it = object.find(key);
  if (it == object.end() || !it->is_array()) return out;
  for (const Json& item : *it) {
    if (item.is_string()) out.push_back(item.get<std::string>());
  }
  return out;
}

// The text of an error line of a JSON-lines answer ({"error": ..} or {"errorDetail":
// {"message": ..}}), or "".
std::string error_text(const Json& line) {
  if (!line.is_object()) return {};
  std::string text = string_member(line, "error");
  if (text.empty()) {
    auto detail = line.find("errorDetail");
    if (detail != line.end() && detail->is_object()) text = string_member(*detail, "message");
  }
  return text;
}

// Whether a repository ("127.0.0.1:5000/team/flow", "localhost/flow", "flow") names a
// registry on this machine: podman then must not insist on TLS for it.
bool loopback_registry(std::string_view repository) {
  std::size_t slash = repository.find('/');
  if (slash == std::string_view::npos) return false;
  std::string_view host = repository.substr(0, slash);
  if (host.find_first_of(".:") == std::string_view::npos && host != "localhost") return false;
  if (starts_with(host, "[")) return starts_with(host, "[::1]");
  host = host.substr(0, host.find(':'));
  return host == "localhost" || starts_with(host, "127.");
}

// X-Registry-Auth: base64url of the credentials' JSON, as the Docker CLI sends it.
std::string registry_auth_header(const std::optional<RegistryAuth>& auth) {
  Json json = Json::object();
  if (auth) {
    json = {{"username", auth->username},
            {"password", auth->password},
            {"serveraddress", auth->serveraddress}};
  }
  std::string encoded = detail::base64_encode(json.dump());
  for (char& c : encoded) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return encoded;
}

// `text` with the secret taken out: engines do not echo credentials, but an error message
// must never carry a password even if one did. A short secret would match ordinary words, so
// then the whole text is withheld instead.
std::string redact(std::string text, const std::string& secret) {
  if (secret.empty() || text.find(secret) == std::string::npos) return text;
  if (secret.size() < 4) return "(message withheld: it contained the registry password)";
  for (std::size_t at; (at = text.find(secret)) != std::string::npos;) {
    text.replace(at, secret.size(), "***");
  }
  return text;
}

}  // namespace

struct EngineClient::Call {
  std::string method = "GET";
  std::string path{};  // with the /v<version> prefix where wanted
  net::Fields params{};
  std::string body{};
  std::string content_type{};
  net::Fields headers{};  // X-Registry-Auth: never shown
  double timeout_seconds = kShortTimeout;
  std::function<void(std::string_view)> on_body{};
  std::string secret{};  // removed from any message (a registry password)
};

struct EngineClient::Negotiated {
  std::mutex mutex;
  std::string version;
};

EngineClient::EngineClient(std::string base_url, EngineTls tls)
    : tls_(std::move(tls)), negotiated_(std::make_shared<Negotiated>()) {
  if (base_url.empty()) {
    base_url = default_base_url();
    // The Docker CLI's environment: DOCKER_TLS_VERIFY=1 with certificates in DOCKER_CERT_PATH.
    const char* verify = std::getenv("DOCKER_TLS_VERIFY");
    if (!tls_.enabled && verify && *verify) {
      const char* cert_path = std::getenv("DOCKER_CERT_PATH");
      const char* home = std::getenv("HOME");
      std::string dir =
          cert_path && *cert_path ? cert_path : std::string(home ? home : "") + "/.docker";
      tls_ = {true, dir + "/ca.pem", dir + "/cert.pem", dir + "/key.pem", true};
    }
  }
  if (starts_with(base_url, "unix://")) {
    socket_ = base_url.substr(7);
    base_url_ = base_url;
    http_base_ = "http://localhost";  // only the Host header: the socket is the address
  } else if (starts_with(base_url, "/")) {
    socket_ = base_url;
    base_url_ = "unix://" + base_url;
    http_base_ = "http://localhost";
  } else if (starts_with(base_url, "tcp://")) {
    base_url_ = without_trailing_slash(net::redact_url(base_url));
    http_base_ =
        (tls_.enabled ? "https://" : "http://") + without_trailing_slash(base_url.substr(6));
  } else if (starts_with(base_url, "http://") || starts_with(base_url, "https://")) {
    base_url_ = without_trailing_slash(net::redact_url(base_url));
    http_base_ = without_trailing_slash(base_url);
  }
  if (http_base_.empty() || (starts_with(base_url, "unix://") && socket_.empty()) ||
      http_base_ == "http://" || http_base_ == "https://") {
    throw ValueError("The Docker engine address '" + net::redact_url(base_url) +
                     "' is not understood: use unix:///path/to/docker.sock, tcp://host:port, "
                     "http://host:port or https://host:port (ssh:// and npipe:// are not "
                     "supported).");
  }
}

std::string EngineClient::default_base_url() {
  const char* host = std::getenv("DOCKER_HOST");
  return host && *host ? host : "unix:///var/run/docker.sock";
}

net::Response EngineClient::call(const Call& c) const {
  net::Request r;
  r.method = c.method;
  r.url = http_base_ + c.path;
  r.params = c.params;
  r.headers = c.headers;
  if (!c.content_type.empty()) r.headers.emplace_back("Content-Type", c.content_type);
  r.body = c.body;
  r.send_body = c.method != "GET";
  r.timeout_seconds = c.timeout_seconds;
  r.unix_socket = socket_;
  r.verify_tls = tls_.verify;
  r.ca_file = tls_.ca_file;
  r.cert_file = tls_.cert_file;
  r.key_file = tls_.key_file;
  // The engine is local or dedicated; a POST (create, build, push) must not run twice, and
  // the engine answers 500 for errors that a retry would not mend.
  r.max_retries = 0;
  r.follow_redirects = false;
  r.display_url = c.path;
  r.on_body = c.on_body;
  try {
    return net::send(r);
  } catch (const net::HttpError& e) {
    throw Error("Cannot reach the Docker engine at " + base_url_ + ": " +
                redact(e.what(), c.secret) +
                ". Start Docker (or podman system service), or point DOCKER_HOST or the "
                "storage's base_url at a running engine.");
  }
}

void EngineClient::check(const Call& c, const net::Response& response) const {
  if (response.ok()) return;
  // The engine's errors are {"message": "..."}; anything else is shown as it came (cut short).
  Json parsed = Json::parse(response.body, nullptr, false);
  std::string message = parsed.is_object() ? string_member(parsed, "message") : "";
  if (message.empty()) message = detail::trim(response.body.substr(0, 500));
  if (message.empty()) message = std::string(net::reason_phrase(response.status));
  if (message.empty()) message = "no message";
  throw EngineError("Docker engine: " + redact(detail::trim(message), c.secret) + " (HTTP " +
                        std::to_string(response.status) + " from " + c.method + " " + c.path + ")",
                    response.status);
}

std::string EngineClient::api_version() const {
  std::lock_guard<std::mutex> lock(negotiated_->mutex);
  if (negotiated_->version.empty()) {
    // As the Docker SDK's version="auto": the engine's ApiVersion, capped at what this client
    // was written against (a newer engine serves older API versions too).
    std::string engine = string_member(version(), "ApiVersion");
    auto ours = version_pair(std::string(kMaxApiVersion));
    auto theirs = version_pair(engine);
    negotiated_->version = theirs.first > 0 && theirs < ours ? engine : std::string(kMaxApiVersion);
  }
  return negotiated_->version;
}

std::string EngineClient::path(std::string_view api_path) const {
  return "/v" + api_version() + std::string(api_path);
}

void EngineClient::ping() const {
  Call c{.path = "/_ping"};
  check(c, call(c));
}

Value EngineClient::version() const {
  Call c{.path = "/version"};
  net::Response r = call(c);
  check(c, r);
  Json parsed = Json::parse(r.body, nullptr, false);
  if (!parsed.is_object()) {
    throw Error("The Docker engine at " + base_url_ +
                " answered GET /version with something other than JSON: is it a Docker engine?");
  }
  return parsed;
}

BuildResult EngineClient::build(const std::string& context_tar, const BuildOptions& options,
                                const std::function<void(const std::string&)>& on_line) const {
  Call c{.method = "POST", .path = path("/build")};
  c.content_type = "application/x-tar";
  c.body = context_tar;
  c.timeout_seconds = 0;
  if (!options.tag.empty()) c.params.emplace_back("t", options.tag);
  c.params.emplace_back("dockerfile", options.dockerfile);
  c.params.emplace_back("rm", flag(options.rm));
  c.params.emplace_back("nocache", flag(options.nocache));
  // Sent even when false: podman otherwise may look the FROM image up in a registry.
  c.params.emplace_back("pull", flag(options.pull));
  if (!options.buildargs.empty())
    c.params.emplace_back("buildargs", Json(options.buildargs).dump());
  if (!options.network_mode.empty()) c.params.emplace_back("networkmode", options.network_mode);
  if (options.extra.is_object()) {
    for (const auto& [key, value] : options.extra.items()) {
      if (value.is_null()) continue;
      if (value.is_boolean()) {
        c.params.emplace_back(key, flag(value.get<bool>()));
      } else if (value.is_string()) {
        c.params.emplace_back(key, value.get<std::string>());
      } else {
        c.params.emplace_back(key, value.dump());  // numbers as text, objects as JSON
      }
    }
  } else if (!options.extra.is_null()) {
    throw ValueError(
        "BuildOptions::extra (build_kwargs) must be an object of query parameters, "
        "not " +
        options.extra.dump());
  }

  BuildResult result;
  std::deque<std::string> last;
  std::string built_id;  // from "Successfully built <id>" (Docker's classic builder)
  LineSplitter lines([&](std::string_view raw) {
    Json parsed = Json::parse(raw, nullptr, false);
    if (parsed.is_object()) {
      if (std::string error = error_text(parsed); !error.empty() && result.error.empty()) {
        result.error = detail::trim(error);
      }
      auto aux = parsed.find("aux");
      if (aux != parsed.end() && aux->is_object() && !string_member(*aux, "ID").empty()) {
        result.image_id = string_member(*aux, "ID");
      }
    }
    std::optional<std::string> text = build_output_line(raw);
    if (!text) return;
    static const std::regex built("^Successfully built ([0-9a-f]+)$");
    if (std::smatch m; std::regex_match(*text, m, built)) built_id = m[1];
    last.push_back(*text);
    if (last.size() > kLastLines) last.pop_front();
    if (on_line) on_line(*text);
  });
  c.on_body = [&](std::string_view chunk) { lines.feed(chunk); };
  net::Response response = call(c);
  lines.finish();
  result.last_lines.assign(last.begin(), last.end());
  if (!response.ok()) {
    try {
      check(c, response);
    } catch (const EngineError& e) {
      result.error = e.what();
    }
    return result;
  }
  if (!result.error.empty()) return result;
  if (result.image_id.empty() && !built_id.empty()) {
    if (auto image = inspect_image(built_id)) result.image_id = image->id;
  }
  if (result.image_id.empty() && !options.tag.empty()) {
    if (auto image = inspect_image(options.tag)) result.image_id = image->id;
  }
  if (result.image_id.empty()) {
    result.error = "The Docker engine finished the build without naming the image it built";
    return result;
  }
  result.ok = true;
  return result;
}

std::optional<ImageInfo> EngineClient::inspect_image(const std::string& name) const {
  Call c{.path = path("/images/" + path_part(name) + "/json")};
  net::Response r = call(c);
  if (r.status == 404) return std::nullopt;
  check(c, r);
  Json parsed = Json::parse(r.body, nullptr, false);
  if (!parsed.is_object()) return std::nullopt;
  return ImageInfo{string_member(parsed, "Id"), string_list(parsed, "RepoTags"),
                   string_list(parsed, "RepoDigests")};
}

void EngineClient::tag_image(const std::string& source, const std::string& repo,
                             const std::string& tag) const {
  Call c{.method = "POST", .path = path("/images/" + path_part(source) + "/tag")};
  c.params = {{"repo", repo}, {"tag", tag}};
  check(c, call(c));
}

void EngineClient::remove_image(const std::string& name, bool force) const {
  Call c{.method = "DELETE", .path = path("/images/" + path_part(name))};
  c.params = {{"force", flag(force)}};
  net::Response r = call(c);
  if (r.status == 404) return;
  check(c, r);
}

std::string EngineClient::import_image(const std::string& rootfs_tar, const std::string& repo,
                                       const std::string& tag) const {
  Call c{.method = "POST", .path = path("/images/create")};
  c.params = {{"fromSrc", "-"}, {"repo", repo}, {"tag", tag}};
  c.content_type = "application/x-tar";
  c.body = rootfs_tar;
  c.timeout_seconds = 0;
  std::string reported;  // the last status: Docker and podman report the new image's id there
  std::string error;
  LineSplitter lines([&](std::string_view raw) {
    Json parsed = Json::parse(raw, nullptr, false);
    if (!parsed.is_object()) return;
    if (std::string e = error_text(parsed); !e.empty()) error = e;
    if (std::string s = detail::trim(string_member(parsed, "status")); !s.empty()) reported = s;
    if (std::string id = string_member(parsed, "id"); !id.empty() && reported.empty()) {
      reported = id;
    }
  });
  c.on_body = [&](std::string_view chunk) { lines.feed(chunk); };
  net::Response r = call(c);
  lines.finish();
  check(c, r);
  if (!error.empty()) throw Error("Importing " + repo + ":" + tag + " failed: " + error);
  const std::string name = repo + ":" + tag;
  if (auto image = inspect_image(name)) return image->id;
  // podman ignores the tag parameter (the import is <repo>:latest): name it as asked.
  if (!reported.empty()) {
    if (auto image = inspect_image(reported)) {
      tag_image(image->id, repo, tag);
      return image->id;
    }
  }
  throw Error("The Docker engine imported " + name +
              " but no image of that name exists (it said: " +
              (reported.empty() ? "nothing" : reported) + ")");
}

namespace {

// Reads a push or pull answer: progress to on_progress, an error line thrown, and the
// pushed manifest's digest kept.
struct ProgressReader {
  const std::function<void(const std::string&)>& on_progress;
  const std::string& secret;
  std::string what;  // "Pushing 127.0.0.1:5000/flow:1"
  std::string digest{};

  void line(std::string_view raw) {
    Json parsed = Json::parse(raw, nullptr, false);
    if (!parsed.is_object()) return;
    if (std::string error = error_text(parsed); !error.empty()) {
      // The reference's InterruptedError.
      throw Error(what + " failed: " + redact(detail::trim(error), secret));
    }
    std::string status = string_member(parsed, "status");
    std::string progress = string_member(parsed, "progress");
    auto aux = parsed.find("aux");
    if (aux != parsed.end() && aux->is_object() && !string_member(*aux, "Digest").empty()) {
      digest = string_member(*aux, "Digest");
    }
    static const std::regex digest_line("digest: (sha256:[0-9a-f]{64})");
    if (std::smatch m; digest.empty() && std::regex_search(status, m, digest_line)) {
      digest = m[1];
    }
    if (!on_progress) return;
    if (!progress.empty()) {
      on_progress(redact(status + " " + progress + "\r", secret));
    } else if (!status.empty()) {
      on_progress(redact(status, secret));
    }
  }
};

}  // namespace

std::string EngineClient::push_image(
    const std::string& repository, const std::string& tag, const std::optional<RegistryAuth>& auth,
    const std::function<void(const std::string&)>& on_progress) const {
  Call c{.method = "POST", .path = path("/images/" + path_part(repository) + "/push")};
  c.params = {{"tag", tag}};
  if (loopback_registry(repository)) c.params.emplace_back("tlsVerify", "false");
  // Sent even without credentials: Docker wants the header on a push.
  c.headers = {{"X-Registry-Auth", registry_auth_header(auth)}};
  c.timeout_seconds = 0;
  if (auth) c.secret = auth->password;
  ProgressReader reader{on_progress, c.secret, "Pushing " + repository + ":" + tag};
  LineSplitter lines([&](std::string_view raw) { reader.line(raw); });
  c.on_body = [&](std::string_view chunk) { lines.feed(chunk); };
  net::Response r = call(c);
  lines.finish();
  check(c, r);
  return reader.digest;
}

void EngineClient::pull_image(const std::string& image, const std::string& tag_or_digest,
                              const std::optional<RegistryAuth>& auth,
                              const std::function<void(const std::string&)>& on_progress) const {
  Call c{.method = "POST", .path = path("/images/create")};
  c.params = {{"fromImage", image}, {"tag", tag_or_digest}};
  if (loopback_registry(image)) c.params.emplace_back("tlsVerify", "false");
  c.headers = {{"X-Registry-Auth", registry_auth_header(auth)}};
  c.timeout_seconds = 0;
  if (auth) c.secret = auth->password;
  const char* separator = starts_with(tag_or_digest, "sha256:") ? "@" : ":";
  ProgressReader reader{on_progress, c.secret, "Pulling " + image + separator + tag_or_digest};
  LineSplitter lines([&](std::string_view raw) { reader.line(raw); });
  c.on_body = [&](std::string_view chunk) { lines.feed(chunk); };
  net::Response r = call(c);
  lines.finish();
  check(c, r);
}

std::string EngineClient::create_container(const ContainerSpec& spec) const {
  Json body = {{"Image", spec.image}};
  if (!spec.cmd.empty()) body["Cmd"] = spec.cmd;
  if (!spec.env.empty()) body["Env"] = spec.env;
  if (!spec.labels.empty()) body["Labels"] = spec.labels;
  Json host = Json::object();
  if (!spec.binds.empty()) host["Binds"] = spec.binds;
  if (!spec.network_mode.empty()) host["NetworkMode"] = spec.network_mode;
  body["HostConfig"] = host;
  Call c{.method = "POST", .path = path("/containers/create")};
  if (!spec.name.empty()) c.params = {{"name", spec.name}};
  c.content_type = "application/json";
  c.body = body.dump();
  net::Response r = call(c);
  check(c, r);
  Json parsed = Json::parse(r.body, nullptr, false);
  std::string id = parsed.is_object() ? string_member(parsed, "Id") : "";
  if (id.empty()) {
    throw Error("The Docker engine created a container from " + spec.image +
                " but did not say its id (answer: " + r.body.substr(0, 200) + ")");
  }
  return id;
}

void EngineClient::start_container(const std::string& id) const {
  Call c{.method = "POST", .path = path("/containers/" + path_part(id) + "/start")};
  net::Response r = call(c);
  if (r.status == 304) return;  // already running
  check(c, r);
}

int EngineClient::wait_container(const std::string& id) const {
  Call c{.method = "POST", .path = path("/containers/" + path_part(id) + "/wait")};
  c.timeout_seconds = 0;
  net::Response r = call(c);
  check(c, r);
  Json parsed = Json::parse(r.body, nullptr, false);
  auto code = parsed.is_object() ? parsed.find("StatusCode") : parsed.end();
  if (!parsed.is_object() || code == parsed.end() || !code->is_number_integer()) {
    throw Error("The Docker engine did not say how container " + id +
                " ended (answer: " + r.body.substr(0, 200) + ")");
  }
  return code->get<int>();
}

void EngineClient::stream_logs(
    const std::string& id, bool follow,
    const std::function<void(int stream, std::string_view line)>& on_line) const {
  // A container with a TTY has one raw stream; without, frames say which stream they carry.
  Call inspect{.path = path("/containers/" + path_part(id) + "/json")};
  net::Response info = call(inspect);
  check(inspect, info);
  Json parsed = Json::parse(info.body, nullptr, false);
  bool tty = false;
  if (parsed.is_object() && parsed.contains("Config") && parsed["Config"].is_object()) {
    tty = parsed["Config"].value("Tty", false);
  }
  Call c{.path = path("/containers/" + path_part(id) + "/logs")};
  c.params = {{"stdout", "1"}, {"stderr", "1"}, {"follow", flag(follow)}};
  c.timeout_seconds = 0;
  LogDemuxer demuxer(on_line, tty);
  c.on_body = [&](std::string_view chunk) { demuxer.feed(chunk); };
  net::Response r = call(c);
  demuxer.finish();
  check(c, r);
}

void EngineClient::remove_container(const std::string& id, bool force) const {
  Call c{.method = "DELETE", .path = path("/containers/" + path_part(id))};
  c.params = {{"force", flag(force)}, {"v", "1"}};
  net::Response r = call(c);
  if (r.status == 404) return;
  check(c, r);
}

std::optional<std::string> EngineClient::container_status(const std::string& id) const {
  Call c{.path = path("/containers/" + path_part(id) + "/json")};
  net::Response r = call(c);
  if (r.status == 404) return std::nullopt;
  check(c, r);
  Json parsed = Json::parse(r.body, nullptr, false);
  if (parsed.is_object() && parsed.contains("State") && parsed["State"].is_object()) {
    return string_member(parsed["State"], "Status");
  }
  return std::string();
}

}  // namespace ferry::docker
