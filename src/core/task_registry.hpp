// Task tables: which callable each task key names, per flow module.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "ferry/task.hpp"

namespace ferry::detail {

using TaskTable = std::map<std::string, TaskFn, std::less<>>;

// While a module loads, its static initializers register into `table`. Only one module
// loads at a time in a process (the loader holds a lock around dlopen).
class TableCapture {
 public:
  explicit TableCapture(TaskTable* table);
  ~TableCapture();
  TableCapture(const TableCapture&) = delete;
  TableCapture& operator=(const TableCapture&) = delete;
};

// The table of tasks defined in the program itself (not in a loaded module).
const TaskTable& program_tasks();

}  // namespace ferry::detail
