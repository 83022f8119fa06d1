// What a running task can see of its run: ferry::context(), ferry::flow_file() and the
// run logger.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "ferry/codec.hpp"

namespace ferry {

struct Context {
  std::string run_id;
  std::string flow_name;
  std::string task_name;  // empty outside a task
  int attempt = 0;        // 1 on the first try of a task
  Value parameters = Value::object();
  std::map<std::string, std::string> secrets;
  std::string flow_file;  // path of the flow source for script flows, else empty
};

// The context of the task running on this thread (an empty Context outside a run).
const Context& context();

// Path of the flow source being loaded or run (the reference's __file__): set while a
// script flow's FERRY_FLOWS block runs and while its tasks run; empty for frozen flows.
std::string flow_file();

enum class LogLevel { Debug, Info, Warning, Error };
const char* to_string(LogLevel level);

// One line of a run's log.
struct LogRecord {
  LogLevel level;
  std::string run_id;
  std::string flow_name;
  std::string task_name;
  std::string message;
  long long time_ms;  // milliseconds since the Unix epoch
};

// The logger tasks write to; its lines go to the current run's log (tagged with the run,
// flow and task), or to stderr outside a run.
class Logger {
 public:
  void debug(std::string_view message) const { write(LogLevel::Debug, message); }
  void info(std::string_view message) const { write(LogLevel::Info, message); }
  void warning(std::string_view message) const { write(LogLevel::Warning, message); }
  void error(std::string_view message) const { write(LogLevel::Error, message); }
  void write(LogLevel level, std::string_view message) const;
};

const Logger& logger();

// Formats a record as one line: time, level, flow run, flow/task, message.
std::string format_log_line(const LogRecord& record);

}  // namespace ferry
