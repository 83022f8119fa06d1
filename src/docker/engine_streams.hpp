// Parsers for the Docker engine's streamed answers: JSON-lines progress output (build,
// push, pull, import) and multiplexed container logs. Kept apart from the client so they can
// be tested on canned bytes.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace ferry::docker {

// One line of the engine's JSON-lines output as the reference prints it: for an object, the
// first non-empty of "stream", "message" and "errorDetail.message", without leading and
// trailing newlines; nothing for anything else (other keys, non-objects, non-JSON, empty).
std::optional<std::string> build_output_line(std::string_view json_line);

// Splits a byte stream into lines across chunk boundaries (a JSON line can be split between
// two reads); a final unterminated line is handed over by finish().
class LineSplitter {
 public:
  explicit LineSplitter(std::function<void(std::string_view)> on_line)
      : on_line_(std::move(on_line)) {}
  void feed(std::string_view chunk);
  void finish();

 private:
  std::function<void(std::string_view)> on_line_;
  std::string pending_;
};

// Splits the engine's multiplexed log stream (frames of an 8-byte header: stream type, three
// zero bytes, big-endian uint32 payload size) into lines per stream; chunks may split frames
// and lines anywhere. With raw = true (a TTY container) all bytes are stdout.
class LogDemuxer {
 public:
  using OnLine = std::function<void(int stream, std::string_view line)>;
  LogDemuxer(OnLine on_line, bool raw) : on_line_(std::move(on_line)), raw_(raw) {}
  void feed(std::string_view chunk);
  void finish();

 private:
  void payload(int stream, std::string_view bytes);
  OnLine on_line_;
  bool raw_;
  std::string header_;         // a partial frame header
  std::size_t remaining_ = 0;  // payload bytes left in the current frame
  int stream_ = 1;             // the current frame's stream
  std::string partial_[3];     // an unterminated line per stream (index 1, 2)
};

}  // namespace ferry::docker
