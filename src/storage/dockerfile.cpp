#include "storage/dockerfile.hpp"

#include <cstdio>

namespace ferry::storage {

std::string python_repr(const std::string& text) {
  bool has_single = text.find('\'') != std::string::npos;
  bool has_double = text.find('"') != std::string::npos;
  char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (c == '\\' || c == quote) {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  out += quote;
  return out;
}

namespace {

// A shell word in single quotes (paths in the health check's RUN line).
std::string shell_quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

}  // namespace

std::string dockerfile_text(const DockerfileSpec& spec) {
  std::string out = "\n";
  out += spec.dockerfile_contents.empty() ? "FROM " + spec.base_image : spec.dockerfile_contents;
  if (!out.empty() && out.back() != '\n') out += '\n';

  if (!spec.env.empty()) {
    out += "ENV ";
    for (std::size_t i = 0; i < spec.env.size(); ++i) {
      if (i > 0) out += " \\\n    ";
      out += spec.env[i].first + "=" + python_repr(spec.env[i].second);
    }
    out += '\n';
  }
  out += "\nRUN mkdir -p " + spec.ferry_directory + "/\n";
  for (const auto& [source, location] : spec.flow_copies) {
    out += "COPY " + source + " " + location + "\n";
  }
  out += '\n';
  for (const auto& [source, destination] : spec.file_copies) {
    out += "COPY " + source + " " + destination + "\n";
  }
  out += '\n';
  for (std::size_t i = 0; i < spec.extra_commands.size(); ++i) {
    out += spec.extra_commands[i] + (i + 1 < spec.extra_commands.size() ? "\n" : "");
  }
  out += '\n';
  if (spec.healthcheck) {
    out += "RUN ferry flow check";
    if (spec.script) out += " --script";
    for (const std::string& location : spec.check_locations) out += " " + shell_quote(location);
    out += '\n';
  }
  return out;
}

}  // namespace ferry::storage
