// Docker storage: flows shipped inside a container image pushed to a registry. Runs of such
// flows go to the Docker agent (`ferry agent docker start`), which starts the image; the
// local agent refuses them. See docs/storage/docker.md.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ferry/codec.hpp"
#include "ferry/storage/storage.hpp"

namespace ferry::storage {

struct DockerTls {
  bool enabled = false;  // https to a tcp:// engine
  std::string ca_file{};
  std::string cert_file{};
  std::string key_file{};
  bool verify = true;
};

struct DockerOptions {
  // Where the image is pushed ("registry.example.com/team", "127.0.0.1:5000"). Empty: the
  // image stays in the local engine and is not pushed (a warning says so).
  std::string registry_url{};
  std::string image_name{};  // default slug(flow name) for one flow, else a random UUID
  std::string image_tag{};   // default slug(UTC timestamp at build)
  // FROM this image. Default: the ferry runtime image of this ferry version (see
  // default_base_image()). Only one of base_image and dockerfile may be given.
  std::string base_image{};
  // Path to a Dockerfile whose contents start the generated one (its folder is the build
  // context; COPY sources then use absolute paths).
  std::string dockerfile{};
  std::map<std::string, std::string> env_vars{};  // ENV lines; FERRY_HOME added unless set
  // Absolute source path on this machine -> path in the image (files or folders).
  std::map<std::string, std::string> files{};
  std::vector<std::string> extra_dockerfile_commands{};
  std::string ferry_directory = "/opt/ferry";
  // Script form: where the flow source is in the image (put it there with `files`).
  std::string path{};
  bool stored_as_script = false;
  bool local_image = false;          // the base image is local: do not pull it first
  bool ignore_healthchecks = false;  // skip loading every flow inside the image at build
  std::string base_url{};            // Docker engine; default DOCKER_HOST, else the socket
  DockerTls tls_config{};
  // Extra parameters of the engine's build call (nocache, buildargs, pull, ...); "rm"
  // (default true) removes intermediate containers.
  Value build_kwargs = Value::object();
  // "engine" (the Docker Engine API at base_url) or "daemonless": no engine at all; the
  // flow packages and files are appended as one layer to base_image straight in the
  // registry. Daemonless needs registry_url and a base image in a registry, and refuses
  // dockerfile and extra_dockerfile_commands (there is nothing to run them).
  std::string builder = "engine";
  // Name of a secret holding {"username": ..., "password": ...} for the registry. Empty:
  // the docker config file ($DOCKER_CONFIG/config.json, ~/.docker/config.json), if any.
  std::string registry_credentials_secret{};
  std::optional<bool> add_default_labels{};
  std::vector<std::string> labels{};
  std::vector<std::string> secrets{};
};

// build() writes a Dockerfile and its context, builds the image (every flow's package at
// <ferry_directory>/flows/<slug>.ferry, checked inside the image by the image's own ferry),
// pushes it and records the pushed digest, then removes the local copy. get_flow() runs
// inside the image.
class Docker : public Storage {
 public:
  explicit Docker(DockerOptions options = {});
  // "<registry_url>/<image_name>:<image_tag>" (no registry: "<image_name>:<image_tag>");
  // ValueError when either part is still unknown (before build()).
  std::string name() const;
  // The pushed image's manifest digest ("sha256:..."), or "" (local image, not built yet).
  const std::string& image_digest() const;
  // name() pinned to the digest when there is one: what agents pull and run.
  std::string pinned_image() const;
  const DockerOptions& options() const;
  // The Dockerfile build() would write into `directory` (with its context), as text.
  std::string create_dockerfile(const std::string& directory) const;
};

// The image a Docker storage starts FROM by default: $FERRY_RUNTIME_IMAGE, else
// "ferry-runtime:<ferry version>" (make it with `ferry image build-runtime`).
std::string default_base_image();

}  // namespace ferry::storage
