#include "backend/backend_util.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "core/random.hpp"
#include "ferry/error.hpp"

namespace ferry::backend::util {

std::int64_t to_ms(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

Clock::time_point from_ms(std::int64_t ms) {
  return Clock::time_point(std::chrono::milliseconds(ms));
}

std::int64_t now_ms() { return to_ms(Clock::now()); }

std::string format_time(std::int64_t ms) {
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

std::string new_run_id() { return detail::random_hex(16, "make a flow run id"); }

std::string json_text(const Value& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string labels_text(const std::vector<std::string>& labels) { return json_text(Value(labels)); }

std::vector<std::string> labels_from(const Value& stored) {
  std::vector<std::string> labels;
  if (stored.is_array()) {
    labels.reserve(stored.size());
    for (const auto& item : stored) {
      if (item.is_string()) labels.push_back(item.get<std::string>());
    }
  }
  return labels;
}

namespace {

// The length of the valid UTF-8 sequence at text[i], or 0 if there is none.
std::size_t utf8_sequence_length(const std::string& text, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char c = byte(i);
  if (c < 0x80) return 1;
  std::size_t n = 0;
  unsigned char lo = 0x80, hi = 0xbf;  // allowed range of the second byte
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    if (c == 0xe0) lo = 0xa0;  // no overlong forms
    if (c == 0xed) hi = 0x9f;  // no surrogates
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    if (c == 0xf0) lo = 0x90;
    if (c == 0xf4) hi = 0x8f;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  if (i + n > text.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xbf) return 0;
  }
  return n;
}

}  // namespace

std::string valid_utf8(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    if (text[i] == '\0') {  // PostgreSQL text cannot hold NUL either
      out += "\xef\xbf\xbd";
      ++i;
      continue;
    }
    const std::size_t n = utf8_sequence_length(text, i);
    if (n == 0) {
      out += "\xef\xbf\xbd";
      ++i;
    } else {
      out.append(text, i, n);
      i += n;
    }
  }
  return out;
}

int lost_run_retries(const Value& run_config) {
  if (run_config.is_object()) {
    auto it = run_config.find("lost_run_retries");
    if (it != run_config.end() && it->is_number_integer() && it->get<std::int64_t>() >= 0) {
      return static_cast<int>(std::min<std::int64_t>(it->get<std::int64_t>(), 1000));
    }
  }
  return kDefaultLostRunRetries;
}

std::string lost_message(const std::string& agent_id, std::int64_t last_seen_ms,
                         std::int64_t now_ms) {
  char silent[32];
  std::snprintf(silent, sizeof silent, "%.1f", static_cast<double>(now_ms - last_seen_ms) / 1000.0);
  return "Lost: agent " + (agent_id.empty() ? std::string("(none)") : agent_id) +
         " last heartbeat at " + format_time(last_seen_ms) + "; no heartbeat for " + silent + " s";
}

std::string rescheduled_message(int retry, int retries) {
  return "Rescheduled after being lost (retry " + std::to_string(retry) + " of " +
         std::to_string(retries) + ")";
}

}  // namespace ferry::backend::util
