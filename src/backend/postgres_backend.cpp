#include "backend/postgres_backend.hpp"

#include <algorithm>
#include <pqxx/pqxx>
#include <type_traits>
#include <unordered_map>

#include "backend/backend_util.hpp"
#include "backend/postgres_migrations.hpp"
#include "ferry/error.hpp"

namespace ferry::backend {

namespace {

using util::from_ms;
using util::json_text;
using util::labels_text;
using util::now_ms;
using util::to_ms;
using util::valid_utf8;

// Log lines are inserted under this lock, so that their seqs become visible in increasing
// order: a reader following "after seq N" never skips a line committed late with a lower
// seq by a concurrent writer.
constexpr long long kLogsLockKey = 0x6665727279'6c6f67LL;  // "ferrylog"

// Runs and versions read the same way everywhere. ORDER BY ... COLLATE "C" sorts names by
// bytes, as SQLite does, whatever the database's locale.
using util::kRunSelect;
using util::kVersionSelect;

// What the lambdas of each call get.
using Tx = pqxx::transaction_base;

// A read-only transaction whose statements all see one snapshot (a run and its history).
using SnapshotTransaction = pqxx::transaction<pqxx::repeatable_read, pqxx::read_only>;

std::string trimmed(const char* text) {
  std::string s(text);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string text(const pqxx::field& f) { return f.is_null() ? std::string() : f.c_str(); }

// " LIMIT n", or nothing for "no limit" (n <= 0), as SQLite's LIMIT -1.
std::string limit_clause(int limit) {
  return limit > 0 ? " LIMIT " + std::to_string(limit) : std::string();
}

// Values of a libpq URI's authority: [user[:password]@]host[:port], path /dbname.
struct UriParts {
  std::string scheme_end;  // "postgresql://" or "postgres://", empty if not a URI
  std::string userinfo;
  std::string hostport;
  std::string rest;  // "/dbname?..." or ""
};

UriParts split_uri(const std::string& url) {
  UriParts parts;
  for (const char* scheme : {"postgresql://", "postgres://"}) {
    if (url.rfind(scheme, 0) == 0) parts.scheme_end = scheme;
  }
  if (parts.scheme_end.empty()) return parts;
  const std::string after = url.substr(parts.scheme_end.size());
  const std::size_t end = after.find_first_of("/?");
  std::string authority = after.substr(0, end);
  parts.rest = end == std::string::npos ? "" : after.substr(end);
  const std::size_t at = authority.rfind('@');
  if (at != std::string::npos) {
    parts.userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
  }
  parts.hostport = authority;
  return parts;
}

// The key=value entries of a connection string (values may be 'quoted').
std::vector<std::pair<std::string, std::string>> conninfo_entries(const std::string& s) {
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    const std::size_t eq = s.find('=', i);
    if (eq == std::string::npos) break;
    std::string key = s.substr(i, eq - i);
    while (!key.empty() && key.back() == ' ') key.pop_back();
    i = eq + 1;
    while (i < s.size() && s[i] == ' ') ++i;
    std::string value;
    if (i < s.size() && s[i] == '\'') {
      for (++i; i < s.size() && s[i] != '\''; ++i) {
        if (s[i] == '\\' && i + 1 < s.size()) ++i;
        value += s[i];
      }
      ++i;
    } else {
      while (i < s.size() && s[i] != ' ') value += s[i++];
    }
    out.emplace_back(std::move(key), std::move(value));
  }
  return out;
}

// The query parameter `name` of a URI's rest ("/db?host=x&port=y"), or "".
std::string query_value(const std::string& rest, const std::string& name) {
  const std::size_t q = rest.find('?');
  if (q == std::string::npos) return {};
  std::size_t i = q + 1;
  while (i < rest.size()) {
    std::size_t amp = rest.find('&', i);
    if (amp == std::string::npos) amp = rest.size();
    const std::string item = rest.substr(i, amp - i);
    if (item.rfind(name + "=", 0) == 0) return item.substr(name.size() + 1);
    i = amp + 1;
  }
  return {};
}

// "host:port/dbname" of a URI or key=value connection string, for messages.
std::string describe(const std::string& url) {
  std::string host, port, db;
  const UriParts uri = split_uri(url);
  if (!uri.scheme_end.empty()) {
    host = uri.hostport;
    if (!host.empty() && host.front() != '[') {
      const std::size_t colon = host.rfind(':');
      if (colon != std::string::npos) {
        port = host.substr(colon + 1);
        host = host.substr(0, colon);
      }
    }
    std::string path = uri.rest.substr(0, uri.rest.find('?'));
    if (!path.empty()) db = path.substr(1);
    if (host.empty()) host = query_value(uri.rest, "host");
    if (port.empty()) port = query_value(uri.rest, "port");
    if (db.empty()) db = query_value(uri.rest, "dbname");
  } else {
    for (const auto& [key, value] : conninfo_entries(url)) {
      if (key == "host" || (key == "hostaddr" && host.empty())) host = value;
      if (key == "port") port = value;
      if (key == "dbname") db = value;
    }
  }
  return (host.empty() ? "localhost" : host) + ":" + (port.empty() ? "5432" : port) + "/" + db;
}

}  // namespace

std::string redact_postgres_url(const std::string& url) {
  const UriParts uri = split_uri(url);
  if (!uri.scheme_end.empty()) {
    std::string user = uri.userinfo.substr(0, uri.userinfo.find(':'));
    std::string rest = uri.rest;
    // A password may also come as a query parameter.
    for (std::size_t p; (p = rest.find("password=")) != std::string::npos &&
                        (rest[p - 1] == '?' || rest[p - 1] == '&');) {
      std::size_t end = rest.find('&', p);
      rest.erase(p, end == std::string::npos ? std::string::npos : end - p + 1);
    }
    while (!rest.empty() && (rest.back() == '&' || rest.back() == '?')) rest.pop_back();
    return uri.scheme_end + (user.empty() ? "" : user + "@") + uri.hostport + rest;
  }
  std::string out;
  for (const auto& [key, value] : conninfo_entries(url)) {
    if (key == "password") continue;
    out += (out.empty() ? "" : " ") + key + "='" + value + "'";
  }
  return out;
}

// ---- connections ----------------------------------------------------------------------

struct PostgresBackend::Connection {
  explicit Connection(const std::string& url) : db(url) {
    // set_variable: pqxx restores these if it ever re-establishes the session itself.
    db.set_variable("client_encoding", "UTF8");
    db.set_variable("client_min_messages", "warning");  // no NOTICEs on stderr
  }
  pqxx::connection db;
};

// A pooled connection for one call: returned to the pool at the end unless dropped.
class PostgresBackend::Lease {
 public:
  explicit Lease(PostgresBackend& owner) : owner_(owner), connection_(owner.take()) {}
  ~Lease() {
    if (!connection_) return;
    if (connection_->db.is_open()) {
      owner_.give_back(std::move(connection_));
    } else {
      owner_.forget(std::move(connection_));
    }
  }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

  pqxx::connection& db() { return connection_->db; }
  void drop() { owner_.forget(std::move(connection_)); }

 private:
  PostgresBackend& owner_;
  std::unique_ptr<Connection> connection_;
};

PostgresBackend::PostgresBackend(const std::string& url, int max_connections)
    : url_(url), where_(describe(url)), max_connections_(std::max(1, max_connections)) {
  try {
    Lease lease(*this);
    postgres::migrate(lease.db(), where_);
  } catch (const pqxx::pqxx_exception& e) {
    throw ferry::Error("could not open the ferry database: PostgreSQL at " + where_ + ": " +
                       trimmed(e.base().what()));
  } catch (const ferry::Error& e) {
    throw ferry::Error("could not open the ferry database: " + std::string(e.what()));
  }
}

PostgresBackend::~PostgresBackend() = default;

std::unique_ptr<PostgresBackend::Connection> PostgresBackend::connect() {
  return std::make_unique<Connection>(url_);
}

std::unique_ptr<PostgresBackend::Connection> PostgresBackend::take() {
  std::unique_lock<std::mutex> lock(mutex_);
  returned_.wait(lock, [&] { return !idle_.empty() || open_ < max_connections_; });
  if (!idle_.empty()) {
    auto connection = std::move(idle_.back());
    idle_.pop_back();
    return connection;
  }
  ++open_;  // counted now, so that other threads do not open past the limit meanwhile
  lock.unlock();
  try {
    return connect();
  } catch (...) {
    lock.lock();
    --open_;
    returned_.notify_one();
    throw;
  }
}

void PostgresBackend::give_back(std::unique_ptr<Connection> connection) {
  std::lock_guard<std::mutex> lock(mutex_);
  idle_.push_back(std::move(connection));
  returned_.notify_one();
}

void PostgresBackend::forget(std::unique_ptr<Connection> connection) {
  // A broken connection usually means the server restarted: the idle ones are dead too.
  std::vector<std::unique_ptr<Connection>> dead;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    dead.swap(idle_);
    open_ -= static_cast<int>(dead.size()) + (connection ? 1 : 0);
    returned_.notify_all();
  }
  connection.reset();  // closed outside the lock
}

namespace {

template <class Tx, class F>
auto run_transaction(pqxx::connection& db, F& f) {
  Tx tx(db);
  using R = std::invoke_result_t<F&, pqxx::transaction_base&>;
  if constexpr (std::is_void_v<R>) {
    f(static_cast<pqxx::transaction_base&>(tx));
    tx.commit();
  } else {
    R result = f(static_cast<pqxx::transaction_base&>(tx));
    tx.commit();
    return result;
  }
}

}  // namespace

template <class F>
auto PostgresBackend::transact(const std::string& what, F&& f, bool snapshot) {
  const auto failed = [&](const std::string& why) {
    return ferry::Error("could not " + what + ": PostgreSQL at " + where_ + " " + why);
  };
  for (int attempt = 1;; ++attempt) {
    try {
      Lease lease(*this);
      try {
        return snapshot ? run_transaction<SnapshotTransaction>(lease.db(), f)
                        : run_transaction<pqxx::work>(lease.db(), f);
      } catch (const pqxx::broken_connection&) {
        lease.drop();
        throw;
      }
    } catch (const pqxx::broken_connection& e) {
      // Nothing was committed: the call can be made again on a new connection.
      if (attempt == 1) continue;
      throw failed("is unreachable: " + trimmed(e.what()));
    } catch (const pqxx::in_doubt_error& e) {
      throw failed("lost the connection while committing (the change may or may not be made): " +
                   trimmed(e.what()));
    } catch (const pqxx::pqxx_exception& e) {
      throw failed("failed: " + trimmed(e.base().what()));
    }
  }
}

// ---- reading rows ---------------------------------------------------------------------

Value PostgresBackend::parse_json(const std::string& text, const char* what) const {
  if (text.empty()) return Value();
  try {
    return Value::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw ferry::Error("PostgreSQL database " + where_ + ": the stored " + what +
                       " is not valid JSON: " + e.what());
  }
}

std::vector<std::string> PostgresBackend::parse_labels(const std::string& text) const {
  return util::labels_from(parse_json(text, "labels"));
}

State PostgresBackend::parse_state(const std::string& text) const {
  if (auto s = state_from_string(text)) return *s;
  throw ferry::Error("PostgreSQL database " + where_ + ": unknown state '" + text +
                     "' stored (written by a newer ferry?)");
}

FlowVersion PostgresBackend::read_version(const pqxx::row& row) const {
  FlowVersion v;
  v.id = row[0].as<std::int64_t>();
  v.project = text(row[1]);
  v.flow_name = text(row[2]);
  v.version = row[3].as<int>();
  v.graph = parse_json(text(row[4]), "graph");
  v.run_config = parse_json(text(row[5]), "run config");
  v.labels = parse_labels(text(row[6]));
  v.storage = parse_json(text(row[7]), "storage");
  v.result = parse_json(text(row[8]), "result settings");
  v.idempotency_key = text(row[9]);
  v.created = from_ms(row[10].as<std::int64_t>());
  return v;
}

FlowRun PostgresBackend::read_run(const pqxx::row& row) const {
  FlowRun r;
  r.id = text(row[0]);
  r.flow_version_id = row[1].as<std::int64_t>();
  r.project = text(row[2]);
  r.flow_name = text(row[3]);
  r.flow_version = row[4].as<int>();
  r.parameters = parse_json(text(row[5]), "parameters");
  r.labels = parse_labels(text(row[6]));
  r.state = parse_state(text(row[7]));
  r.message = text(row[8]);
  r.agent_id = text(row[9]);
  r.result = parse_json(text(row[10]), "run result");
  r.pinned = parse_json(text(row[11]), "pinned");
  r.created = from_ms(row[12].as<std::int64_t>());
  r.updated = from_ms(row[13].as<std::int64_t>());
  if (!row[14].is_null()) r.heartbeat = from_ms(row[14].as<std::int64_t>());
  return r;
}

std::optional<FlowRun> PostgresBackend::find_run(pqxx::transaction_base& tx,
                                                 const std::string& run_id) const {
  static const std::string sql = kRunSelect + "WHERE r.id = $1";
  auto rows = tx.exec_params(sql, run_id);
  if (rows.empty()) return std::nullopt;
  return read_run(rows[0]);
}

std::vector<StateChange> PostgresBackend::run_history(pqxx::transaction_base& tx,
                                                      const std::string& run_id) const {
  std::vector<StateChange> history;
  for (const auto& row : tx.exec_params(
           "SELECT state, message, at FROM flow_run_states WHERE run_id = $1 ORDER BY id",
           run_id)) {
    history.push_back(
        StateChange{parse_state(text(row[0])), text(row[1]), from_ms(row[2].as<std::int64_t>())});
  }
  return history;
}

void PostgresBackend::append_run_history(pqxx::transaction_base& tx, const std::string& run_id,
                                         State state, const std::string& message,
                                         std::int64_t at) const {
  tx.exec_params("INSERT INTO flow_run_states (run_id, state, message, at) VALUES ($1, $2, $3, $4)",
                 run_id, to_string(state), valid_utf8(message), at);
}

std::string PostgresBackend::no_run(const std::string& action, const std::string& run_id) const {
  return "cannot " + action + " flow run " + run_id + ": there is no such run in PostgreSQL at " +
         where_;
}

// ---- flows and versions ---------------------------------------------------------------

RegisterOutcome PostgresBackend::register_flow_version(const FlowVersionSpec& spec) {
  if (spec.project.empty() || spec.flow_name.empty()) {
    throw ferry::ValueError(
        "cannot register a flow version without a project and a flow name"
        " (got project '" +
        spec.project + "', flow '" + spec.flow_name + "')");
  }
  return transact("register flow " + spec.project + "/" + spec.flow_name, [&](Tx& tx) {
    const std::int64_t now = now_ms();
    tx.exec_params("INSERT INTO projects (name, created) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                   spec.project, now);
    const auto project_id =
        tx.exec_params1("SELECT id FROM projects WHERE name = $1", spec.project)[0]
            .as<std::int64_t>();
    tx.exec_params(
        "INSERT INTO flows (project_id, name, created) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        project_id, spec.flow_name, now);
    // Locking the flow's row numbers its versions one registration at a time.
    const auto flow_id =
        tx.exec_params1("SELECT id FROM flows WHERE project_id = $1 AND name = $2 FOR UPDATE",
                        project_id, spec.flow_name)[0]
            .as<std::int64_t>();

    int latest = 0;
    static const std::string latest_sql =
        kVersionSelect + "WHERE v.flow_id = $1 ORDER BY v.version DESC LIMIT 1";
    auto rows = tx.exec_params(latest_sql, flow_id);
    if (!rows.empty()) {
      latest = rows[0][3].as<int>();
      if (!spec.force_new_version && !spec.idempotency_key.empty() &&
          text(rows[0][9]) == spec.idempotency_key) {
        return RegisterOutcome{read_version(rows[0]), false};
      }
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
    v.id = tx.exec_params1(
                 "INSERT INTO flow_versions (flow_id, version, graph, run_config, labels, storage,"
                 " result, idempotency_key, created) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                 " RETURNING id",
                 flow_id, v.version, json_text(v.graph), json_text(v.run_config),
                 labels_text(v.labels), json_text(v.storage), json_text(v.result),
                 v.idempotency_key, now)[0]
               .as<std::int64_t>();
    return RegisterOutcome{std::move(v), true};
  });
}

std::optional<FlowVersion> PostgresBackend::get_flow_version(const std::string& project,
                                                             const std::string& flow_name,
                                                             std::optional<int> version) {
  return transact(
      "read flow " + project + "/" + flow_name, [&](Tx& tx) -> std::optional<FlowVersion> {
        static const std::string latest_sql =
            kVersionSelect + "WHERE p.name = $1 AND f.name = $2 ORDER BY v.version DESC LIMIT 1";
        static const std::string exact_sql =
            kVersionSelect + "WHERE p.name = $1 AND f.name = $2 AND v.version = $3";
        auto rows = version ? tx.exec_params(exact_sql, project, flow_name, *version)
                            : tx.exec_params(latest_sql, project, flow_name);
        if (rows.empty()) return std::nullopt;
        return read_version(rows[0]);
      });
}

std::optional<FlowVersion> PostgresBackend::get_flow_version_by_id(std::int64_t id) {
  return transact("read flow version " + std::to_string(id),
                  [&](Tx& tx) -> std::optional<FlowVersion> {
                    static const std::string sql = kVersionSelect + "WHERE v.id = $1";
                    auto rows = tx.exec_params(sql, id);
                    if (rows.empty()) return std::nullopt;
                    return read_version(rows[0]);
                  });
}

std::vector<FlowVersion> PostgresBackend::list_flows(const std::string& project) {
  return transact("list flows", [&](Tx& tx) {
    static const std::string sql =
        kVersionSelect +
        "WHERE ($1::text = '' OR p.name = $1::text)"
        " AND v.version = (SELECT MAX(version) FROM flow_versions WHERE flow_id = f.id)"
        " ORDER BY p.name COLLATE \"C\", f.name COLLATE \"C\"";
    std::vector<FlowVersion> out;
    for (const auto& row : tx.exec_params(sql, project)) out.push_back(read_version(row));
    return out;
  });
}

// ---- flow runs ------------------------------------------------------------------------

FlowRun PostgresBackend::create_flow_run(std::int64_t flow_version_id, const Value& parameters,
                                         const std::vector<std::string>& labels) {
  return transact("create a flow run", [&](Tx& tx) {
    auto rows = tx.exec_params(
        "SELECT p.name, f.name, v.version FROM flow_versions v"
        " JOIN flows f ON f.id = v.flow_id JOIN projects p ON p.id = f.project_id"
        " WHERE v.id = $1",
        flow_version_id);
    if (rows.empty()) {
      throw ferry::ValueError("cannot create a flow run: there is no flow version with id " +
                              std::to_string(flow_version_id) + " in PostgreSQL at " + where_);
    }
    FlowRun run;
    run.project = text(rows[0][0]);
    run.flow_name = text(rows[0][1]);
    run.flow_version = rows[0][2].as<int>();
    const std::int64_t now = now_ms();
    run.id = util::new_run_id();
    run.flow_version_id = flow_version_id;
    run.parameters = parameters;
    run.labels = labels;
    run.state = State::Scheduled;
    run.message = "Flow run scheduled";
    run.created = run.updated = from_ms(now);
    tx.exec_params(
        "INSERT INTO flow_runs (id, flow_version_id, parameters, labels, state, message,"
        " created, updated) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        run.id, flow_version_id, json_text(parameters), labels_text(labels), to_string(run.state),
        run.message, now);
    append_run_history(tx, run.id, run.state, run.message, now);
    return run;
  });
}

std::vector<FlowRun> PostgresBackend::claim_flow_runs(const std::string& agent_id,
                                                      const std::vector<std::string>& agent_labels,
                                                      int max_runs) {
  if (max_runs <= 0) return {};
  return transact("claim flow runs for agent " + agent_id, [&](Tx& tx) {
    // The label test is in SQL (a run fits when its labels array is contained in the
    // agent's), so LIMIT counts only runs this agent can take, and SKIP LOCKED passes over
    // runs another claimer holds instead of waiting for it or taking them twice.
    const std::int64_t now = now_ms();
    const std::string message = "Claimed by agent " + agent_id;
    auto claimed = tx.exec_params(
        "WITH picked AS ("
        "  SELECT id FROM flow_runs WHERE state = 'Scheduled' AND labels::jsonb <@ $1::jsonb"
        "  ORDER BY created, seq LIMIT $2 FOR UPDATE SKIP LOCKED),"
        " claimed AS ("
        "  UPDATE flow_runs r SET state = 'Pending', message = $3, agent_id = $4,"
        "  heartbeat = $5, updated = $5 FROM picked WHERE r.id = picked.id RETURNING r.id),"
        " history AS ("
        "  INSERT INTO flow_run_states (run_id, state, message, at)"
        "  SELECT id, 'Pending', $3, $5 FROM claimed)"
        " SELECT id FROM claimed",
        labels_text(agent_labels), max_runs, valid_utf8(message), valid_utf8(agent_id), now);
    std::vector<FlowRun> runs;
    if (claimed.empty()) return runs;
    Value ids = Value::array();
    for (const auto& row : claimed) ids.push_back(text(row[0]));
    static const std::string sql = kRunSelect +
                                   "WHERE r.id IN (SELECT jsonb_array_elements_text($1::jsonb))"
                                   " ORDER BY r.created, r.seq";
    for (const auto& row : tx.exec_params(sql, json_text(ids))) runs.push_back(read_run(row));
    return runs;
  });
}

std::optional<FlowRun> PostgresBackend::get_flow_run(const std::string& run_id) {
  return transact(
      "read flow run " + run_id,
      [&](Tx& tx) {
        auto run = find_run(tx, run_id);
        if (run) run->history = run_history(tx, run_id);
        return run;
      },
      /*snapshot=*/true);
}

std::vector<FlowRun> PostgresBackend::list_flow_runs(const RunFilter& filter) {
  return transact("list flow runs", [&](Tx& tx) {
    const std::string sql = kRunSelect +
                            "WHERE ($1::text = '' OR p.name = $1::text)"
                            " AND ($2::text = '' OR f.name = $2::text)"
                            " AND ($3::text = '' OR r.state = $3::text)"
                            " ORDER BY r.created DESC, r.seq DESC" +
                            limit_clause(filter.limit);
    std::vector<FlowRun> out;
    for (const auto& row : tx.exec_params(sql, filter.project, filter.flow_name,
                                          filter.state ? to_string(*filter.state) : "")) {
      out.push_back(read_run(row));
    }
    return out;
  });
}

std::vector<std::pair<State, std::int64_t>> PostgresBackend::count_flow_runs_by_state() {
  return transact("count flow runs", [&](Tx& tx) {
    std::vector<std::pair<State, std::int64_t>> counts;
    for (const auto& row : tx.exec("SELECT state, COUNT(*) FROM flow_runs GROUP BY state"
                                   " ORDER BY state COLLATE \"C\"")) {
      counts.emplace_back(parse_state(text(row[0])), row[1].as<std::int64_t>());
    }
    return counts;
  });
}

void PostgresBackend::set_flow_run_state(const std::string& run_id, State state,
                                         const std::string& message) {
  transact("set the state of flow run " + run_id, [&](Tx& tx) {
    auto rows = tx.exec_params("SELECT state FROM flow_runs WHERE id = $1 FOR UPDATE", run_id);
    if (rows.empty()) throw ferry::ValueError(no_run("set the state of", run_id));
    const State current = parse_state(text(rows[0][0]));
    const std::int64_t now = now_ms();
    append_run_history(tx, run_id, state, message, now);
    if (is_final(current)) return;
    // Back to Scheduled is a release: the run belongs to no agent until claimed again.
    const char* sql = state == State::Scheduled
                          ? "UPDATE flow_runs SET state = $2, message = $3, updated = $4,"
                            " agent_id = '', heartbeat = NULL WHERE id = $1"
                          : "UPDATE flow_runs SET state = $2, message = $3, updated = $4"
                            " WHERE id = $1";
    tx.exec_params(sql, run_id, to_string(state), valid_utf8(message), now);
  });
}

void PostgresBackend::set_flow_run_result(const std::string& run_id, const Value& result) {
  transact("set the result of flow run " + run_id, [&](Tx& tx) {
    auto r = tx.exec_params("UPDATE flow_runs SET result = $2, updated = $3 WHERE id = $1", run_id,
                            json_text(result), now_ms());
    if (r.affected_rows() == 0) throw ferry::ValueError(no_run("set the result of", run_id));
  });
}

void PostgresBackend::set_flow_run_pinned(const std::string& run_id, const Value& pinned) {
  transact("set what flow run " + run_id + " pinned", [&](Tx& tx) {
    auto r = tx.exec_params("UPDATE flow_runs SET pinned = $2, updated = $3 WHERE id = $1", run_id,
                            json_text(pinned), now_ms());
    if (r.affected_rows() == 0) {
      throw ferry::ValueError("cannot set what flow run " + run_id +
                              " pinned: there is no such run in PostgreSQL at " + where_);
    }
  });
}

void PostgresBackend::heartbeat_flow_runs(const std::vector<std::string>& run_ids) {
  if (run_ids.empty()) return;
  transact("record heartbeats of flow runs", [&](Tx& tx) {
    tx.exec_params(
        "UPDATE flow_runs SET heartbeat = $2"
        " WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb))",
        json_text(Value(run_ids)), now_ms());
  });
}

std::vector<std::string> PostgresBackend::mark_lost_runs(std::chrono::milliseconds timeout) {
  return transact("mark lost flow runs", [&](Tx& tx) {
    const std::int64_t now = now_ms();
    // SKIP LOCKED: of two servers checking at once, each handles a run at most once; a run
    // being heartbeated right now is re-checked against the new heartbeat, not lost.
    auto lost = tx.exec_params(
        "SELECT r.id, r.agent_id, COALESCE(r.heartbeat, r.updated), v.run_config"
        " FROM flow_runs r JOIN flow_versions v ON v.id = r.flow_version_id"
        " WHERE r.state IN ('Pending', 'Running') AND COALESCE(r.heartbeat, r.updated) < $1"
        " ORDER BY r.created, r.seq FOR UPDATE OF r SKIP LOCKED",
        now - timeout.count());
    std::vector<std::string> ids;
    for (const auto& row : lost) {
      const std::string id = text(row[0]);
      const std::string message = util::lost_message(text(row[1]), row[2].as<std::int64_t>(), now);
      const int retries = util::lost_run_retries(parse_json(text(row[3]), "run config"));
      const auto times_lost =
          tx.exec_params1(
                "SELECT COUNT(*) FROM flow_run_states WHERE run_id = $1 AND state = 'Lost'", id)[0]
              .as<int>();
      append_run_history(tx, id, State::Lost, message, now);
      if (times_lost < retries) {
        const std::string again = util::rescheduled_message(times_lost + 1, retries);
        tx.exec_params(
            "UPDATE flow_runs SET state = 'Scheduled', message = $2, updated = $3,"
            " agent_id = '', heartbeat = NULL WHERE id = $1",
            id, again, now);
        append_run_history(tx, id, State::Scheduled, again, now);
      } else {
        tx.exec_params(
            "UPDATE flow_runs SET state = 'Lost', message = $2, updated = $3 WHERE id = $1", id,
            valid_utf8(message), now);
      }
      ids.push_back(id);
    }
    return ids;
  });
}

// ---- task runs ------------------------------------------------------------------------

void PostgresBackend::set_task_run_state(const std::string& run_id, const std::string& task_name,
                                         State state, const std::string& message, int attempts,
                                         const std::string& result_location) {
  transact("set the state of task " + task_name + " of flow run " + run_id, [&](Tx& tx) {
    if (tx.exec_params("SELECT 1 FROM flow_runs WHERE id = $1", run_id).empty()) {
      throw ferry::ValueError("cannot set the state of task " + task_name +
                              ": there is no flow run " + run_id + " in PostgreSQL at " + where_);
    }
    const std::int64_t now = now_ms();
    const auto task_run_id =
        tx.exec_params1(
              "INSERT INTO task_runs (run_id, task_name, state, message, attempts,"
              " result_location, created, updated) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)"
              " ON CONFLICT (run_id, task_name) DO UPDATE SET state = excluded.state,"
              " message = excluded.message, attempts = excluded.attempts,"
              " result_location = excluded.result_location, updated = excluded.updated"
              " RETURNING id",
              run_id, valid_utf8(task_name), to_string(state), valid_utf8(message), attempts,
              valid_utf8(result_location), now)[0]
            .as<std::int64_t>();
    tx.exec_params(
        "INSERT INTO task_run_states (task_run_id, state, message, at) VALUES ($1, $2, $3, $4)",
        task_run_id, to_string(state), valid_utf8(message), now);
  });
}

std::vector<TaskRun> PostgresBackend::get_task_runs(const std::string& run_id) {
  return transact(
      "read the task runs of flow run " + run_id,
      [&](Tx& tx) {
        std::vector<TaskRun> out;
        std::unordered_map<std::int64_t, std::size_t> index;
        for (const auto& row : tx.exec_params(
                 "SELECT id, task_name, state, message, attempts, result_location FROM task_runs"
                 " WHERE run_id = $1 ORDER BY id",
                 run_id)) {
          TaskRun t;
          t.run_id = run_id;
          t.task_name = text(row[1]);
          t.state = parse_state(text(row[2]));
          t.message = text(row[3]);
          t.attempts = row[4].as<int>();
          t.result_location = text(row[5]);
          index.emplace(row[0].as<std::int64_t>(), out.size());
          out.push_back(std::move(t));
        }
        if (out.empty()) return out;
        for (const auto& row :
             tx.exec_params("SELECT s.task_run_id, s.state, s.message, s.at FROM task_run_states s"
                            " JOIN task_runs t ON t.id = s.task_run_id WHERE t.run_id = $1"
                            " ORDER BY s.task_run_id, s.id",
                            run_id)) {
          auto it = index.find(row[0].as<std::int64_t>());
          if (it == index.end()) continue;
          out[it->second].history.push_back(StateChange{parse_state(text(row[1])), text(row[2]),
                                                        from_ms(row[3].as<std::int64_t>())});
        }
        return out;
      },
      /*snapshot=*/true);
}

// ---- logs -----------------------------------------------------------------------------

void PostgresBackend::add_logs(const std::vector<LogLine>& lines) {
  if (lines.empty()) return;
  transact("write " + std::to_string(lines.size()) + " log lines", [&](Tx& tx) {
    // The batch goes as one JSON array: one statement, however many lines.
    const std::int64_t now = now_ms();
    Value batch = Value::array();
    for (const auto& line : lines) {
      // A line without a time is stamped now.
      const std::int64_t at = line.at == Clock::time_point{} ? now : to_ms(line.at);
      batch.push_back(Value{{"run_id", valid_utf8(line.run_id)},
                            {"task_name", valid_utf8(line.task_name)},
                            {"level", valid_utf8(line.level)},
                            {"message", valid_utf8(line.message)},
                            {"at", at}});
    }
    tx.exec("SELECT pg_advisory_xact_lock(" + std::to_string(kLogsLockKey) + ")");
    tx.exec_params(
        "INSERT INTO logs (run_id, task_name, level, message, at)"
        " SELECT e.line->>'run_id', e.line->>'task_name', e.line->>'level', e.line->>'message',"
        " (e.line->>'at')::bigint FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY"
        " AS e(line, n) ORDER BY e.n",
        json_text(batch));
  });
}

std::vector<LogLine> PostgresBackend::get_logs(const std::string& run_id, std::int64_t after_seq,
                                               int limit) {
  return transact("read the logs of flow run " + run_id, [&](Tx& tx) {
    std::vector<LogLine> out;
    for (const auto& row : tx.exec_params("SELECT seq, task_name, level, message, at FROM logs"
                                          " WHERE run_id = $1 AND seq > $2 ORDER BY seq" +
                                              limit_clause(limit),
                                          run_id, after_seq)) {
      LogLine line;
      line.seq = row[0].as<std::int64_t>();
      line.run_id = run_id;
      line.task_name = text(row[1]);
      line.level = text(row[2]);
      line.message = text(row[3]);
      line.at = from_ms(row[4].as<std::int64_t>());
      out.push_back(std::move(line));
    }
    return out;
  });
}

// ---- agents ---------------------------------------------------------------------------

void PostgresBackend::register_agent(const Agent& agent) {
  if (agent.id.empty()) throw ferry::ValueError("cannot register an agent without an id");
  transact("register agent " + agent.id, [&](Tx& tx) {
    const std::int64_t now = now_ms();
    tx.exec_params(
        "INSERT INTO agents (id, name, labels, started, heartbeat) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (id) DO UPDATE SET name = excluded.name, labels = excluded.labels,"
        " started = excluded.started, heartbeat = excluded.heartbeat",
        agent.id, valid_utf8(agent.name), labels_text(agent.labels),
        agent.started == Clock::time_point{} ? now : to_ms(agent.started),
        agent.heartbeat == Clock::time_point{} ? now : to_ms(agent.heartbeat));
  });
}

void PostgresBackend::heartbeat_agent(const std::string& agent_id) {
  transact("record a heartbeat of agent " + agent_id, [&](Tx& tx) {
    tx.exec_params("UPDATE agents SET heartbeat = $2 WHERE id = $1", agent_id, now_ms());
  });
}

std::vector<Agent> PostgresBackend::list_agents() {
  return transact("list agents", [&](Tx& tx) {
    std::vector<Agent> out;
    for (const auto& row : tx.exec("SELECT id, name, labels, started, heartbeat FROM agents"
                                   " ORDER BY name COLLATE \"C\", id COLLATE \"C\"")) {
      Agent a;
      a.id = text(row[0]);
      a.name = text(row[1]);
      a.labels = parse_labels(text(row[2]));
      a.started = from_ms(row[3].as<std::int64_t>());
      a.heartbeat = from_ms(row[4].as<std::int64_t>());
      out.push_back(std::move(a));
    }
    return out;
  });
}

// ---- API keys -------------------------------------------------------------------------

void PostgresBackend::add_api_key(const std::string& name, const std::string& key_hash) {
  if (name.empty()) throw ferry::ValueError("an API key needs a name");
  transact("add API key " + name, [&](Tx& tx) {
    // DO NOTHING rather than an error: a unique violation would abort the transaction
    // before we could say which rule the key broke.
    auto r = tx.exec_params(
        "INSERT INTO api_keys (name, key_hash, created) VALUES ($1, $2, $3)"
        " ON CONFLICT DO NOTHING",
        name, key_hash, now_ms());
    if (r.affected_rows() > 0) return;
    if (!tx.exec_params("SELECT 1 FROM api_keys WHERE name = $1 AND revoked IS NULL", name)
             .empty()) {
      throw ferry::ValueError("an API key named '" + name +
                              "' exists already; revoke it first or choose another name");
    }
    throw ferry::ValueError("cannot add API key " + name +
                            ": a key with the same hash exists in PostgreSQL at " + where_);
  });
}

std::optional<std::string> PostgresBackend::find_api_key(const std::string& key_hash) {
  return transact("look up an API key", [&](Tx& tx) {
    auto rows = tx.exec_params("SELECT name FROM api_keys WHERE key_hash = $1 AND revoked IS NULL",
                               key_hash);
    return rows.empty() ? std::nullopt : std::optional<std::string>(text(rows[0][0]));
  });
}

bool PostgresBackend::revoke_api_key(const std::string& name) {
  return transact("revoke API key " + name, [&](Tx& tx) {
    return tx.exec_params("UPDATE api_keys SET revoked = $2 WHERE name = $1 AND revoked IS NULL",
                          name, now_ms())
               .affected_rows() > 0;
  });
}

std::vector<ApiKey> PostgresBackend::list_api_keys() {
  return transact("list API keys", [&](Tx& tx) {
    std::vector<ApiKey> out;
    for (const auto& row : tx.exec("SELECT name, created, revoked FROM api_keys"
                                   " ORDER BY name COLLATE \"C\", id")) {
      ApiKey key;
      key.name = text(row[0]);
      key.created = from_ms(row[1].as<std::int64_t>());
      if (!row[2].is_null()) key.revoked = from_ms(row[2].as<std::int64_t>());
      out.push_back(std::move(key));
    }
    return out;
  });
}

// ---- secrets --------------------------------------------------------------------------

void PostgresBackend::put_secret(const std::string& name, const std::string& value) {
  if (name.empty()) throw ferry::ValueError("a secret needs a name");
  transact("store secret " + name, [&](Tx& tx) {
    tx.exec_params(
        "INSERT INTO secrets (name, value, updated) VALUES ($1, $2, $3)"
        " ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated = excluded.updated",
        name, value, now_ms());
  });
}

std::optional<std::string> PostgresBackend::get_secret(const std::string& name) {
  return transact("read secret " + name, [&](Tx& tx) {
    auto rows = tx.exec_params("SELECT value FROM secrets WHERE name = $1", name);
    return rows.empty() ? std::nullopt : std::optional<std::string>(text(rows[0][0]));
  });
}

bool PostgresBackend::delete_secret(const std::string& name) {
  return transact("delete secret " + name, [&](Tx& tx) {
    return tx.exec_params("DELETE FROM secrets WHERE name = $1", name).affected_rows() > 0;
  });
}

std::vector<std::string> PostgresBackend::list_secrets() {
  return transact("list secrets", [&](Tx& tx) {
    std::vector<std::string> names;
    for (const auto& row : tx.exec("SELECT name FROM secrets ORDER BY name COLLATE \"C\"")) {
      names.push_back(text(row[0]));
    }
    return names;
  });
}

std::unique_ptr<Backend> open_postgres_backend(const std::string& url) {
  return std::make_unique<PostgresBackend>(url);
}

}  // namespace ferry::backend
