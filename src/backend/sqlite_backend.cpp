#include "backend/sqlite_backend.hpp"

#include <unordered_map>
#include <unordered_set>

#include "backend/backend_util.hpp"
#include "backend/migrations.hpp"
#include "ferry/error.hpp"

namespace ferry::backend {

namespace {

using sqlite::Database;
using sqlite::Statement;
using sqlite::Transaction;

using util::format_time;
using util::from_ms;
using util::json_text;
using util::labels_text;
using util::lost_message;
using util::lost_run_retries;
using util::new_run_id;
using util::now_ms;
using util::rescheduled_message;
using util::to_ms;

using util::kRunSelect;
using util::kVersionSelect;

const std::string kRunById = kRunSelect + "WHERE r.id = ?1";

}  // namespace

// ---- plumbing -------------------------------------------------------------------------

SqliteBackend::SqliteBackend(const std::string& path) {
  try {
    db_ = std::make_unique<sqlite::Database>(path);
    sqlite::migrate(*db_);
  } catch (const ferry::Error& e) {
    throw ferry::Error("could not open the ferry database " + path + ": " + e.what());
  }
}

template <class F>
auto SqliteBackend::locked(const std::string& what, F&& f) -> decltype(f()) {
  std::lock_guard<std::mutex> lock(mutex_);
  try {
    return f();
  } catch (const sqlite::DatabaseError& e) {
    throw ferry::Error("could not " + what + ": " + e.what());
  }
}

Value SqliteBackend::parse_json(const std::string& text, const char* what) const {
  if (text.empty()) return Value();
  try {
    return Value::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw ferry::Error("SQLite database " + path() + ": the stored " + what +
                       " is not valid JSON: " + e.what());
  }
}

std::vector<std::string> SqliteBackend::parse_labels(const std::string& text) const {
  return util::labels_from(parse_json(text, "labels"));
}

State SqliteBackend::parse_state(const std::string& text) const {
  if (auto s = state_from_string(text)) return *s;
  throw ferry::Error("SQLite database " + path() + ": unknown state '" + text +
                     "' stored (written by a newer ferry?)");
}

FlowVersion SqliteBackend::read_version(const Statement& q) const {
  FlowVersion v;
  v.id = q.int64(0);
  v.project = q.text(1);
  v.flow_name = q.text(2);
  v.version = q.int32(3);
  v.graph = parse_json(q.text(4), "graph");
  v.run_config = parse_json(q.text(5), "run config");
  v.labels = parse_labels(q.text(6));
  v.storage = parse_json(q.text(7), "storage");
  v.result = parse_json(q.text(8), "result settings");
  v.idempotency_key = q.text(9);
  v.created = from_ms(q.int64(10));
  return v;
}

FlowRun SqliteBackend::read_run(const Statement& q) const {
  FlowRun r;
  r.id = q.text(0);
  r.flow_version_id = q.int64(1);
  r.project = q.text(2);
  r.flow_name = q.text(3);
  r.flow_version = q.int32(4);
  r.parameters = parse_json(q.text(5), "parameters");
  r.labels = parse_labels(q.text(6));
  r.state = parse_state(q.text(7));
  r.message = q.text(8);
  r.agent_id = q.text(9);
  r.result = parse_json(q.text(10), "run result");
  r.pinned = parse_json(q.text(11), "pinned");
  r.created = from_ms(q.int64(12));
  r.updated = from_ms(q.int64(13));
  if (auto hb = q.optional_int64(14)) r.heartbeat = from_ms(*hb);
  return r;
}

std::optional<FlowRun> SqliteBackend::find_run(const std::string& run_id) {
  auto q = db_->prepare(kRunById);
  q.bind(1, run_id);
  if (!q.step()) return std::nullopt;
  return read_run(q);
}

void SqliteBackend::append_run_history(const std::string& run_id, State state,
                                       const std::string& message, std::int64_t at) {
  auto q = db_->prepare(
      "INSERT INTO flow_run_states (run_id, state, message, at) VALUES (?1, ?2, ?3, ?4)");
  q.bind(1, run_id).bind(2, to_string(state)).bind(3, message).bind(4, at).run();
}

// ---- flows and versions ---------------------------------------------------------------

RegisterOutcome SqliteBackend::register_flow_version(const FlowVersionSpec& spec) {
  if (spec.project.empty() || spec.flow_name.empty()) {
    throw ferry::ValueError(
        "cannot register a flow version without a project and a flow name"
        " (got project '" +
        spec.project + "', flow '" + spec.flow_name + "')");
  }
  return locked("register flow " + spec.project + "/" + spec.flow_name, [&] {
    Transaction tx(*db_);
    const std::int64_t now = now_ms();
    std::int64_t project_id = 0;
    std::int64_t flow_id = 0;
    {
      auto q = db_->prepare(
          "INSERT INTO projects (name, created) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING");
      q.bind(1, spec.project).bind(2, now).run();
    }
    {
      auto q = db_->prepare("SELECT id FROM projects WHERE name = ?1");
      q.bind(1, spec.project);
      q.step();
      project_id = q.int64(0);
    }
    {
      auto q = db_->prepare(
          "INSERT INTO flows (project_id, name, created) VALUES (?1, ?2, ?3)"
          " ON CONFLICT (project_id, name) DO NOTHING");
      q.bind(1, project_id).bind(2, spec.flow_name).bind(3, now).run();
    }
    {
      auto q = db_->prepare("SELECT id FROM flows WHERE project_id = ?1 AND name = ?2");
      q.bind(1, project_id).bind(2, spec.flow_name);
      q.step();
      flow_id = q.int64(0);
    }

    int latest = 0;
    std::optional<FlowVersion> unchanged;
    {
      static const std::string sql =
          kVersionSelect + "WHERE v.flow_id = ?1 ORDER BY v.version DESC LIMIT 1";
      auto q = db_->prepare(sql);
      q.bind(1, flow_id);
      if (q.step()) {
        latest = q.int32(3);
        if (!spec.force_new_version && !spec.idempotency_key.empty() &&
            q.text(9) == spec.idempotency_key) {
          unchanged = read_version(q);
        }
      }
    }
    if (unchanged) {
      tx.commit();
      return RegisterOutcome{std::move(*unchanged), false};
    }

    FlowVersion v;
    v.project = spec.project;
    v.flow_name = spec.flow_name;
    v.version = latest + 1;
    v.graph = spec.graph;
    v.run_config = spec.run_config;
    v.labels = spec.labels;
    v.storage = spec.storage;
    v.result = spec.result;
    v.idempotency_key = spec.idempotency_key;
    v.created = from_ms(now);
    {
      auto q = db_->prepare(
          "INSERT INTO flow_versions (flow_id, version, graph, run_config, labels, storage,"
          " result, idempotency_key, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
      q.bind(1, flow_id)
          .bind(2, v.version)
          .bind(3, json_text(v.graph))
          .bind(4, json_text(v.run_config))
          .bind(5, labels_text(v.labels))
          .bind(6, json_text(v.storage))
          .bind(7, json_text(v.result))
          .bind(8, v.idempotency_key)
          .bind(9, now)
          .run();
    }
    v.id = db_->last_insert_rowid();
    tx.commit();
    return RegisterOutcome{std::move(v), true};
  });
}

std::optional<FlowVersion> SqliteBackend::get_flow_version(const std::string& project,
                                                           const std::string& flow_name,
                                                           std::optional<int> version) {
  return locked("read flow " + project + "/" + flow_name, [&]() -> std::optional<FlowVersion> {
    static const std::string latest_sql =
        kVersionSelect + "WHERE p.name = ?1 AND f.name = ?2 ORDER BY v.version DESC LIMIT 1";
    static const std::string exact_sql =
        kVersionSelect + "WHERE p.name = ?1 AND f.name = ?2 AND v.version = ?3";
    auto q = db_->prepare(version ? exact_sql : latest_sql);
    q.bind(1, project).bind(2, flow_name);
    if (version) q.bind(3, *version);
    if (!q.step()) return std::nullopt;
    return read_version(q);
  });
}

std::optional<FlowVersion> SqliteBackend::get_flow_version_by_id(std::int64_t id) {
  return locked("read flow version " + std::to_string(id), [&]() -> std::optional<FlowVersion> {
    static const std::string sql = kVersionSelect + "WHERE v.id = ?1";
    auto q = db_->prepare(sql);
    q.bind(1, id);
    if (!q.step()) return std::nullopt;
    return read_version(q);
  });
}

std::vector<FlowVersion> SqliteBackend::list_flows(const std::string& project) {
  return locked("list flows", [&] {
    static const std::string sql =
        kVersionSelect +
        "WHERE (?1 = '' OR p.name = ?1)"
        " AND v.version = (SELECT MAX(version) FROM flow_versions WHERE flow_id = f.id)"
        " ORDER BY p.name, f.name";
    auto q = db_->prepare(sql);
    q.bind(1, project);
    std::vector<FlowVersion> out;
    while (q.step()) out.push_back(read_version(q));
    return out;
  });
}

// ---- flow runs ------------------------------------------------------------------------

FlowRun SqliteBackend::create_flow_run(std::int64_t flow_version_id, const Value& parameters,
                                       const std::vector<std::string>& labels) {
  return locked("create a flow run", [&] {
    Transaction tx(*db_);
    FlowRun run;
    {
      auto q = db_->prepare(
          "SELECT p.name, f.name, v.version FROM flow_versions v"
          " JOIN flows f ON f.id = v.flow_id JOIN projects p ON p.id = f.project_id"
          " WHERE v.id = ?1");
      q.bind(1, flow_version_id);
      if (!q.step()) {
        throw ferry::ValueError("cannot create a flow run: there is no flow version with id " +
                                std::to_string(flow_version_id) + " in " + path());
      }
      run.project = q.text(0);
      run.flow_name = q.text(1);
      run.flow_version = q.int32(2);
    }
    const std::int64_t now = now_ms();
    run.id = new_run_id();
    run.flow_version_id = flow_version_id;
    run.parameters = parameters;
    run.labels = labels;
    run.state = State::Scheduled;
    run.message = "Flow run scheduled";
    run.created = run.updated = from_ms(now);
    {
      auto q = db_->prepare(
          "INSERT INTO flow_runs (id, flow_version_id, parameters, labels, state, message,"
          " created, updated) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)");
      q.bind(1, run.id)
          .bind(2, flow_version_id)
          .bind(3, json_text(parameters))
          .bind(4, labels_text(labels))
          .bind(5, to_string(run.state))
          .bind(6, run.message)
          .bind(7, now)
          .run();
    }
    append_run_history(run.id, run.state, run.message, now);
    tx.commit();
    return run;
  });
}

std::vector<FlowRun> SqliteBackend::claim_flow_runs(const std::string& agent_id,
                                                    const std::vector<std::string>& agent_labels,
                                                    int max_runs) {
  if (max_runs <= 0) return {};
  return locked("claim flow runs for agent " + agent_id, [&] {
    {
      // A cheap read first: an idle agent that was woken for nothing takes no write lock.
      auto any = db_->prepare("SELECT 1 FROM flow_runs WHERE state = 'Scheduled' LIMIT 1");
      if (!any.step()) return std::vector<FlowRun>{};
    }
    Transaction tx(*db_);  // BEGIN IMMEDIATE: no other process claims until we commit
    const std::unordered_set<std::string> have(agent_labels.begin(), agent_labels.end());
    std::vector<std::string> ids;
    {
      auto q = db_->prepare(
          "SELECT id, labels FROM flow_runs WHERE state = 'Scheduled' ORDER BY created, rowid");
      while (static_cast<int>(ids.size()) < max_runs && q.step()) {
        bool fits = true;
        for (const auto& label : parse_labels(q.text(1))) {
          if (!have.count(label)) {
            fits = false;
            break;
          }
        }
        if (fits) ids.push_back(q.text(0));
      }
    }
    std::vector<FlowRun> claimed;
    if (ids.empty()) {
      tx.commit();
      return claimed;
    }
    const std::int64_t now = now_ms();
    const std::string message = "Claimed by agent " + agent_id;
    for (const auto& id : ids) {
      {
        auto q = db_->prepare(
            "UPDATE flow_runs SET state = 'Pending', message = ?2, agent_id = ?3,"
            " heartbeat = ?4, updated = ?4 WHERE id = ?1 AND state = 'Scheduled'");
        q.bind(1, id).bind(2, message).bind(3, agent_id).bind(4, now).run();
      }
      append_run_history(id, State::Pending, message, now);
      if (auto run = find_run(id)) claimed.push_back(std::move(*run));
    }
    tx.commit();
    return claimed;
  });
}

std::optional<FlowRun> SqliteBackend::get_flow_run(const std::string& run_id) {
  return locked("read flow run " + run_id, [&]() -> std::optional<FlowRun> {
    Transaction tx(*db_, Transaction::Mode::Deferred);  // run and history from one snapshot
    auto run = find_run(run_id);
    if (run) {
      auto q = db_->prepare(
          "SELECT state, message, at FROM flow_run_states WHERE run_id = ?1 ORDER BY id");
      q.bind(1, run_id);
      while (q.step()) {
        run->history.push_back(StateChange{parse_state(q.text(0)), q.text(1), from_ms(q.int64(2))});
      }
    }
    tx.commit();
    return run;
  });
}

std::vector<FlowRun> SqliteBackend::list_flow_runs(const RunFilter& filter) {
  return locked("list flow runs", [&] {
    static const std::string sql = kRunSelect +
                                   "WHERE (?1 = '' OR p.name = ?1) AND (?2 = '' OR f.name = ?2)"
                                   " AND (?3 IS NULL OR r.state = ?3)"
                                   " ORDER BY r.created DESC, r.rowid DESC LIMIT ?4";
    auto q = db_->prepare(sql);
    q.bind(1, filter.project).bind(2, filter.flow_name);
    if (filter.state) {
      q.bind(3, to_string(*filter.state));
    } else {
      q.bind_null(3);
    }
    q.bind(4, filter.limit > 0 ? filter.limit : -1);
    std::vector<FlowRun> out;
    while (q.step()) out.push_back(read_run(q));
    return out;
  });
}

std::vector<std::pair<State, std::int64_t>> SqliteBackend::count_flow_runs_by_state() {
  return locked("count flow runs", [&] {
    auto q = db_->prepare("SELECT state, COUNT(*) FROM flow_runs GROUP BY state ORDER BY state");
    std::vector<std::pair<State, std::int64_t>> out;
    while (q.step()) out.emplace_back(parse_state(q.text(0)), q.int64(1));
    return out;
  });
}

void SqliteBackend::set_flow_run_state(const std::string& run_id, State state,
                                       const std::string& message) {
  locked("set the state of flow run " + run_id, [&] {
    Transaction tx(*db_);
    State current;
    {
      auto q = db_->prepare("SELECT state FROM flow_runs WHERE id = ?1");
      q.bind(1, run_id);
      if (!q.step()) {
        throw ferry::ValueError("cannot set the state of flow run " + run_id +
                                ": there is no such run in " + path());
      }
      current = parse_state(q.text(0));
    }
    const std::int64_t now = now_ms();
    append_run_history(run_id, state, message, now);
    if (!is_final(current)) {
      // Back to Scheduled is a release: the run belongs to no agent until claimed again.
      auto q = db_->prepare(
          "UPDATE flow_runs SET state = ?2, message = ?3, updated = ?4,"
          " agent_id = CASE WHEN ?2 = 'Scheduled' THEN '' ELSE agent_id END,"
          " heartbeat = CASE WHEN ?2 = 'Scheduled' THEN NULL ELSE heartbeat END"
          " WHERE id = ?1");
      q.bind(1, run_id).bind(2, to_string(state)).bind(3, message).bind(4, now).run();
    }
    tx.commit();
  });
}

void SqliteBackend::set_flow_run_result(const std::string& run_id, const Value& result) {
  locked("set the result of flow run " + run_id, [&] {
    Transaction tx(*db_);
    {
      auto q = db_->prepare("UPDATE flow_runs SET result = ?2, updated = ?3 WHERE id = ?1");
      q.bind(1, run_id).bind(2, json_text(result)).bind(3, now_ms()).run();
    }
    if (db_->changes() == 0) {
      throw ferry::ValueError("cannot set the result of flow run " + run_id +
                              ": there is no such run in " + path());
    }
    tx.commit();
  });
}

void SqliteBackend::set_flow_run_pinned(const std::string& run_id, const Value& pinned) {
  locked("set what flow run " + run_id + " pinned", [&] {
    Transaction tx(*db_);
    {
      auto q = db_->prepare("UPDATE flow_runs SET pinned = ?2, updated = ?3 WHERE id = ?1");
      q.bind(1, run_id).bind(2, json_text(pinned)).bind(3, now_ms()).run();
    }
    if (db_->changes() == 0) {
      throw ferry::ValueError("cannot set what flow run " + run_id +
                              " pinned: there is no such run in " + path());
    }
    tx.commit();
  });
}

void SqliteBackend::heartbeat_flow_runs(const std::vector<std::string>& run_ids) {
  if (run_ids.empty()) return;
  locked("record heartbeats of flow runs", [&] {
    Transaction tx(*db_);
    const std::int64_t now = now_ms();
    for (const auto& id : run_ids) {
      auto q = db_->prepare("UPDATE flow_runs SET heartbeat = ?2 WHERE id = ?1");
      q.bind(1, id).bind(2, now).run();
    }
    tx.commit();
  });
}

std::vector<std::string> SqliteBackend::mark_lost_runs(std::chrono::milliseconds timeout) {
  return locked("mark lost flow runs", [&] {
    Transaction tx(*db_);
    const std::int64_t now = now_ms();
    struct Candidate {
      std::string id;
      std::string agent_id;
      std::int64_t last_seen;
      int retries;     // how often the flow lets a lost run be rescheduled
      int times_lost;  // before this time
    };
    std::vector<Candidate> lost;
    {
      // A run without a heartbeat counts from its last state change.
      auto q = db_->prepare(
          "SELECT r.id, r.agent_id, COALESCE(r.heartbeat, r.updated), v.run_config,"
          " (SELECT COUNT(*) FROM flow_run_states s WHERE s.run_id = r.id AND s.state = 'Lost')"
          " FROM flow_runs r JOIN flow_versions v ON v.id = r.flow_version_id"
          " WHERE r.state IN ('Pending', 'Running') AND COALESCE(r.heartbeat, r.updated) < ?1"
          " ORDER BY r.created, r.rowid");
      q.bind(1, now - timeout.count());
      while (q.step()) {
        lost.push_back({q.text(0), q.text(1), q.int64(2),
                        lost_run_retries(parse_json(q.text(3), "run config")), q.int32(4)});
      }
    }
    std::vector<std::string> ids;
    ids.reserve(lost.size());
    for (const auto& c : lost) {
      const std::string message = lost_message(c.agent_id, c.last_seen, now);
      append_run_history(c.id, State::Lost, message, now);
      if (c.times_lost < c.retries) {
        const std::string again = rescheduled_message(c.times_lost + 1, c.retries);
        auto q = db_->prepare(
            "UPDATE flow_runs SET state = 'Scheduled', message = ?2, updated = ?3,"
            " agent_id = '', heartbeat = NULL WHERE id = ?1");
        q.bind(1, c.id).bind(2, again).bind(3, now).run();
        append_run_history(c.id, State::Scheduled, again, now);
      } else {
        auto q = db_->prepare(
            "UPDATE flow_runs SET state = 'Lost', message = ?2, updated = ?3 WHERE id = ?1");
        q.bind(1, c.id).bind(2, message).bind(3, now).run();
      }
      ids.push_back(c.id);
    }
    tx.commit();
    return ids;
  });
}

// ---- task runs ------------------------------------------------------------------------

void SqliteBackend::set_task_run_state(const std::string& run_id, const std::string& task_name,
                                       State state, const std::string& message, int attempts,
                                       const std::string& result_location) {
  locked("set the state of task " + task_name + " of flow run " + run_id, [&] {
    Transaction tx(*db_);
    {
      auto q = db_->prepare("SELECT 1 FROM flow_runs WHERE id = ?1");
      q.bind(1, run_id);
      if (!q.step()) {
        throw ferry::ValueError("cannot set the state of task " + task_name +
                                ": there is no "
                                "flow run " +
                                run_id + " in " + path());
      }
    }
    const std::int64_t now = now_ms();
    std::int64_t task_run_id = 0;
    {
      auto q = db_->prepare(
          "INSERT INTO task_runs (run_id, task_name, state, message, attempts, result_location,"
          " created, updated) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)"
          " ON CONFLICT (run_id, task_name) DO UPDATE SET state = excluded.state,"
          " message = excluded.message, attempts = excluded.attempts,"
          " result_location = excluded.result_location, updated = excluded.updated"
          " RETURNING id");
      q.bind(1, run_id)
          .bind(2, task_name)
          .bind(3, to_string(state))
          .bind(4, message)
          .bind(5, attempts)
          .bind(6, result_location)
          .bind(7, now);
      q.step();
      task_run_id = q.int64(0);
      q.run();
    }
    {
      auto q = db_->prepare(
          "INSERT INTO task_run_states (task_run_id, state, message, at) VALUES (?1, ?2, ?3, ?4)");
      q.bind(1, task_run_id).bind(2, to_string(state)).bind(3, message).bind(4, now).run();
    }
    tx.commit();
  });
}

std::vector<TaskRun> SqliteBackend::get_task_runs(const std::string& run_id) {
  return locked("read the task runs of flow run " + run_id, [&] {
    Transaction tx(*db_, Transaction::Mode::Deferred);
    std::vector<TaskRun> out;
    std::unordered_map<std::int64_t, std::size_t> index;
    {
      auto q = db_->prepare(
          "SELECT id, task_name, state, message, attempts, result_location FROM task_runs"
          " WHERE run_id = ?1 ORDER BY id");
      q.bind(1, run_id);
      while (q.step()) {
        TaskRun t;
        t.run_id = run_id;
        t.task_name = q.text(1);
        t.state = parse_state(q.text(2));
        t.message = q.text(3);
        t.attempts = q.int32(4);
        t.result_location = q.text(5);
        index.emplace(q.int64(0), out.size());
        out.push_back(std::move(t));
      }
    }
    if (!out.empty()) {
      auto q = db_->prepare(
          "SELECT s.task_run_id, s.state, s.message, s.at FROM task_run_states s"
          " JOIN task_runs t ON t.id = s.task_run_id WHERE t.run_id = ?1"
          " ORDER BY s.task_run_id, s.id");
      q.bind(1, run_id);
      while (q.step()) {
        auto it = index.find(q.int64(0));
        if (it == index.end()) continue;
        out[it->second].history.push_back(
            StateChange{parse_state(q.text(1)), q.text(2), from_ms(q.int64(3))});
      }
    }
    tx.commit();
    return out;
  });
}

// ---- logs -----------------------------------------------------------------------------

void SqliteBackend::add_logs(const std::vector<LogLine>& lines) {
  if (lines.empty()) return;
  locked("write " + std::to_string(lines.size()) + " log lines", [&] {
    Transaction tx(*db_);
    const std::int64_t now = now_ms();
    for (const auto& line : lines) {
      auto q = db_->prepare(
          "INSERT INTO logs (run_id, task_name, level, message, at) VALUES (?1, ?2, ?3, ?4, ?5)");
      // A line without a time is stamped now.
      const std::int64_t at = line.at == Clock::time_point{} ? now : to_ms(line.at);
      q.bind(1, line.run_id)
          .bind(2, line.task_name)
          .bind(3, line.level)
          .bind(4, line.message)
          .bind(5, at)
          .run();
    }
    tx.commit();
  });
}

std::vector<LogLine> SqliteBackend::get_logs(const std::string& run_id, std::int64_t after_seq,
                                             int limit) {
  return locked("read the logs of flow run " + run_id, [&] {
    auto q = db_->prepare(
        "SELECT seq, task_name, level, message, at FROM logs"
        " WHERE run_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3");
    q.bind(1, run_id).bind(2, after_seq).bind(3, limit > 0 ? limit : -1);
    std::vector<LogLine> out;
    while (q.step()) {
      LogLine line;
      line.seq = q.int64(0);
      line.run_id = run_id;
      line.task_name = q.text(1);
      line.level = q.text(2);
      line.message = q.text(3);
      line.at = from_ms(q.int64(4));
      out.push_back(std::move(line));
    }
    return out;
  });
}

// ---- agents ---------------------------------------------------------------------------

void SqliteBackend::register_agent(const Agent& agent) {
  if (agent.id.empty()) throw ferry::ValueError("cannot register an agent without an id");
  locked("register agent " + agent.id, [&] {
    Transaction tx(*db_);
    const std::int64_t now = now_ms();
    auto q = db_->prepare(
        "INSERT INTO agents (id, name, labels, started, heartbeat) VALUES (?1, ?2, ?3, ?4, ?5)"
        " ON CONFLICT (id) DO UPDATE SET name = excluded.name, labels = excluded.labels,"
        " started = excluded.started, heartbeat = excluded.heartbeat");
    q.bind(1, agent.id)
        .bind(2, agent.name)
        .bind(3, labels_text(agent.labels))
        .bind(4, agent.started == Clock::time_point{} ? now : to_ms(agent.started))
        .bind(5, agent.heartbeat == Clock::time_point{} ? now : to_ms(agent.heartbeat))
        .run();
    tx.commit();
  });
}

void SqliteBackend::heartbeat_agent(const std::string& agent_id) {
  locked("record a heartbeat of agent " + agent_id, [&] {
    Transaction tx(*db_);
    {
      auto q = db_->prepare("UPDATE agents SET heartbeat = ?2 WHERE id = ?1");
      q.bind(1, agent_id).bind(2, now_ms()).run();
    }
    tx.commit();
  });
}

std::vector<Agent> SqliteBackend::list_agents() {
  return locked("list agents", [&] {
    auto q =
        db_->prepare("SELECT id, name, labels, started, heartbeat FROM agents ORDER BY name, id");
    std::vector<Agent> out;
    while (q.step()) {
      Agent a;
      a.id = q.text(0);
      a.name = q.text(1);
      a.labels = parse_labels(q.text(2));
      a.started = from_ms(q.int64(3));
      a.heartbeat = from_ms(q.int64(4));
      out.push_back(std::move(a));
    }
    return out;
  });
}

// ---- server: API keys and secrets -----------------------------------------------------

void SqliteBackend::add_api_key(const std::string& name, const std::string& key_hash) {
  if (name.empty()) throw ferry::ValueError("an API key needs a name");
  locked("add API key " + name, [&] {
    Transaction tx(*db_);
    {
      auto q = db_->prepare("SELECT 1 FROM api_keys WHERE name = ?1 AND revoked IS NULL");
      q.bind(1, name);
      if (q.step()) {
        throw ferry::ValueError("an API key named '" + name +
                                "' exists already; revoke it first or choose another name");
      }
    }
    auto q = db_->prepare("INSERT INTO api_keys (name, key_hash, created) VALUES (?1, ?2, ?3)");
    q.bind(1, name).bind(2, key_hash).bind(3, now_ms()).run();
    tx.commit();
  });
}

std::optional<std::string> SqliteBackend::find_api_key(const std::string& key_hash) {
  return locked("check an API key", [&]() -> std::optional<std::string> {
    auto q = db_->prepare("SELECT name FROM api_keys WHERE key_hash = ?1 AND revoked IS NULL");
    q.bind(1, key_hash);
    if (!q.step()) return std::nullopt;
    return q.text(0);
  });
}

bool SqliteBackend::revoke_api_key(const std::string& name) {
  return locked("revoke API key " + name, [&] {
    Transaction tx(*db_);
    {
      auto q = db_->prepare("UPDATE api_keys SET revoked = ?2 WHERE name = ?1 AND revoked IS NULL");
      q.bind(1, name).bind(2, now_ms()).run();
    }
    const bool revoked = db_->changes() > 0;
    tx.commit();
    return revoked;
  });
}

std::vector<ApiKey> SqliteBackend::list_api_keys() {
  return locked("list API keys", [&] {
    auto q = db_->prepare("SELECT name, created, revoked FROM api_keys ORDER BY name, id");
    std::vector<ApiKey> out;
    while (q.step()) {
      ApiKey key;
      key.name = q.text(0);
      key.created = from_ms(q.int64(1));
      if (auto at = q.optional_int64(2)) key.revoked = from_ms(*at);
      out.push_back(std::move(key));
    }
    return out;
  });
}

void SqliteBackend::put_secret(const std::string& name, const std::string& value) {
  if (name.empty()) throw ferry::ValueError("a secret needs a name");
  locked("store secret " + name, [&] {
    Transaction tx(*db_);
    auto q = db_->prepare(
        "INSERT INTO secrets (name, value, updated) VALUES (?1, ?2, ?3)"
        " ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated = excluded.updated");
    q.bind(1, name).bind(2, value).bind(3, now_ms()).run();
    tx.commit();
  });
}

std::optional<std::string> SqliteBackend::get_secret(const std::string& name) {
  return locked("read secret " + name, [&]() -> std::optional<std::string> {
    auto q = db_->prepare("SELECT value FROM secrets WHERE name = ?1");
    q.bind(1, name);
    if (!q.step()) return std::nullopt;
    return q.text(0);
  });
}

bool SqliteBackend::delete_secret(const std::string& name) {
  return locked("delete secret " + name, [&] {
    Transaction tx(*db_);
    {
      auto q = db_->prepare("DELETE FROM secrets WHERE name = ?1");
      q.bind(1, name).run();
    }
    const bool deleted = db_->changes() > 0;
    tx.commit();
    return deleted;
  });
}

std::vector<std::string> SqliteBackend::list_secrets() {
  return locked("list secrets", [&] {
    auto q = db_->prepare("SELECT name FROM secrets ORDER BY name");
    std::vector<std::string> out;
    while (q.step()) out.push_back(q.text(0));
    return out;
  });
}

std::unique_ptr<Backend> open_sqlite_backend(const std::string& path) {
  return std::make_unique<SqliteBackend>(path);
}

}  // namespace ferry::backend
