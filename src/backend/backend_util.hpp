// Pure helpers shared by the Backend implementations (SQLite, PostgreSQL), so that both
// store the same text and word their messages the same way.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backend/backend.hpp"

namespace ferry::backend::util {

// The SELECT (with joins, ending before WHERE) that both databases read a flow version and a
// flow run with: the backends' read_version/read_run take the columns in this order.
inline const std::string kVersionSelect =
    "SELECT v.id, p.name, f.name, v.version, v.graph, v.run_config, v.labels, v.storage,"
    " v.result, v.idempotency_key, v.created"
    " FROM flow_versions v JOIN flows f ON f.id = v.flow_id"
    " JOIN projects p ON p.id = f.project_id ";
inline const std::string kRunSelect =
    "SELECT r.id, r.flow_version_id, p.name, f.name, v.version, r.parameters, r.labels,"
    " r.state, r.message, r.agent_id, r.result, r.pinned, r.created, r.updated, r.heartbeat"
    " FROM flow_runs r JOIN flow_versions v ON v.id = r.flow_version_id"
    " JOIN flows f ON f.id = v.flow_id JOIN projects p ON p.id = f.project_id ";

// Timestamps are stored as integer milliseconds since the Unix epoch.
std::int64_t to_ms(Clock::time_point t);
Clock::time_point from_ms(std::int64_t ms);
std::int64_t now_ms();

// 2024-05-01T12:00:00.123Z
std::string format_time(std::int64_t ms);

// 32 random hex digits from the kernel: safe across fork(), unlike a seeded generator.
std::string new_run_id();

// JSON text of a value; invalid UTF-8 in strings is replaced rather than thrown on.
std::string json_text(const Value& value);
std::string labels_text(const std::vector<std::string>& labels);

// The strings of a stored labels array (anything else in it is ignored).
std::vector<std::string> labels_from(const Value& stored);

// `text` with every invalid UTF-8 sequence replaced by U+FFFD: databases that check
// encodings (PostgreSQL) refuse such text, and log lines carry whatever a process printed.
std::string valid_utf8(const std::string& text);

// How many times a lost run of a flow version with this run config is rescheduled: its
// "lost_run_retries" when that is an integer >= 0, else kDefaultLostRunRetries.
int lost_run_retries(const Value& run_config);

// The history message of a run found lost: which agent last reported, when, and how long
// it has been silent. "Lost: agent A last heartbeat at <time>; no heartbeat for 12.3 s"
std::string lost_message(const std::string& agent_id, std::int64_t last_seen_ms,
                         std::int64_t now_ms);

// "Rescheduled after being lost (retry K of N)"
std::string rescheduled_message(int retry, int retries);

}  // namespace ferry::backend::util
