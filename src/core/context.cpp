#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include "core/masking.hpp"
#include "core/run_context.hpp"
#include "ferry/context.hpp"

namespace ferry {

namespace detail {

namespace {
thread_local std::string loading_file;
}

ThreadRun& thread_run() {
  thread_local ThreadRun state;
  return state;
}

LoadingFileScope::LoadingFileScope(std::string path) : previous_(std::move(loading_file)) {
  loading_file = std::move(path);
}

LoadingFileScope::~LoadingFileScope() { loading_file = std::move(previous_); }

long long now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string current_loading_file() { return loading_file; }

}  // namespace detail

const Context& context() {
  static const Context empty;
  const detail::ThreadRun& tr = detail::thread_run();
  return tr.run ? tr.context : empty;
}

std::string flow_file() {
  const detail::ThreadRun& tr = detail::thread_run();
  if (tr.run && !tr.context.flow_file.empty()) return tr.context.flow_file;
  return detail::current_loading_file();
}

const char* to_string(LogLevel level) {
  switch (level) {
    case LogLevel::Debug:
      return "DEBUG";
    case LogLevel::Info:
      return "INFO";
    case LogLevel::Warning:
      return "WARNING";
    case LogLevel::Error:
      return "ERROR";
  }
  return "INFO";
}

std::string format_log_line(const LogRecord& r) {
  std::time_t secs = static_cast<std::time_t>(r.time_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[64];
  std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02d %02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(r.time_ms % 1000));
  std::string line = std::string(stamp) + " " + to_string(r.level);
  if (!r.run_id.empty()) line += " run=" + r.run_id;
  if (!r.flow_name.empty()) {
    line += " " + r.flow_name;
    if (!r.task_name.empty()) line += "/" + r.task_name;
  }
  line += " | " + r.message;
  return line;
}

void Logger::write(LogLevel level, std::string_view message) const {
  const detail::ThreadRun& tr = detail::thread_run();
  LogRecord record{level, {}, {}, {}, std::string(message), detail::now_ms()};
  detail::mask_secrets_in(record.message);  // a no-op (one atomic load) when none is registered
  if (tr.run) {
    record.run_id = tr.context.run_id;
    record.flow_name = tr.context.flow_name;
    record.task_name = tr.context.task_name;
  }
  if (tr.run && tr.sink && *tr.sink) {
    (*tr.sink)(record);
    return;
  }
  static std::mutex stderr_mutex;
  std::lock_guard lock(stderr_mutex);
  std::fprintf(stderr, "%s\n", format_log_line(record).c_str());
}

const Logger& logger() {
  static const Logger instance;
  return instance;
}

}  // namespace ferry
