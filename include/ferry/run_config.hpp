// ferry::run: where and how a flow's runs execute (the reference's run configs). A flow sets
// one in its source (`flow.run_config = ferry::run::Local{...};`); registration records it
// with the flow version and adds its labels to the version's labels, so only an agent with
// those labels claims the runs.
#pragma once

#include <map>
#include <string>
#include <variant>
#include <vector>

#include "ferry/codec.hpp"

namespace ferry::run {

// Any agent may run the flow, as it would without a run config.
struct Universal {
  std::vector<std::string> labels{};
};

// A local agent runs the flow in a subprocess with these environment variables added
// (overriding the agent's own) and, when working_dir is set, in that directory.
// The values are stored in the backend as plain text: pass credentials as secrets.
struct Local {
  std::map<std::string, std::string> env{};
  std::string working_dir{};  // absolute; empty: the agent's current directory
  std::vector<std::string> labels{};
};

// A Docker agent runs the flow in a container of `image`. volumes: "HOST:CONTAINER" or
// "HOST:CONTAINER:ro" / ":rw", CONTAINER an absolute path. The local agent refuses these runs.
struct Docker {
  std::string image{};
  std::map<std::string, std::string> env{};
  std::vector<std::string> labels{};
  std::vector<std::string> volumes{};
};

// One of the three, Universal by default. Implicit constructors, so that
// `flow.run_config = ferry::run::Local{...}` reads naturally.
class RunConfig {
 public:
  RunConfig();
  RunConfig(Universal config);
  RunConfig(Local config);
  RunConfig(Docker config);

  // "Universal", "Local" or "Docker".
  std::string type() const;
  const std::vector<std::string>& labels() const;

  // The config of that type, or nullptr when it holds another.
  const Universal* universal() const;
  const Local* local() const;
  const Docker* docker() const;

  // {"type": "Local", "env": {...}, "working_dir": "...", "labels": [...]}; Docker has image,
  // env, labels and volumes; Universal has labels.
  Value to_json() const;
  // The inverse of to_json. Missing fields take their defaults; {} or null is Universal; other
  // keys (such as the registrar's lost_run_retries) are ignored. An unknown type or a field
  // of the wrong JSON type is a ferry::ValueError.
  static RunConfig from_json(const Value& json);

  // Throws ferry::ValueError, naming flow_name and what to change, when a field cannot work:
  // an env name that is empty or holds '=', a Local working_dir that is not absolute, a
  // Docker volume that is not HOST:CONTAINER[:ro|:rw] with an absolute CONTAINER path.
  void validate(const std::string& flow_name) const;

  friend bool operator==(const RunConfig& a, const RunConfig& b) {
    return a.to_json() == b.to_json();
  }

 private:
  std::variant<Universal, Local, Docker> config_;
};

}  // namespace ferry::run
