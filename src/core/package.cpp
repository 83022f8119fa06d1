// The frozen form: a flow package holding a version envelope, the graph and the module.
//
// Layout: "FERRYPKG", u32 format (LE), u32 header size (LE), header JSON, payload.
// The payload is the graph JSON followed by the module's bytes; the header records both
// sizes, the payload's SHA-256 and the module's build. Nothing in a package is loaded
// before its size and digest are checked.
#include <cstdint>
#include <cstring>

#include "core/digest.hpp"
#include "core/fast_json.hpp"
#include "core/files.hpp"
#include "core/graph.hpp"
#include "core/module_loader.hpp"
#include "core/package.hpp"
#include "ferry/error.hpp"
#include "ferry/module.hpp"

namespace ferry {

namespace fs = std::filesystem;

namespace {

constexpr char kMagic[8] = {'F', 'E', 'R', 'R', 'Y', 'P', 'K', 'G'};
constexpr std::uint32_t kFormat = 1;
constexpr std::size_t kPrefix = 16;
constexpr std::uint32_t kMaxHeader = 1 << 20;

void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::uint32_t get_u32(std::string_view in, std::size_t at) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<std::uint32_t>(static_cast<unsigned char>(in[at + i])) << (8 * i);
  return v;
}

struct ParsedPackage {
  PackageInfo info;
  std::string_view graph;
  std::string_view module;
};

[[noreturn]] void refuse(std::string_view origin, const std::string& why) {
  throw FlowStorageError("Refusing to load flow package '" + std::string(origin) + "': " + why +
                         " Re-register the flow to write a fresh package.");
}

ParsedPackage parse(std::string_view bytes, std::string_view origin,
                    detail::PackageBytes verified = detail::PackageBytes::Unverified) {
  if (bytes.size() < kPrefix || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) {
    refuse(origin, "it is not a ferry flow package (no FERRYPKG signature).");
  }
  ParsedPackage p;
  p.info.format = static_cast<int>(get_u32(bytes, 8));
  if (p.info.format != static_cast<int>(kFormat)) {
    throw FlowStorageError(
        "Flow package '" + std::string(origin) + "' has format " + std::to_string(p.info.format) +
        "; this ferry (" FERRY_VERSION ") reads format " + std::to_string(kFormat) +
        ". Re-register the flow with this ferry, or use script storage.");
  }
  std::uint32_t header_size = get_u32(bytes, 12);
  if (header_size > kMaxHeader || kPrefix + header_size > bytes.size()) {
    refuse(origin, "it is truncated (the header is incomplete).");
  }
  Value header = Value::parse(bytes.substr(kPrefix, header_size), nullptr, false);
  if (!header.is_object()) refuse(origin, "its header is not valid JSON.");
  std::size_t graph_size = 0;
  try {
    p.info.flow_name = header.at("flow").get<std::string>();
    p.info.payload_sha256 = header.at("payload_sha256").get<std::string>();
    p.info.versions = header.at("versions");
    graph_size = header.at("graph_size").get<std::size_t>();
    p.info.module_size = header.at("module_size").get<std::size_t>();
  } catch (const nlohmann::json::exception&) {
    refuse(origin, "its header lacks required fields.");
  }
  std::string_view payload = bytes.substr(kPrefix + header_size);
  if (graph_size > payload.size() || p.info.module_size != payload.size() - graph_size) {
    refuse(origin, "it is truncated or has extra bytes (expected " +
                       std::to_string(graph_size + p.info.module_size) + " payload bytes, found " +
                       std::to_string(payload.size()) + ").");
  }
  // After a match with the digest recorded for the whole package, the payload (and the
  // header naming its digest) are the bytes ferry froze: hashing 5 MB again would only repeat it.
  if (verified != detail::PackageBytes::MatchedRecordedDigest &&
      detail::sha256_hex(payload) != p.info.payload_sha256) {
    refuse(origin,
           "its payload does not match its SHA-256 digest: the package is corrupted "
           "or was tampered with.");
  }
  p.graph = payload.substr(0, graph_size);
  p.module = payload.substr(graph_size);
  return p;
}

std::string mismatch_message(std::string_view origin, const std::string& reason,
                             const Value& built) {
  std::string message = "Failed to load flow package '" + std::string(origin) + "':\n  " + reason;
  std::vector<std::string> lines = detail::build_mismatches(built, library_build());
  if (!lines.empty()) {
    message +=
        "\nThis may be due to one of the following version mismatches between the flow "
        "build and execution environments:";
    for (const std::string& l : lines) message += "\n" + l;
  }
  message +=
      "\nRe-register the flow with this ferry, or store it as a script "
      "(stored_as_script) so it is compiled where it runs.";
  return message;
}

}  // namespace

std::string freeze_flow(const Flow& flow) {
  const detail::Graph& graph = *flow.graph();
  if (graph.module_path.empty()) {
    throw ValueError("Flow '" + flow.name() +
                     "' was not loaded from a flow module, so it cannot be frozen. Load it with "
                     "ferry::load_flow_from_source (or `ferry register`) first.");
  }
  const detail::LoadedModule& module = detail::load_module(graph.module_path);
  for (const detail::TaskNode& t : graph.tasks) {
    if (!module.tasks.count(t.key)) {
      throw ValueError("Flow '" + flow.name() + "': task '" + t.name +
                       "' is not defined in the flow's module, so a frozen flow could not call "
                       "it. Define the task's function in the flow source.");
    }
  }
  std::string graph_json = detail::graph_to_json(graph).dump();
  std::string module_bytes = detail::read_file(graph.module_path);
  std::string payload = graph_json + module_bytes;
  Value header = {{"flow", flow.name()},
                  {"versions", detail::build_to_json(module.info->build)},
                  {"payload_sha256", detail::sha256_hex(payload)},
                  {"graph_size", graph_json.size()},
                  {"module_size", module_bytes.size()}};
  std::string header_json = header.dump();
  std::string out(kMagic, sizeof kMagic);
  put_u32(out, kFormat);
  put_u32(out, static_cast<std::uint32_t>(header_json.size()));
  out += header_json;
  out += payload;
  return out;
}

void freeze_flow(const Flow& flow, const fs::path& package) {
  detail::write_file_atomic(package, freeze_flow(flow));
}

PackageInfo inspect_package(std::string_view bytes, std::string_view origin) {
  return parse(bytes, origin).info;
}

Flow thaw_flow_bytes(std::string_view bytes, std::string_view origin) {
  return detail::thaw_package(bytes, origin, detail::PackageBytes::Unverified);
}

Flow detail::thaw_package(std::string_view bytes, std::string_view origin, PackageBytes verified) {
  ParsedPackage p = parse(bytes, origin, verified);
  if (!detail::build_loadable(p.info.versions, library_build())) {
    throw FlowStorageError(mismatch_message(
        origin, "The package's flow module cannot be loaded by this ferry runtime.",
        p.info.versions));
  }
  // The module follows the graph in the same buffer: parsed in place when it is long enough.
  Value graph_json = detail::parse_json_fast(p.graph, p.module.size());
  if (graph_json.is_discarded()) {
    throw FlowStorageError("Flow package '" + std::string(origin) + "' holds a malformed graph.");
  }
  auto graph = std::make_shared<detail::Graph>(detail::graph_from_json(std::move(graph_json)));

  // Content-addressed, so a package's module is written once and reused by later runs. A
  // cache entry, not a record: written without fsync, and rewritten when its size is not the
  // module's (what a crash right after the write could leave).
  fs::path module_path = cache_dir() / "packages" / (p.info.payload_sha256 + ".so");
  std::error_code ec;
  std::uintmax_t cached_size = fs::file_size(module_path, ec);
  if (ec || cached_size != p.module.size()) detail::write_cache_file(module_path, p.module);
  const detail::LoadedModule* module = nullptr;
  try {
    module = &detail::load_module(module_path);
  } catch (const FlowStorageError& e) {
    throw FlowStorageError(mismatch_message(origin, e.what(), p.info.versions));
  }
  for (detail::TaskNode& t : graph->tasks) {
    auto it = module->tasks.find(t.key);
    if (it == module->tasks.end()) {
      throw FlowStorageError("Flow package '" + std::string(origin) + "': task '" + t.name +
                             "' is missing from its module. Re-register the flow.");
    }
    t.fn = it->second;
  }
  graph->module_path = module->path;
  return Flow(graph);
}

Flow thaw_flow(const fs::path& package) {
  std::string bytes;
  try {
    bytes = detail::read_file(package);
  } catch (const ValueError& e) {
    throw FlowStorageError(e.what());
  }
  return thaw_flow_bytes(bytes, package.string());
}

}  // namespace ferry
