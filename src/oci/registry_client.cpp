#include "oci/registry_client.hpp"

#include <cstdlib>

#include "core/digest.hpp"
#include "core/text.hpp"
#include "ferry/codec.hpp"
#include "ferry/error.hpp"

namespace ferry::oci {

namespace {

using detail::iequals;

const std::string kAcceptManifests =
    std::string(media_type::kOciManifest) + ", " + std::string(media_type::kDockerManifest) + ", " +
    std::string(media_type::kOciIndex) + ", " + std::string(media_type::kDockerManifestList);

std::string host_without_port(std::string_view host) {
  if (!host.empty() && host.front() == '[') return std::string(host.substr(0, host.find(']') + 1));
  return std::string(host.substr(0, host.find(':')));
}

std::string pull_scope(const std::string& repo) { return "repository:" + repo + ":pull"; }
std::string push_scope(const std::string& repo) { return "repository:" + repo + ":pull,push"; }

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : std::string(sep)) + p;
  return out;
}

bool is_digest(std::string_view reference) { return reference.find(':') != std::string_view::npos; }

// `Bearer realm="https://auth.example/token",service="registry",scope="repository:a:pull,push"`
// (RFC 7235: a scheme, then name=value pairs whose quoted values may hold commas).
struct ParsedChallenge {
  std::string scheme;
  std::map<std::string, std::string> params;
};

ParsedChallenge parse_challenge(std::string_view header) {
  ParsedChallenge c;
  std::size_t i = 0;
  while (i < header.size() && header[i] == ' ') ++i;
  while (i < header.size() && header[i] != ' ') c.scheme += header[i++];
  while (i < header.size()) {
    while (i < header.size() && (header[i] == ' ' || header[i] == ',')) ++i;
    std::string name;
    while (i < header.size() && header[i] != '=' && header[i] != ',') name += header[i++];
    if (i >= header.size() || header[i] != '=') continue;
    ++i;
    std::string value;
    if (i < header.size() && header[i] == '"') {
      for (++i; i < header.size() && header[i] != '"'; ++i) {
        if (header[i] == '\\' && i + 1 < header.size()) ++i;
        value += header[i];
      }
      ++i;
    } else {
      while (i < header.size() && header[i] != ',') value += header[i++];
    }
    for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    c.params[detail::trim(name)] = detail::trim(value);
  }
  return c;
}

// "MANIFEST_BLOB_UNKNOWN: blob unknown to registry; ..." from the API's error body, or "".
std::string registry_errors(const std::string& body) {
  Value v = Value::parse(body, nullptr, false);
  if (v.is_discarded() || !v.is_object() || !v.contains("errors") || !v["errors"].is_array()) {
    return "";
  }
  std::string out;
  for (const Value& e : v["errors"]) {
    if (!e.is_object()) continue;
    std::string item = e.value("code", std::string());
    if (std::string m = e.value("message", std::string()); !m.empty()) {
      item += (item.empty() ? "" : ": ") + m;
    }
    out += (out.empty() ? "" : "; ") + item;
  }
  return out;
}

std::string content_type(const net::Response& r) {
  std::string type = r.header("Content-Type");
  return detail::trim(type.substr(0, type.find(';')));
}

}  // namespace

bool default_insecure(std::string_view registry_host) {
  const std::string bare = host_without_port(registry_host);
  if (bare == "localhost" || bare == "[::1]" || bare.rfind("127.", 0) == 0) return true;
  const char* list = std::getenv("FERRY_INSECURE_REGISTRIES");
  std::string_view rest = list ? list : "";
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const std::string item = detail::trim(rest.substr(0, comma));
    if (!item.empty() && (item == registry_host || item == bare)) return true;
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return false;
}

RegistryClient::RegistryClient(std::string registry_host, std::optional<RegistryCredentials> creds,
                               RegistryOptions opts)
    : host_(std::move(registry_host)), creds_(std::move(creds)), opts_(std::move(opts)) {
  if (host_.empty())
    throw ValueError("A registry host is needed (e.g. ghcr.io or 127.0.0.1:5000).");
  const bool insecure = opts_.insecure.value_or(default_insecure(host_));
  // Docker Hub's API lives on another host than the name images use.
  const std::string api_host = host_ == "docker.io" ? "registry-1.docker.io" : host_;
  base_url_ = (insecure ? "http://" : "https://") + api_host;
}

net::Request RegistryClient::request(std::string method, const std::string& path) const {
  net::Request r;
  r.method = std::move(method);
  r.url = base_url_ + path;
  r.ca_file = opts_.ca_file;
  r.timeout_seconds = opts_.timeout_seconds;
  return r;
}

std::string RegistryClient::absolute(const std::string& location) const {
  if (location.rfind("http://", 0) == 0 || location.rfind("https://", 0) == 0) return location;
  return base_url_ + (location.rfind('/', 0) == 0 ? "" : "/") + location;
}

std::string RegistryClient::name(const std::string& repo, const std::string& reference) const {
  return host_ + "/" + repo + (is_digest(reference) ? "@" : ":") + reference;
}

void RegistryClient::authorize(net::Request& request, const std::string& scope_key) const {
  if (scheme_ == Scheme::kBasic && creds_) {
    request.headers.emplace_back(
        "Authorization",
        "Basic " + detail::base64_encode(creds_->username + ":" + creds_->password));
  } else if (scheme_ == Scheme::kBearer) {
    if (auto it = tokens_.find(scope_key); it != tokens_.end() && !it->second.empty()) {
      request.headers.emplace_back("Authorization", "Bearer " + it->second);
    }
  }
}

void RegistryClient::refused(const std::string& repo, long status) const {
  if (!creds_) {
    throw Error("Registry " + host_ + " needs credentials for " + repo + " (HTTP " +
                std::to_string(status) + ") and ferry has none for it: run \"docker login " +
                host_ +
                "\" (ferry reads $DOCKER_CONFIG/config.json, else ~/.docker/config.json), or set "
                "the storage's registry credentials secret to {\"username\": \"...\", "
                "\"password\": \"...\"}.");
  }
  if (status == 403) {
    throw Error("Registry " + host_ + " denied access to " + repo +
                " (HTTP 403): the credentials were accepted but the account may not use this "
                "repository; check its permissions, or use another account.");
  }
  throw Error("Registry " + host_ + " refused the credentials for " + repo + " (HTTP " +
              std::to_string(status) + "): check the username and password (docker login " + host_ +
              ", or the storage's registry credentials secret), and that the account may access " +
              repo + ".");
}

void RegistryClient::fail(const net::Request& request, const net::Response& response,
                          const std::string& what) const {
  std::string message = "Registry " + host_ + " answered HTTP " + std::to_string(response.status);
  if (auto reason = net::reason_phrase(response.status); !reason.empty()) {
    message += " " + std::string(reason);
  }
  message += " to " + what + " (" + request.method + " " + net::redact_url(request.url) + ")";
  if (std::string errors = registry_errors(response.body); !errors.empty()) {
    message += ": " + errors;
  }
  throw net::HttpError(message + ".", response.status);
}

void RegistryClient::fetch_token(const std::string& repo, const std::vector<std::string>& scopes,
                                 const std::string& scope_key) {
  net::Request t;
  t.url = realm_;
  t.ca_file = opts_.ca_file;
  t.timeout_seconds = 60;
  if (!service_.empty()) t.params.emplace_back("service", service_);
  for (const auto& scope : scopes) t.params.emplace_back("scope", scope);
  if (creds_) {
    t.headers.emplace_back(
        "Authorization",
        "Basic " + detail::base64_encode(creds_->username + ":" + creds_->password));
  }
  net::Response r = net::send(t);
  if (r.status == 401 || r.status == 403) refused(repo, r.status);
  if (!r.ok()) fail(t, r, "a token request for " + repo);
  Value body = Value::parse(r.body, nullptr, false);
  std::string token;
  if (body.is_object()) {
    token = body.value("token", std::string());
    if (token.empty()) token = body.value("access_token", std::string());
  }
  if (token.empty()) {
    throw Error("The token service of registry " + host_ + " (" + net::redact_url(realm_) +
                ") answered without a token for " + repo + ".");
  }
  tokens_[scope_key] = token;
}

net::Response RegistryClient::call(net::Request req, const std::string& repo,
                                   const std::vector<std::string>& scopes) {
  const std::string key = join(scopes, " ");
  bool fresh_token = false;
  if (scheme_ == Scheme::kBearer && !tokens_.count(key)) {
    // The registry wants tokens: get this scope's before asking, as the Docker client does.
    fetch_token(repo, scopes, key);
    fresh_token = true;
  }
  net::Request sent = req;
  authorize(sent, key);
  net::Response r = net::send(sent);
  if (r.status == 403) refused(repo, 403);
  if (r.status != 401) return r;

  const bool sent_auth = sent.headers.size() > req.headers.size();
  ParsedChallenge challenge = parse_challenge(r.header("WWW-Authenticate"));
  if (iequals(challenge.scheme, "Basic")) {
    if (!creds_) refused(repo, 401);
    if (sent_auth && scheme_ == Scheme::kBasic) refused(repo, 401);
    scheme_ = Scheme::kBasic;
  } else if (iequals(challenge.scheme, "Bearer") && !challenge.params["realm"].empty()) {
    // A token this call fetched was refused: more tokens will not help. One from an earlier
    // call may just have expired.
    if (sent_auth && fresh_token) refused(repo, 401);
    scheme_ = Scheme::kBearer;
    realm_ = challenge.params["realm"];
    service_ = challenge.params["service"];
    std::vector<std::string> wanted = scopes;
    if (const std::string& s = challenge.params["scope"]; !s.empty()) {
      bool known = false;
      for (const auto& w : wanted) known = known || w == s;
      if (!known) wanted.push_back(s);
    }
    fetch_token(repo, wanted, key);
  } else {
    fail(sent, r,
         "a request for " + repo + " (unsupported authentication challenge \"" + challenge.scheme +
             "\")");
  }
  sent = req;
  authorize(sent, key);
  r = net::send(sent);
  if (r.status == 401) refused(repo, 401);
  if (r.status == 403) refused(repo, 403);
  return r;
}

bool RegistryClient::blob_exists(const std::string& repo, const std::string& digest) {
  // A GET of the first byte rather than a HEAD: net::send reads a body for every method, and
  // would wait for the Content-Length bytes a HEAD answer announces but never sends.
  net::Request req = request("GET", "/v2/" + repo + "/blobs/" + digest);
  req.headers.emplace_back("Range", "bytes=0-0");
  net::Response r = call(req, repo, {pull_scope(repo)});
  if (r.status == 404) return false;
  // 416: an empty blob has no first byte, but it is there.
  if (r.ok() || r.status == 416) return true;
  fail(req, r, "a check for blob " + digest + " in " + repo);
}

std::string RegistryClient::get_blob(const std::string& repo, const std::string& digest) {
  if (digest.rfind("sha256:", 0) != 0) {
    throw ValueError("Cannot check blob " + digest + " of " + host_ + "/" + repo +
                     ": only sha256 digests are supported.");
  }
  net::Request req = request("GET", "/v2/" + repo + "/blobs/" + digest);
  req.hash_body = true;
  net::Response r = call(req, repo, {pull_scope(repo)});
  if (r.status == 404) {
    throw net::HttpError("Blob " + digest + " not found in " + host_ + "/" + repo +
                             " (HTTP 404): the image refers to a layer or config the registry "
                             "does not have; push the image again.",
                         404);
  }
  if (!r.ok()) fail(req, r, "a download of blob " + digest + " from " + repo);
  if ("sha256:" + r.body_sha256 != digest) {
    throw Error("Blob " + digest + " from " + host_ + "/" + repo +
                " does not match its digest (its content hashes to sha256:" + r.body_sha256 +
                "): the registry's copy is corrupt or was replaced; push the image again.");
  }
  return std::move(r.body);
}

void RegistryClient::put_blob(const std::string& repo, const std::string& digest,
                              std::string_view bytes) {
  if (blob_exists(repo, digest)) return;
  net::Request start = request("POST", "/v2/" + repo + "/blobs/uploads/");
  start.send_body = true;
  net::Response r = call(start, repo, {push_scope(repo)});
  if (r.status != 202) fail(start, r, "the start of an upload to " + repo);
  const std::string location = r.header("Location");
  if (location.empty()) {
    throw Error("Registry " + host_ + " started an upload to " + repo +
                " without a Location to send it to.");
  }
  // Location is absolute or relative to the registry, and carries upload state in its query.
  net::Request put = request("PUT", "");
  put.url = net::url_with_params(absolute(location), {{"digest", digest}});
  put.headers = {{"Content-Type", "application/octet-stream"}};
  put.body = std::string(bytes);
  put.send_body = true;
  r = call(put, repo, {push_scope(repo)});
  if (r.status != 201) fail(put, r, "the upload of blob " + digest + " to " + repo);
}

bool RegistryClient::mount_blob(const std::string& repo, const std::string& digest,
                                const std::string& from_repo) {
  net::Request req = request("POST", "/v2/" + repo + "/blobs/uploads/");
  req.params = {{"mount", digest}, {"from", from_repo}};
  req.send_body = true;
  net::Response r = call(req, repo, {push_scope(repo), pull_scope(from_repo)});
  if (r.status == 201) return true;
  if (r.status != 202) fail(req, r, "a mount of blob " + digest + " from " + from_repo);
  // The registry opened an upload instead: cancel it, the caller uploads.
  if (std::string location = r.header("Location"); !location.empty()) {
    net::Request cancel = request("DELETE", "");
    cancel.url = absolute(location);
    cancel.max_retries = 0;
    try {
      call(cancel, repo, {push_scope(repo)});
    } catch (const Error&) {
      // An abandoned upload is cleaned up by the registry eventually.
    }
  }
  return false;
}

void RegistryClient::throw_not_found(const std::string& repo, const std::string& reference) const {
  throw net::HttpError("Image " + name(repo, reference) +
                           " not found in the registry (HTTP 404). Check the repository and "
                           "tag (or digest), and that the image was pushed to " +
                           host_ + ".",
                       404);
}

Manifest RegistryClient::fetch_manifest(const std::string& repo, const std::string& reference,
                                        int depth) {
  net::Request req = request("GET", "/v2/" + repo + "/manifests/" + reference);
  req.headers = {{"Accept", kAcceptManifests}};
  net::Response r = call(req, repo, {pull_scope(repo)});
  if (r.status == 404) {
    throw_not_found(repo, reference);
  }
  if (!r.ok()) fail(req, r, "a request for the manifest of " + name(repo, reference));

  Manifest m{content_type(r), std::move(r.body), ""};
  m.digest = "sha256:" + detail::sha256_hex(m.body);
  if (is_digest(reference) && m.digest != reference) {
    throw Error("The manifest of " + name(repo, reference) +
                " that the registry served does not match that digest (it hashes to " + m.digest +
                "): the registry's copy is corrupt or was replaced.");
  }
  Value body = Value::parse(m.body, nullptr, false);
  if (!body.is_object()) {
    throw Error("The manifest of " + name(repo, reference) + " is not a JSON object.");
  }
  if (m.media_type.empty() || m.media_type == "application/json" || m.media_type == "text/plain") {
    m.media_type = body.value("mediaType", std::string(media_type::kOciManifest));
  }
  if (m.media_type != media_type::kOciIndex && m.media_type != media_type::kDockerManifestList) {
    if (m.media_type != media_type::kOciManifest && m.media_type != media_type::kDockerManifest) {
      throw Error("The manifest of " + name(repo, reference) + " is of type " + m.media_type +
                  ", which ferry does not read: push it again with a current Docker, podman or "
                  "buildah (an OCI or Docker v2 schema 2 manifest).");
    }
    return m;
  }
  // A multi-platform image: the linux/amd64 one is what the workers run.
  std::string platforms;
  if (body.contains("manifests") && body["manifests"].is_array() && depth == 0) {
    for (const Value& entry : body["manifests"]) {
      const Value platform = entry.value("platform", Value::object());
      const std::string os = platform.value("os", std::string());
      const std::string arch = platform.value("architecture", std::string());
      if (os == "linux" && arch == "amd64") {
        return fetch_manifest(repo, entry.value("digest", std::string()), depth + 1);
      }
      platforms += (platforms.empty() ? "" : ", ") + os + "/" + arch;
    }
  }
  throw Error("Image " + name(repo, reference) + " has no linux/amd64 variant (it has: " +
              (platforms.empty() ? std::string("none") : platforms) +
              "): build and push it for linux/amd64.");
}

Manifest RegistryClient::get_manifest(const std::string& repo, const std::string& reference) {
  return fetch_manifest(repo, reference, 0);
}

std::string RegistryClient::put_manifest(const std::string& repo, const std::string& reference,
                                         std::string_view media_type, const std::string& body) {
  net::Request req = request("PUT", "/v2/" + repo + "/manifests/" + reference);
  req.headers = {{"Content-Type", std::string(media_type)}};
  req.body = body;
  req.send_body = true;
  net::Response r = call(req, repo, {push_scope(repo)});
  if (r.status != 201 && !r.ok()) fail(req, r, "the push of manifest " + name(repo, reference));
  std::string digest = r.header("Docker-Content-Digest");
  return digest.empty() ? "sha256:" + detail::sha256_hex(body) : digest;
}

std::string RegistryClient::resolve_digest(const std::string& repo, const std::string& reference) {
  // A GET, not a HEAD (see blob_exists); manifests are small.
  net::Request req = request("GET", "/v2/" + repo + "/manifests/" + reference);
  req.headers = {{"Accept", kAcceptManifests}};
  req.hash_body = true;
  net::Response r = call(req, repo, {pull_scope(repo)});
  if (r.status == 404) {
    throw_not_found(repo, reference);
  }
  if (!r.ok()) fail(req, r, "a request for the digest of " + name(repo, reference));
  return "sha256:" + r.body_sha256;
}

}  // namespace ferry::oci
