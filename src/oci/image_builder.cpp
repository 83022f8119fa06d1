#include "oci/image_builder.hpp"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "core/digest.hpp"
#include "core/tar_writer.hpp"
#include "ferry/error.hpp"

namespace ferry::oci {

namespace {

// What every "created" field says unless the base has a time: a fixed value, so that the
// same inputs give the same config and manifest digests.
constexpr std::string_view kEpoch = "1970-01-01T00:00:00Z";

std::string sha256_digest(std::string_view bytes) { return "sha256:" + detail::sha256_hex(bytes); }

std::string strip_slashes(std::string_view path) {
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  return std::string(path);
}

struct Layer {
  std::string gz;
  std::string digest;   // of gz
  std::string diff_id;  // of the tar
};

// One reproducible tar.gz: the parent folders of every entry first, then the entries sorted
// by path, so that the order the caller lists them in does not change the digest.
Layer build_layer(const std::vector<LayerEntry>& files) {
  std::vector<const LayerEntry*> entries;
  std::set<std::string> parents;
  for (const LayerEntry& f : files) {
    const std::string path = strip_slashes(f.path_in_image);
    if (path.empty()) {
      throw ValueError("A layer entry needs a path in the image (e.g. /opt/ferry/flow.ferry).");
    }
    entries.push_back(&f);
    for (auto slash = path.find('/'); slash != std::string::npos;
         slash = path.find('/', slash + 1)) {
      parents.insert(path.substr(0, slash));
    }
  }
  std::stable_sort(entries.begin(), entries.end(), [](const LayerEntry* a, const LayerEntry* b) {
    return strip_slashes(a->path_in_image) < strip_slashes(b->path_in_image);
  });
  detail::TarWriter tar(/*gzip=*/true);
  for (const std::string& dir : parents) tar.add_directory(dir);  // std::set: sorted, parents first
  for (const LayerEntry* f : entries) {
    const std::string path = strip_slashes(f->path_in_image);
    if (!f->link_target.empty()) {
      tar.add_symlink(path, f->link_target);
    } else if (!f->source_path.empty()) {
      tar.add_path(path, f->source_path);
    } else {
      tar.add_file(path, f->content, f->mode);
    }
  }
  Layer layer;
  layer.gz = tar.finish();
  layer.digest = sha256_digest(layer.gz);
  layer.diff_id = sha256_digest(gunzip(layer.gz));
  return layer;
}

Value parse_json(const std::string& text, const std::string& what) {
  Value v = Value::parse(text, nullptr, false);
  if (!v.is_object()) throw Error(what + " is not a JSON object.");
  return v;
}

Value scratch_config() {
  return {{"architecture", "amd64"},
          {"os", "linux"},
          {"created", kEpoch},
          {"config", Value::object()},
          {"rootfs", {{"type", "layers"}, {"diff_ids", Value::array()}}},
          {"history", Value::array()}};
}

void merge_env(Value& env, const std::vector<std::pair<std::string, std::string>>& updates) {
  if (!env.is_array()) env = Value::array();
  for (const auto& [name, value] : updates) {
    const std::string entry = name + "=" + value;
    bool replaced = false;
    for (Value& existing : env) {
      const std::string s = existing.is_string() ? existing.get<std::string>() : "";
      if (s.substr(0, s.find('=')) == name) {
        existing = entry;
        replaced = true;
      }
    }
    if (!replaced) env.push_back(entry);
  }
}

// Copies a layer the target lacks: mounted when both repositories are on the same registry,
// else downloaded and uploaded.
void ensure_blob(RegistryClient& from, const std::string& from_repo, RegistryClient& to,
                 const std::string& to_repo, const std::string& digest) {
  if (to.blob_exists(to_repo, digest)) return;
  if (&from == &to || from.host() == to.host()) {
    if (to.mount_blob(to_repo, digest, from_repo)) return;
  }
  to.put_blob(to_repo, digest, from.get_blob(from_repo, digest));
}

std::vector<std::string> strings(const Value& v) {
  std::vector<std::string> out;
  if (v.is_array()) {
    for (const Value& s : v) {
      if (s.is_string()) out.push_back(s.get<std::string>());
    }
  }
  return out;
}

}  // namespace

std::string gunzip(std::string_view gz) {
  archive* a = archive_read_new();
  archive_read_support_filter_gzip(a);
  archive_read_support_format_raw(a);
  std::string out;
  archive_entry* entry = nullptr;
  bool ok = archive_read_open_memory(a, gz.data(), gz.size()) == ARCHIVE_OK &&
            archive_filter_code(a, 0) == ARCHIVE_FILTER_GZIP &&
            archive_read_next_header(a, &entry) == ARCHIVE_OK;
  char buffer[65536];
  la_ssize_t n = 0;
  while (ok && (n = archive_read_data(a, buffer, sizeof buffer)) > 0) {
    out.append(buffer, static_cast<std::size_t>(n));
  }
  ok = ok && n == 0;
  std::string why = ok || !archive_error_string(a) ? "" : archive_error_string(a);
  archive_read_free(a);
  if (!ok) throw Error("Not a gzip stream" + (why.empty() ? std::string() : ": " + why) + ".");
  return out;
}

AppendResult append_image(RegistryClient& base_registry, RegistryClient& target_registry,
                          const AppendSpec& spec) {
  const std::string& target_repo = spec.target.repository;
  std::string manifest_type(media_type::kOciManifest);
  Value manifest;
  Value config;
  if (spec.base) {
    const std::string base_name = spec.base->str();
    Manifest m = base_registry.get_manifest(spec.base->repository, spec.base->reference());
    manifest_type = m.media_type;
    manifest = parse_json(m.body, "The manifest of " + base_name);
    if (!manifest.contains("config") || !manifest["config"].is_object() ||
        !manifest.contains("layers") || !manifest["layers"].is_array()) {
      throw Error("The manifest of " + base_name + " has no config or layers.");
    }
    config = parse_json(
        base_registry.get_blob(spec.base->repository, manifest["config"].value("digest", "")),
        "The config of " + base_name);
  } else {
    manifest = {{"schemaVersion", 2}, {"layers", Value::array()}};
    config = scratch_config();
  }
  const bool docker = manifest_type == media_type::kDockerManifest;
  manifest["mediaType"] = manifest_type;

  // The base's time (fixed, since the base is what it is), else the epoch.
  const std::string created = config.value("created", std::string(kEpoch));
  config["created"] = created;
  if (!config.contains("config") || !config["config"].is_object())
    config["config"] = Value::object();
  Value& run = config["config"];
  if (!spec.env.empty()) merge_env(run["Env"], spec.env);
  if (!spec.cmd.empty()) run["Cmd"] = spec.cmd;
  if (!spec.working_dir.empty()) run["WorkingDir"] = spec.working_dir;
  if (!spec.labels.empty()) {
    if (!run.contains("Labels") || !run["Labels"].is_object()) run["Labels"] = Value::object();
    for (const auto& [k, v] : spec.labels) run["Labels"][k] = v;
  }
  if (!config.contains("history") || !config["history"].is_array()) {
    config["history"] = Value::array();
  }
  Value history = {{"created", created}, {"created_by", "ferry append_image"}};

  AppendResult result;
  std::optional<Layer> layer;
  if (!spec.files.empty()) {
    layer = build_layer(spec.files);
    result.layer_digest = layer->digest;
    result.layer_bytes = layer->gz.size();
    if (!config.contains("rootfs") || !config["rootfs"].is_object()) {
      config["rootfs"] = {{"type", "layers"}, {"diff_ids", Value::array()}};
    }
    config["rootfs"]["diff_ids"].push_back(layer->diff_id);
    manifest["layers"].push_back(
        {{"mediaType", docker ? media_type::kDockerLayerGzip : media_type::kOciLayerGzip},
         {"digest", layer->digest},
         {"size", layer->gz.size()}});
  } else {
    history["empty_layer"] = true;
  }
  config["history"].push_back(history);

  // nlohmann's objects are sorted by key: the same config gives the same bytes.
  const std::string config_bytes = config.dump();
  const std::string config_digest = sha256_digest(config_bytes);
  manifest["config"] = {{"mediaType", docker ? media_type::kDockerConfig : media_type::kOciConfig},
                        {"digest", config_digest},
                        {"size", config_bytes.size()}};

  // Blobs before the manifest: a registry refuses a manifest whose blobs it lacks.
  if (spec.base) {
    for (const Value& base_layer : manifest["layers"]) {
      const std::string digest = base_layer.value("digest", "");
      if (layer && digest == layer->digest) continue;
      ensure_blob(base_registry, spec.base->repository, target_registry, target_repo, digest);
    }
  }
  if (layer) {
    result.pushed_new_layer = !target_registry.blob_exists(target_repo, layer->digest);
    if (result.pushed_new_layer) target_registry.put_blob(target_repo, layer->digest, layer->gz);
  }
  target_registry.put_blob(target_repo, config_digest, config_bytes);

  const std::string manifest_bytes = manifest.dump();
  const std::string reference =
      spec.target.tag.empty() ? sha256_digest(manifest_bytes) : spec.target.tag;
  result.digest =
      target_registry.put_manifest(target_repo, reference, manifest_type, manifest_bytes);
  return result;
}

ImageConfig read_image_config(RegistryClient& registry, const ImageReference& image) {
  Manifest m = registry.get_manifest(image.repository, image.reference());
  Value manifest = parse_json(m.body, "The manifest of " + image.str());
  ImageConfig out;
  out.manifest_digest = m.digest;
  out.manifest_media_type = m.media_type;
  for (const Value& l : manifest.value("layers", Value::array())) {
    out.layers.push_back(l.value("digest", ""));
  }
  const std::string config_digest = manifest.value("config", Value::object()).value("digest", "");
  out.config = parse_json(registry.get_blob(image.repository, config_digest),
                          "The config of " + image.str());
  const Value run = out.config.value("config", Value::object());
  out.env = strings(run.value("Env", Value::array()));
  out.cmd = strings(run.value("Cmd", Value::array()));
  out.entrypoint = strings(run.value("Entrypoint", Value::array()));
  out.working_dir = run.value("WorkingDir", "");
  if (run.contains("Labels") && run["Labels"].is_object()) {
    for (const auto& [k, v] : run["Labels"].items()) {
      if (v.is_string()) out.labels[k] = v.get<std::string>();
    }
  }
  out.diff_ids =
      strings(out.config.value("rootfs", Value::object()).value("diff_ids", Value::array()));
  out.created = out.config.value("created", "");
  return out;
}

}  // namespace ferry::oci
