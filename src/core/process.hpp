// Runs a program (no shell) and collects its combined output.
#pragma once

#include <string>
#include <vector>

namespace ferry::detail {

struct ProcessResult {
  int exit_code = -1;  // 128 + signal when killed by one
  std::string output;  // stdout and stderr
};

// Throws Error when the program cannot be started at all.
ProcessResult run_process(const std::vector<std::string>& argv);

}  // namespace ferry::detail
