#include "registry/registrar.hpp"

#include <algorithm>
#include <filesystem>
#include <set>

#include "core/digest.hpp"
#include "core/graph.hpp"
#include "ferry/error.hpp"
#include "ferry/module.hpp"
#include "ferry/storage/local.hpp"

namespace ferry::registry {

namespace fs = std::filesystem;
using Outcome = RegisterLine::Outcome;

namespace {

// The --label options, the storage's labels and the run config's: a run needs an agent with
// all of them, so a Local run config's runs go to an agent that has its labels.
std::vector<std::string> merged_labels(const Flow& flow, const std::vector<std::string>& extra) {
  std::set<std::string> all(extra.begin(), extra.end());
  for (std::string& l : flow.storage.labels()) all.insert(std::move(l));
  for (const std::string& l : flow.run_config.labels()) all.insert(l);
  return {all.begin(), all.end()};
}

// What the flow version records as its run config: the run config's own fields plus the
// registrar's lost_run_retries, which the backends read when a run is lost.
Value run_config_json(const Flow& flow) {
  Value rc = flow.run_config.to_json();
  rc["lost_run_retries"] = flow.lost_run_retries;
  return rc;
}

// A flow on its way to a new version; failed is set when a step refuses it.
struct Pending {
  Flow flow;
  std::size_t line;
  std::vector<std::string> labels;
  std::string key;
  bool failed = false;
  bool restore = false;  // unchanged, but its stored form went missing: store it again
};

// An unchanged flow is skipped only while what its latest version points at still exists.
bool still_stored(const backend::FlowVersion& version) {
  try {
    return storage::Storage::deserialize(version.storage).impl()->has_stored(version.flow_name);
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

std::string idempotency_key(const std::string& project, const Flow& flow,
                            const std::vector<std::string>& labels) {
  Value storage = flow.storage.serialize();
  storage.erase("flows");  // generated locations change on every add_flow
  storage.erase("digests");
  storage.erase("ferry_version");
  Value identity = {{"project", project},
                    {"graph", flow.to_json()},
                    {"code", fs::path(flow.graph()->module_path).stem().string()},
                    {"storage", storage},
                    {"labels", labels},
                    {"result", flow.result.serialize()}};
  // Only a run config other than the default takes part, so flows registered before run
  // configs existed keep their key and are not given a needless new version.
  static const Value kDefaultRunConfig = run_config_json(Flow("default"));
  Value run_config = run_config_json(flow);
  if (run_config != kDefaultRunConfig) identity["run_config"] = run_config;
  return detail::sha256_hex(identity.dump());
}

std::vector<RegisterLine> register_flows(backend::Backend& backend,
                                         const RegisterOptions& options) {
  CompileOptions compile;
  compile.progress = options.progress;
  std::vector<Flow> flows = load_flows_from_source(options.path, compile);
  std::vector<RegisterLine> lines;

  if (!options.names.empty()) {
    std::vector<Flow> chosen;
    for (const std::string& name : options.names) {
      auto it =
          std::find_if(flows.begin(), flows.end(), [&](const Flow& f) { return f.name() == name; });
      if (it == flows.end()) {
        try {
          select_flow(flows, name);  // for the reference's "not found ... Found flows:" text
        } catch (const std::exception& e) {
          lines.push_back({name, Outcome::Error, 0, "", false, {}, e.what()});
        }
        continue;
      }
      chosen.push_back(*it);
    }
    flows = std::move(chosen);
  }
  if (flows.empty() && lines.empty()) throw ValueError("No flows found in file.");

  // Flows without storage share one default object, as the reference's CLI does.
  storage::Storage default_storage;
  auto give_default = [&]() {
    if (!default_storage) {
      storage::LocalOptions o;
      if (options.script) {
        o.stored_as_script = true;
        o.path = fs::absolute(options.path).lexically_normal().string();
      }
      default_storage = storage::Local(o);
    }
    return default_storage;
  };

  lines.reserve(lines.size() + flows.size());
  std::vector<Pending> pending;
  for (Flow& flow : flows) {
    RegisterLine& line = lines.emplace_back();
    line.flow = flow.name();
    try {
      if (flow.lost_run_retries < 0) {
        throw ValueError("lost_run_retries of flow '" + flow.name() + "' is " +
                         std::to_string(flow.lost_run_retries) +
                         "; set it to 0 (a lost run stays Lost) or more");
      }
      flow.run_config.validate(flow.name());
      if (!flow.storage) flow.storage = give_default();
      if (!flow.result) flow.result = flow.storage.default_result();
      line.storage_type = flow.storage.type();
      line.frozen = !flow.storage.stored_as_script() && flow.storage.type() != "Module";
      line.labels = merged_labels(flow, options.labels);
      std::string key = idempotency_key(options.project, flow, line.labels);
      auto latest = backend.get_flow_version(options.project, flow.name());
      bool same = latest && latest->idempotency_key == key;
      if (same && still_stored(*latest)) {
        line.outcome = Outcome::Skipped;
        line.version = latest->version;
        line.message = "Skipped (unchanged)";
        continue;
      }
      pending.push_back({flow, lines.size() - 1, line.labels, key, false, same});
    } catch (const std::exception& e) {
      line.outcome = Outcome::Error;
      line.message = e.what();
    }
  }
  auto fail = [&](Pending& p, const std::string& why) {
    lines[p.line].outcome = Outcome::Error;
    lines[p.line].message = why;
    p.failed = true;
  };

  // Every add_flow before any build, so what build persists is complete.
  const std::string source_file = fs::absolute(options.path).lexically_normal().string();
  for (Pending& p : pending) {
    try {
      p.flow.storage.impl()->note_source_file(source_file);
      p.flow.storage.add_flow(p.flow);
    } catch (const std::exception& e) {
      fail(p, e.what());
    }
  }
  // build() once per storage object; a failure fails that object's flows only.
  std::vector<storage::Storage> built;
  for (Pending& p : pending) {
    if (p.failed) continue;
    auto same = std::find_if(built.begin(), built.end(),
                             [&](const storage::Storage& s) { return s.same_as(p.flow.storage); });
    if (same != built.end()) continue;
    built.push_back(p.flow.storage);
    try {
      p.flow.storage.build();
    } catch (const std::exception& e) {
      for (Pending& q : pending) {
        if (!q.failed && q.flow.storage.same_as(p.flow.storage)) {
          fail(q, "Building " + q.flow.storage.type() + " storage failed: " + e.what());
        }
      }
    }
  }
  for (Pending& p : pending) {
    if (p.failed) continue;
    // The load check: fetch the flow back through its storage, as an agent will (unless
    // build() already loaded it where agents will, as Docker's in-image health check does).
    if (!p.flow.storage.impl()->load_checked_by_build()) {
      try {
        Flow loaded = p.flow.storage.get_flow(p.flow.name());
        if (loaded.to_json() != p.flow.to_json()) {
          throw FlowStorageError("the stored flow's graph differs from the registered one");
        }
      } catch (const std::exception& e) {
        fail(p, std::string("Load check failed: ") + e.what());
        continue;
      }
    }
    backend::FlowVersionSpec spec{.project = options.project,
                                  .flow_name = p.flow.name(),
                                  .graph = p.flow.to_json(),
                                  .run_config = run_config_json(p.flow),
                                  .labels = p.labels,
                                  .storage = p.flow.storage.serialize(),
                                  .result = p.flow.result.serialize(),
                                  .idempotency_key = p.key,
                                  .force_new_version = p.restore};
    backend::RegisterOutcome out = backend.register_flow_version(spec);
    RegisterLine& line = lines[p.line];
    line.outcome = out.created ? Outcome::Registered : Outcome::Skipped;
    line.version = out.version.version;
    line.message = out.created ? "" : "Skipped (unchanged)";
  }
  return lines;
}

}  // namespace ferry::registry
