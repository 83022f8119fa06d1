// The embedded backend: the Backend interface on one SQLite file (WAL mode), shared safely
// by several processes (CLI, agents, `ferry execute` children) and by the threads of one
// process (one connection per object, guarded by a mutex).
//
// Every interface call is one transaction; writes use BEGIN IMMEDIATE, so two processes
// never both read-then-write the same rows (claiming is atomic). Errors are ferry::Error
// naming the database file and what failed; a setter given an unknown run id throws
// ferry::ValueError, a getter returns nullopt or an empty list. Setting a run that is not
// final back to Scheduled releases it: its agent_id and heartbeat are cleared, and any agent
// may claim it again.
#pragma once

#include <mutex>
#include <string>

#include "backend/backend.hpp"
#include "backend/sqlite_db.hpp"

namespace ferry::backend {

class SqliteBackend final : public Backend {
 public:
  // Opens (creating if needed) and migrates the database at `path`; its folder must exist.
  explicit SqliteBackend(const std::string& path);

  const std::string& path() const { return db_->path(); }

  RegisterOutcome register_flow_version(const FlowVersionSpec& spec) override;
  std::optional<FlowVersion> get_flow_version(const std::string& project,
                                              const std::string& flow_name,
                                              std::optional<int> version = {}) override;
  std::optional<FlowVersion> get_flow_version_by_id(std::int64_t id) override;
  std::vector<FlowVersion> list_flows(const std::string& project) override;

  FlowRun create_flow_run(std::int64_t flow_version_id, const Value& parameters,
                          const std::vector<std::string>& labels) override;
  std::vector<FlowRun> claim_flow_runs(const std::string& agent_id,
                                       const std::vector<std::string>& agent_labels,
                                       int max_runs) override;
  std::optional<FlowRun> get_flow_run(const std::string& run_id) override;
  std::vector<FlowRun> list_flow_runs(const RunFilter& filter) override;
  std::vector<std::pair<State, std::int64_t>> count_flow_runs_by_state() override;
  void set_flow_run_state(const std::string& run_id, State state,
                          const std::string& message) override;
  void set_flow_run_result(const std::string& run_id, const Value& result) override;
  void set_flow_run_pinned(const std::string& run_id, const Value& pinned) override;
  void heartbeat_flow_runs(const std::vector<std::string>& run_ids) override;
  std::vector<std::string> mark_lost_runs(std::chrono::milliseconds timeout) override;

  void set_task_run_state(const std::string& run_id, const std::string& task_name, State state,
                          const std::string& message, int attempts,
                          const std::string& result_location) override;
  std::vector<TaskRun> get_task_runs(const std::string& run_id) override;

  void add_logs(const std::vector<LogLine>& lines) override;
  std::vector<LogLine> get_logs(const std::string& run_id, std::int64_t after_seq = 0,
                                int limit = 10000) override;

  void register_agent(const Agent& agent) override;
  void heartbeat_agent(const std::string& agent_id) override;
  std::vector<Agent> list_agents() override;

  void add_api_key(const std::string& name, const std::string& key_hash) override;
  std::optional<std::string> find_api_key(const std::string& key_hash) override;
  bool revoke_api_key(const std::string& name) override;
  std::vector<ApiKey> list_api_keys() override;

  void put_secret(const std::string& name, const std::string& value) override;
  std::optional<std::string> get_secret(const std::string& name) override;
  bool delete_secret(const std::string& name) override;
  std::vector<std::string> list_secrets() override;

 private:
  // Runs f under the mutex; SQLite failures become ferry::Error("could not <what>: ...").
  template <class F>
  auto locked(const std::string& what, F&& f) -> decltype(f());

  FlowVersion read_version(const sqlite::Statement& q) const;
  FlowRun read_run(const sqlite::Statement& q) const;
  std::optional<FlowRun> find_run(const std::string& run_id);
  Value parse_json(const std::string& text, const char* what) const;
  std::vector<std::string> parse_labels(const std::string& text) const;
  State parse_state(const std::string& text) const;
  void append_run_history(const std::string& run_id, State state, const std::string& message,
                          std::int64_t at);

  std::mutex mutex_;
  std::unique_ptr<sqlite::Database> db_;
};

}  // namespace ferry::backend
