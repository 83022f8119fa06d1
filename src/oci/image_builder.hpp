// A daemonless image builder, as OCI image tools (crane, jib, ko) do it: read a base image's
// manifest and config from a registry, add one layer made in memory, and push the result,
// copying or mounting only the blobs the target lacks. Everything is reproducible (fixed
// timestamps, sorted JSON, reproducible tar.gz), so the same inputs give the same manifest
// digest, which callers use to skip rebuilding an unchanged flow.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ferry/codec.hpp"
#include "oci/image_reference.hpp"
#include "oci/registry_client.hpp"

namespace ferry::oci {

// One file, tree or link of the new layer: a symbolic link to link_target when that is set,
// else the local file or directory at source_path (copied recursively, its own modes kept),
// else `content`.
struct LayerEntry {
  std::string path_in_image;  // "/opt/ferry/flows/a.ferry"
  std::string content{};
  std::string source_path{};
  unsigned mode = 0644;
  std::string link_target{};  // "libferry.so.0": the entry is a symlink
};

struct AppendSpec {
  std::optional<ImageReference> base;  // nullopt: an image from scratch
  ImageReference target;               // where the result is pushed (its tag)
  std::vector<LayerEntry> files;       // become ONE new gzip layer (parent dirs included)
  std::vector<std::pair<std::string, std::string>> env;  // merged into Env (same name replaces)
  std::vector<std::string> cmd;                          // empty: keep the base's Cmd
  std::map<std::string, std::string> labels;             // merged into Labels
  std::string working_dir;                               // empty: keep
};

struct AppendResult {
  std::string digest;        // of the pushed manifest
  std::string layer_digest;  // of the new layer (gzip); "" when `files` was empty
  std::size_t layer_bytes = 0;
  bool pushed_new_layer = false;  // false when the target had that layer already
};

// Builds base + one layer and pushes it as spec.target (by its tag, or by digest when it has
// none). base_registry and target_registry may be the same client. The manifest is of the
// base's family (OCI, or Docker v2 schema 2); from scratch it is OCI.
AppendResult append_image(RegistryClient& base_registry, RegistryClient& target_registry,
                          const AppendSpec& spec);

// What an image's config says, for checks and tests.
struct ImageConfig {
  std::string manifest_digest;
  std::string manifest_media_type;
  std::vector<std::string> layers;    // layer blob digests, base first
  std::vector<std::string> diff_ids;  // sha256 of each uncompressed layer
  std::vector<std::string> env;       // "NAME=value"
  std::vector<std::string> cmd;
  std::vector<std::string> entrypoint;
  std::map<std::string, std::string> labels;
  std::string working_dir;
  std::string created;
  Value config;  // the whole config blob
};

ImageConfig read_image_config(RegistryClient& registry, const ImageReference& image);

// The bytes of a gzip stream, uncompressed (libarchive). A ferry::Error if it is not gzip.
std::string gunzip(std::string_view gz);

}  // namespace ferry::oci
