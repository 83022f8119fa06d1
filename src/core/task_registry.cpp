#include "core/task_registry.hpp"

#include <mutex>

#include "ferry/error.hpp"

namespace ferry {

const char* to_string(Trigger trigger) {
  switch (trigger) {
    case Trigger::all_successful:
      return "all_successful";
    case Trigger::all_finished:
      return "all_finished";
    case Trigger::any_failed:
      return "any_failed";
    case Trigger::any_successful:
      return "any_successful";
  }
  return "all_successful";
}

namespace detail {

namespace {
TaskTable& program_table() {
  static TaskTable table;
  return table;
}
TaskTable* capture = nullptr;
std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}
}  // namespace

TableCapture::TableCapture(TaskTable* table) {
  std::lock_guard lock(registry_mutex());
  capture = table;
}

TableCapture::~TableCapture() {
  std::lock_guard lock(registry_mutex());
  capture = nullptr;
}

const TaskTable& program_tasks() { return program_table(); }

bool register_task(const char* key, TaskFn fn) {
  std::lock_guard lock(registry_mutex());
  (capture ? *capture : program_table())[key] = fn;
  return true;
}

std::string name_from_signature(const char* pretty) {
  // GCC and clang: "... task_default_name() [with auto F = greet; ...]" or "[F = &greet]".
  std::string s(pretty);
  std::size_t at = s.find("F = ");
  if (at == std::string::npos) return "task";
  std::string name = s.substr(at + 4);
  std::size_t end = name.find_first_of(";]");
  if (end != std::string::npos) name.resize(end);
  if (!name.empty() && name[0] == '&') name.erase(0, 1);
  if (name.find("<lambda") != std::string::npos || name.find("__lambda") != std::string::npos) {
    return "lambda";
  }
  std::size_t paren = name.find('(');
  if (paren != std::string::npos) name.resize(paren);
  std::size_t colon = name.rfind("::");
  if (colon != std::string::npos) name.erase(0, colon + 2);
  return name.empty() ? "task" : name;
}

void throw_argument_error(std::size_t position, const char* what) {
  throw ValueError("Argument " + std::to_string(position) +
                   " does not decode to the task's parameter type: " + what);
}

}  // namespace detail
}  // namespace ferry
