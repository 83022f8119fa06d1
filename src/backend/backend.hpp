// The orchestration backend: what ferry records about flows and runs. It holds references
// to where flows live (serialized storage descriptors) and never flow code or secret values.
//
// One interface, so the embedded SQLite store and (later) the HTTP client of `ferry server`
// are interchangeable for every caller.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ferry/codec.hpp"
#include "ferry/state.hpp"

namespace ferry::backend {

using Clock = std::chrono::system_clock;

// What registration records for one flow version.
struct FlowVersionSpec {
  std::string project;
  std::string flow_name;
  Value graph;       // Flow::to_json(): parameters, tasks, edges
  Value run_config;  // {"type": "Universal", ...}; labels live in `labels`
  std::vector<std::string> labels;
  Value storage;                   // the serialized storage descriptor
  Value result;                    // the flow's result settings, or null
  std::string idempotency_key;     // same key as the latest version: nothing is created
  bool force_new_version = false;  // create one even with the same key (the flow was re-stored)
};

struct FlowVersion {
  std::int64_t id = 0;
  std::string project;
  std::string flow_name;
  int version = 0;
  Value graph;
  Value run_config;
  std::vector<std::string> labels;
  Value storage;
  Value result;
  std::string idempotency_key;
  Clock::time_point created;
};

struct RegisterOutcome {
  FlowVersion version;  // the new version, or the unchanged latest one
  bool created = false;
};

struct StateChange {
  State state;
  std::string message;
  Clock::time_point at;
};

struct FlowRun {
  std::string id;
  std::int64_t flow_version_id = 0;
  std::string project;
  std::string flow_name;
  int flow_version = 0;
  Value parameters;  // complete (defaults filled in) at creation
  std::vector<std::string> labels;
  State state = State::Scheduled;
  std::string message;
  std::string agent_id;  // the agent that claimed it, if any
  Value result;          // the flow's result once final
  Value pinned;          // what exactly ran (e.g. a commit SHA, a digest), set by the executor
  Clock::time_point created;
  Clock::time_point updated;
  std::optional<Clock::time_point> heartbeat;
  std::vector<StateChange> history;  // filled by get_flow_run only
};

struct TaskRun {
  std::string run_id;
  std::string task_name;
  State state = State::Pending;
  std::string message;
  int attempts = 0;
  std::string result_location;
  std::vector<StateChange> history;
};

struct LogLine {
  std::string run_id;
  std::string task_name;  // empty: a flow-level line
  std::string level;      // DEBUG, INFO, WARNING, ERROR
  std::string message;
  Clock::time_point at;
  std::int64_t seq = 0;  // increasing per backend; read logs after a seq to follow
};

struct Agent {
  std::string id;
  std::string name;
  std::vector<std::string> labels;
  Clock::time_point started;
  Clock::time_point heartbeat;
};

// An API key of `ferry server`. Only a hash of the key is stored; the key itself is shown
// once, when it is made.
struct ApiKey {
  std::string name;
  Clock::time_point created;
  std::optional<Clock::time_point> revoked;
};

struct RunFilter {
  std::string project;    // empty: any
  std::string flow_name;  // empty: any
  std::optional<State> state;
  int limit = 100;
};

class Backend {
 public:
  virtual ~Backend() = default;

  // Flows and versions. register_flow_version creates the project and flow as needed; when
  // the latest version of the flow has the same idempotency key it creates nothing.
  virtual RegisterOutcome register_flow_version(const FlowVersionSpec& spec) = 0;
  // The latest version (or the given one) of a flow; nullopt if there is none.
  virtual std::optional<FlowVersion> get_flow_version(const std::string& project,
                                                      const std::string& flow_name,
                                                      std::optional<int> version = {}) = 0;
  virtual std::optional<FlowVersion> get_flow_version_by_id(std::int64_t id) = 0;
  // The latest version of every flow (of a project, or of all when project is empty).
  virtual std::vector<FlowVersion> list_flows(const std::string& project) = 0;

  // Runs. A new run is Scheduled. Claiming is atomic: of several agents claiming at once,
  // each run goes to exactly one; a claimed run is Pending with agent_id set. Only runs
  // whose labels are all among agent_labels are claimed, oldest first.
  virtual FlowRun create_flow_run(std::int64_t flow_version_id, const Value& parameters,
                                  const std::vector<std::string>& labels) = 0;
  virtual std::vector<FlowRun> claim_flow_runs(const std::string& agent_id,
                                               const std::vector<std::string>& agent_labels,
                                               int max_runs) = 0;
  virtual std::optional<FlowRun> get_flow_run(const std::string& run_id) = 0;
  virtual std::vector<FlowRun> list_flow_runs(const RunFilter& filter) = 0;
  // How many runs are in each state (states with no run are left out), for metrics.
  virtual std::vector<std::pair<State, std::int64_t>> count_flow_runs_by_state() = 0;
  // Appends to the history and sets the current state. A run already in a final state keeps
  // it (the change is recorded in the history only), so a late report cannot undo Lost.
  virtual void set_flow_run_state(const std::string& run_id, State state,
                                  const std::string& message) = 0;
  virtual void set_flow_run_result(const std::string& run_id, const Value& result) = 0;
  virtual void set_flow_run_pinned(const std::string& run_id, const Value& pinned) = 0;
  virtual void heartbeat_flow_runs(const std::vector<std::string>& run_ids) = 0;
  // Finds runs that are claimed or running but whose heartbeat is older than `timeout`
  // (a run without one counts from its last update) and returns their ids. Each gets a Lost
  // entry in its history whose message says which agent last reported and when. Then, if
  // the run has been lost fewer times than its flow version allows (run_config field
  // "lost_run_retries", an integer >= 0, default kDefaultLostRunRetries), it is released:
  // state Scheduled with the message "Rescheduled after being lost (retry K of N)", its agent
  // and heartbeat cleared, so any agent may claim it again. Otherwise it stays Lost (final).
  virtual std::vector<std::string> mark_lost_runs(std::chrono::milliseconds timeout) = 0;

  // Task runs: one row per (run, task name), with its history.
  virtual void set_task_run_state(const std::string& run_id, const std::string& task_name,
                                  State state, const std::string& message, int attempts,
                                  const std::string& result_location) = 0;
  virtual std::vector<TaskRun> get_task_runs(const std::string& run_id) = 0;

  // Logs.
  virtual void add_logs(const std::vector<LogLine>& lines) = 0;
  virtual std::vector<LogLine> get_logs(const std::string& run_id, std::int64_t after_seq = 0,
                                        int limit = 10000) = 0;

  // Agents.
  virtual void register_agent(const Agent& agent) = 0;
  virtual void heartbeat_agent(const std::string& agent_id) = 0;
  virtual std::vector<Agent> list_agents() = 0;

  // API keys of `ferry server` (administration: the server's own database only; the remote
  // client refuses these). add_api_key throws ferry::ValueError when an unrevoked key of that
  // name exists; find_api_key gives the name of the unrevoked key with that hash;
  // revoke_api_key is false when there is no unrevoked key of that name.
  virtual void add_api_key(const std::string& name, const std::string& key_hash) = 0;
  virtual std::optional<std::string> find_api_key(const std::string& key_hash) = 0;
  virtual bool revoke_api_key(const std::string& name) = 0;
  virtual std::vector<ApiKey> list_api_keys() = 0;

  // The server's secret store. The database stores `value` as given: `ferry server` passes
  // sealed (encrypted) text and opens it again, the remote client passes and gets plain
  // values over the API. list_secrets gives names only, sorted.
  virtual void put_secret(const std::string& name, const std::string& value) = 0;
  virtual std::optional<std::string> get_secret(const std::string& name) = 0;
  virtual bool delete_secret(const std::string& name) = 0;
  virtual std::vector<std::string> list_secrets() = 0;
};

// How many times a lost run is rescheduled unless its run config says otherwise.
inline constexpr int kDefaultLostRunRetries = 1;

// The embedded backend: a SQLite database at `path` (WAL mode), created and migrated on
// open. Safe to use from several processes at once.
std::unique_ptr<Backend> open_sqlite_backend(const std::string& path);

// A backend by database URL: `sqlite:///absolute/path.db` (or a plain path) opens the
// embedded store there, `postgresql://...` (or `postgres://...`) a PostgreSQL database.
// Anything else is a ferry::ValueError saying which forms are accepted.
std::unique_ptr<Backend> open_backend_url(const std::string& database_url);

// The database URL `ferry server` uses when given none: server.database in the config
// (FERRY__SERVER__DATABASE), else sqlite:///$FERRY_HOME/ferry.db.
std::string default_database_url();

// Where a ferry server is, when one is configured: FERRY_API (or api.url in the config), with
// the key from FERRY_API_KEY (or api.key) and an optional CA file from FERRY_API_CA_FILE (or
// api.ca_file) for a server whose certificate a private CA signed.
struct ApiSettings {
  std::string url;
  std::string api_key;
  std::string ca_file;
};
std::optional<ApiSettings> configured_api();

// The backend the CLI and agents use: the remote client of `ferry server` when an API is
// configured, else the embedded one at $FERRY_HOME/ferry.db.
std::unique_ptr<Backend> open_default_backend();

}  // namespace ferry::backend
