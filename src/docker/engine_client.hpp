// A client for the Docker Engine API (Docker, or podman's compatible `system service`): what
// Docker storage needs to build, tag, push and pull flow images, and what the Docker agent
// needs to run a flow run in a container. It speaks HTTP over the engine's Unix socket or
// TCP (optionally TLS) through net::send, so no Docker CLI or SDK is needed.
//
// Errors are ferry::Error: an engine that cannot be reached says so and how to fix it; an
// API error carries the engine's own message. Registry passwords are never logged or put in
// an error message.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "docker/engine_streams.hpp"
#include "ferry/codec.hpp"
#include "ferry/error.hpp"

namespace ferry::net {
struct Request;
struct Response;
}  // namespace ferry::net

namespace ferry::docker {

// The engine answered a request with an error status (its message is in what()).
class EngineError : public Error {
 public:
  EngineError(const std::string& message, long status) : Error(message), status_(status) {}
  long status() const { return status_; }

 private:
  long status_;
};

// TLS for a tcp:// engine (dockerd --tlsverify). Files are PEM; the key unencrypted.
struct EngineTls {
  bool enabled = false;
  std::string ca_file{};    // CA that signed the engine's certificate; "" = system CAs
  std::string cert_file{};  // client certificate, when the engine checks clients
  std::string key_file{};   // its private key
  bool verify = true;       // check the engine's certificate and host name
};

struct BuildOptions {
  std::string tag{};                      // "name:tag" given to the built image ("" = untagged)
  std::string dockerfile = "Dockerfile";  // path inside the context
  bool rm = true;                         // remove intermediate containers
  bool nocache = false;
  bool pull = false;  // pull a newer FROM image even when one is present
  std::map<std::string, std::string> buildargs{};
  std::string network_mode{};  // "" = the engine's default
  // Other query parameters passed through (the reference's build_kwargs): strings as they
  // are, bools as 1/0, numbers as text, objects and arrays as JSON; null is left out.
  Value extra = Value::object();
};

struct BuildResult {
  bool ok = false;
  std::string image_id{};                 // "sha256:..." when ok
  std::string error{};                    // the engine's error when !ok
  std::vector<std::string> last_lines{};  // the last 20 output lines, for error reports
};

struct ImageInfo {
  std::string id{};
  std::vector<std::string> repo_tags{};
  std::vector<std::string> repo_digests{};
};

// Credentials for a registry, sent to the engine in the X-Registry-Auth header only.
struct RegistryAuth {
  std::string username{};
  std::string password{};
  std::string serveraddress{};
};

struct ContainerSpec {
  std::string image{};
  std::vector<std::string> cmd{};    // empty = the image's CMD
  std::vector<std::string> env{};    // "NAME=value"
  std::vector<std::string> binds{};  // "host:container[:ro]"
  std::string network_mode{};        // "host", "bridge", ... ("" = the engine's default)
  std::map<std::string, std::string> labels{};
  std::string name{};  // "" = the engine picks one
};

class EngineClient {
 public:
  // base_url: "unix:///path/to/sock", "unix://path", "tcp://host:port" (http, or https
  // when tls.enabled), "http://host:port", "https://host:port"; "" = default_base_url(). With
  // an empty base_url and no TLS given, DOCKER_TLS_VERIFY/DOCKER_CERT_PATH are honoured as
  // the Docker CLI does. A malformed URL is a ValueError.
  explicit EngineClient(std::string base_url = "", EngineTls tls = {});

  // $DOCKER_HOST when set, else unix:///var/run/docker.sock.
  static std::string default_base_url();
  // The newest API version this client uses; the engine's own, when older, is used instead.
  static constexpr std::string_view kMaxApiVersion = "1.41";

  const std::string& base_url() const { return base_url_; }
  // The API version in use ("1.41"), negotiated with the engine on first use.
  std::string api_version() const;

  // Throws ferry::Error unless the engine answers.
  void ping() const;
  // GET /version: {"Version": ..., "ApiVersion": ..., "Os": ..., ...}.
  Value version() const;

  // Builds an image from a tar of the build context. on_line gets each output line as the
  // reference prints it (see build_output_line). A failed build is ok=false with the error;
  // an unreachable engine throws.
  BuildResult build(const std::string& context_tar, const BuildOptions& options,
                    const std::function<void(const std::string&)>& on_line = {}) const;

  // nullopt when there is no such image.
  std::optional<ImageInfo> inspect_image(const std::string& name) const;
  void tag_image(const std::string& source, const std::string& repo, const std::string& tag) const;
  // A missing image is not an error (removing is what cleanup wants anyway).
  void remove_image(const std::string& name, bool force = false) const;
  // Imports a root filesystem tar as a one-layer image named repo:tag; returns its id.
  // (podman names the import <repo>:latest whatever the tag; the client then tags it too.)
  std::string import_image(const std::string& rootfs_tar, const std::string& repo,
                           const std::string& tag = "latest") const;

  // Pushes repository:tag (repository = "registry/name"); returns the manifest digest
  // ("sha256:...") the registry reported, or "" when it reported none. on_progress gets
  // "<status> <progress>\r" for progress lines, else the status line. An error line throws
  // ferry::Error with the engine's text. Registries on loopback (localhost, 127.x) get
  // tlsVerify=false (podman's parameter; Docker ignores it and allows them anyway).
  std::string push_image(const std::string& repository, const std::string& tag,
                         const std::optional<RegistryAuth>& auth = std::nullopt,
                         const std::function<void(const std::string&)>& on_progress = {}) const;
  // Pulls image:tag_or_digest ("latest", or "sha256:..."); progress and errors as push_image.
  void pull_image(const std::string& image, const std::string& tag_or_digest,
                  const std::optional<RegistryAuth>& auth = std::nullopt,
                  const std::function<void(const std::string&)>& on_progress = {}) const;

  // Creates a container; returns its id.
  std::string create_container(const ContainerSpec& spec) const;
  void start_container(const std::string& id) const;
  // Waits for the container to stop; returns its exit code.
  int wait_container(const std::string& id) const;
  // The container's output line by line (without the "\n"): stream 1 = stdout, 2 = stderr.
  // follow: keep streaming until the container stops. A container with a TTY has a single
  // stream, reported as stdout.
  void stream_logs(const std::string& id, bool follow,
                   const std::function<void(int stream, std::string_view line)>& on_line) const;
  // A missing container is not an error. force: kill it first if it runs.
  void remove_container(const std::string& id, bool force = false) const;
  // "created", "running", "exited", ...; nullopt when there is no such container.
  std::optional<std::string> container_status(const std::string& id) const;

 private:
  struct Call;
  net::Response call(const Call& call) const;
  void check(const Call& call, const net::Response& response) const;
  std::string path(std::string_view api_path) const;  // "/v1.41" + api_path

  std::string base_url_;   // as normalised for messages: "unix:///run/docker.sock"
  std::string http_base_;  // what requests go to: "http://localhost", "https://host:2376"
  std::string socket_;     // the Unix socket, or ""
  EngineTls tls_;
  struct Negotiated;
  std::shared_ptr<Negotiated> negotiated_;
};

}  // namespace ferry::docker
