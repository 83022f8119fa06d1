#include "docker/engine_streams.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace ferry::docker {

namespace {

// A string member of `object`, or "" (missing, or not a string).
std::string string_member(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string_view strip_newlines(std::string_view text) {
  while (!text.empty() && (text.front() == '\n' || text.front() == '\r')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  return text;
}

}  // namespace

std::optional<std::string> build_output_line(std::string_view json_line) {
  nlohmann::json parsed = nlohmann::json::parse(json_line, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object()) return std::nullopt;  // also what a parse error gives
  std::string text = string_member(parsed, "stream");
  if (text.empty()) text = string_member(parsed, "message");
  if (text.empty()) {
    auto detail = parsed.find("errorDetail");
    if (detail != parsed.end() && detail->is_object()) text = string_member(*detail, "message");
  }
  std::string_view stripped = strip_newlines(text);
  if (stripped.empty()) return std::nullopt;
  return std::string(stripped);
}

void LineSplitter::feed(std::string_view chunk) {
  for (std::size_t newline; (newline = chunk.find('\n')) != std::string_view::npos;) {
    if (pending_.empty()) {
      on_line_(chunk.substr(0, newline));
    } else {
      pending_.append(chunk.substr(0, newline));
      std::string line = std::move(pending_);
      pending_.clear();
      on_line_(line);
    }
    chunk.remove_prefix(newline + 1);
  }
  pending_.append(chunk);
}

void LineSplitter::finish() {
  if (pending_.empty()) return;
  std::string line = std::move(pending_);
  pending_.clear();
  on_line_(line);
}

void LogDemuxer::feed(std::string_view chunk) {
  if (raw_) {
    payload(1, chunk);
    return;
  }
  while (!chunk.empty()) {
    if (remaining_ == 0) {
      std::size_t take = std::min(chunk.size(), 8 - header_.size());
      header_.append(chunk.substr(0, take));
      chunk.remove_prefix(take);
      if (header_.size() < 8) return;
      auto byte = [&](int i) {
        return static_cast<std::size_t>(static_cast<unsigned char>(header_[i]));
      };
      // 0 is stdin (echoed back when attached), 1 stdout, 2 stderr, 3 the engine's own
      // errors: report stdin with stdout, and errors with stderr.
      stream_ = byte(0) >= 2 ? 2 : 1;
      remaining_ = byte(4) << 24 | byte(5) << 16 | byte(6) << 8 | byte(7);
      header_.clear();
      continue;
    }
    std::size_t take = std::min(chunk.size(), remaining_);
    payload(stream_, chunk.substr(0, take));
    remaining_ -= take;
    chunk.remove_prefix(take);
  }
}

void LogDemuxer::payload(int stream, std::string_view bytes) {
  std::string& partial = partial_[stream];
  for (std::size_t newline; (newline = bytes.find('\n')) != std::string_view::npos;) {
    partial.append(bytes.substr(0, newline));
    // A TTY ends lines with "\r\n".
    if (raw_ && !partial.empty() && partial.back() == '\r') partial.pop_back();
    std::string line = std::move(partial);
    partial.clear();
    on_line_(stream, line);
    bytes.remove_prefix(newline + 1);
  }
  partial.append(bytes);
}

void LogDemuxer::finish() {
  for (int stream : {1, 2}) {
    if (partial_[stream].empty()) continue;
    std::string line = std::move(partial_[stream]);
    partial_[stream].clear();
    on_line_(stream, line);
  }
}

}  // namespace ferry::docker
