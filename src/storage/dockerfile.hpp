// The Dockerfile of a Docker storage, written as the reference writes its own (one leading
// blank line, every line left-aligned, ENV values quoted as Python's repr quotes strings), but
// with ferry's steps: flow packages instead of pickles, and `ferry flow check` as the
// in-image health check instead of a Python script.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace ferry::storage {

struct DockerfileSpec {
  std::string base_image;           // FROM this, unless dockerfile_contents is set
  std::string dockerfile_contents;  // the user's Dockerfile, written first
  std::vector<std::pair<std::string, std::string>> env;  // in order
  std::string ferry_directory;
  // Frozen form: context file name -> location in the image, per flow.
  std::vector<std::pair<std::string, std::string>> flow_copies;
  // Context path -> path in the image, per user file.
  std::vector<std::pair<std::string, std::string>> file_copies;
  std::vector<std::string> extra_commands;
  bool healthcheck = true;
  // What the health check loads: package locations (frozen) or the script path.
  std::vector<std::string> check_locations;
  bool script = false;
};

// Python's repr of a str: single quotes unless the text holds ' and no ", then double
// quotes; backslashes, the chosen quote and control characters escaped.
std::string python_repr(const std::string& text);

std::string dockerfile_text(const DockerfileSpec& spec);

}  // namespace ferry::storage
