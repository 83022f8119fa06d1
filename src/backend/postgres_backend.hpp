// The Backend interface on a PostgreSQL database, for `ferry server` deployments that
// outgrow one SQLite file (several servers, a managed database).
//
// Every interface call is one transaction on one connection of a small pool (created
// lazily, up to `max_connections`), so the threads of a server work in parallel. Claiming
// locks the runs it takes with FOR UPDATE SKIP LOCKED: of several agents, servers or
// threads claiming at once, each run goes to exactly one. A connection found broken (the
// server restarted) is dropped, with the other idle ones, and the call is retried once on
// a new connection. Errors are ferry::Error naming the database (host:port/name; never
// the password) and what failed; otherwise the behaviour is SqliteBackend's: a setter given
// an unknown run id throws ferry::ValueError, a getter returns nullopt or an empty list,
// setting a run that is not final back to Scheduled releases it, final states are kept.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backend/backend.hpp"

namespace pqxx {
class transaction_base;
class row;
}  // namespace pqxx

namespace ferry::backend {

class PostgresBackend final : public Backend {
 public:
  // Connects to `url` (any libpq connection string or URI) and migrates the database.
  explicit PostgresBackend(const std::string& url, int max_connections = 4);
  ~PostgresBackend() override;
  PostgresBackend(const PostgresBackend&) = delete;
  PostgresBackend& operator=(const PostgresBackend&) = delete;

  // "host:port/dbname", what messages name.
  const std::string& where() const { return where_; }

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
  struct Connection;  // a pqxx connection, kept out of this header
  class Lease;        // a connection taken from the pool for one call

  // Runs f(transaction) in a transaction on a pooled connection and commits; retries once
  // on a broken connection. Database failures become ferry::Error("could not <what>: ...").
  // snapshot: a read-only transaction whose statements all see the same snapshot.
  template <class F>
  auto transact(const std::string& what, F&& f, bool snapshot = false);

  std::unique_ptr<Connection> connect();
  std::unique_ptr<Connection> take();
  void give_back(std::unique_ptr<Connection> connection);
  void forget(std::unique_ptr<Connection> connection);

  FlowVersion read_version(const pqxx::row& row) const;
  FlowRun read_run(const pqxx::row& row) const;
  std::optional<FlowRun> find_run(pqxx::transaction_base& tx, const std::string& run_id) const;
  std::vector<StateChange> run_history(pqxx::transaction_base& tx, const std::string& run_id) const;
  Value parse_json(const std::string& text, const char* what) const;
  std::vector<std::string> parse_labels(const std::string& text) const;
  State parse_state(const std::string& text) const;
  void append_run_history(pqxx::transaction_base& tx, const std::string& run_id, State state,
                          const std::string& message, std::int64_t at) const;
  std::string no_run(const std::string& action, const std::string& run_id) const;

  std::string url_;
  std::string where_;
  int max_connections_;
  std::mutex mutex_;
  std::condition_variable returned_;
  std::vector<std::unique_ptr<Connection>> idle_;
  int open_ = 0;  // connections in use or idle
};

// The libpq URI `url` with any password left out ("postgresql://user:secret@h/db" ->
// "postgresql://user@h/db"); key=value strings lose their password=... entry.
std::string redact_postgres_url(const std::string& url);

// Opens (creating the schema as needed) the PostgreSQL database at `url`.
std::unique_ptr<Backend> open_postgres_backend(const std::string& url);

}  // namespace ferry::backend
