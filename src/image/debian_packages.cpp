#include "image/debian_packages.hpp"

#include <algorithm>
#include <deque>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "core/process.hpp"
#include "core/text.hpp"
#include "ferry/error.hpp"

namespace ferry::image {

namespace fs = std::filesystem;

namespace {

struct PackageState {
  bool installed = false;
  std::string depends;  // "libc6 (>= 2.34), libgcc-s1 | libgcc1, ..."
};

// dpkg-query per package, remembered: a closure asks about the same package many times.
PackageState query(const std::string& package) {
  static std::map<std::string, PackageState> known;
  if (auto it = known.find(package); it != known.end()) return it->second;
  detail::ProcessResult r = detail::run_process(
      {"dpkg-query", "-W", "-f=${db:Status-Status}\n${Pre-Depends}, ${Depends}\n", package});
  PackageState state;
  if (r.exit_code == 0) {  // else unknown here, or a virtual package
    std::istringstream lines(r.output);
    std::string status;
    std::getline(lines, status);
    state.installed = status == "installed";
    std::getline(lines, state.depends);
  }
  return known[package] = state;
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::istringstream in(text);
  std::string part;
  while (std::getline(in, part, separator)) parts.push_back(part);
  return parts;
}

// "libgcc-s1:amd64 (>= 3.0)" -> "libgcc-s1"
std::string package_name(std::string clause) {
  clause = clause.substr(0, clause.find('('));
  clause = clause.substr(0, clause.find(':'));
  return detail::trim(clause);
}

bool is_documentation(const std::string& path) {
  for (const char* prefix : {"/usr/share/doc/", "/usr/share/man/", "/usr/share/info/",
                             "/usr/share/locale/", "/usr/share/lintian/", "/usr/share/bug/"}) {
    if (path.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

}  // namespace

std::vector<std::string> installed_dependency_closure(const std::vector<std::string>& packages) {
  std::set<std::string> seen;
  std::deque<std::string> queue;
  for (const std::string& p : packages) {
    PackageState state = query(p);
    if (!state.installed) {
      throw Error("The Debian package '" + p + "' is not installed on this machine, so its files " +
                  "cannot go into the image: apt-get install -y " + p);
    }
    queue.push_back(p);
  }
  while (!queue.empty()) {
    std::string name = queue.front();
    queue.pop_front();
    if (!seen.insert(name).second) continue;
    PackageState state = query(name);
    for (const std::string& clause : split(state.depends, ',')) {
      // Of "a | b" the first alternative installed here.
      for (const std::string& alternative : split(clause, '|')) {
        std::string dep = package_name(alternative);
        if (dep.empty()) continue;
        if (seen.count(dep) || query(dep).installed) {
          queue.push_back(dep);
          break;
        }
      }
    }
  }
  return {seen.begin(), seen.end()};
}

std::vector<std::string> package_files(const std::string& package) {
  detail::ProcessResult r = detail::run_process({"dpkg-query", "-L", package});
  if (r.exit_code != 0) {
    throw Error("`dpkg-query -L " + package + "` failed (exit code " + std::to_string(r.exit_code) +
                "): " + detail::trim(r.output));
  }
  std::vector<std::string> files;
  std::istringstream lines(r.output);
  std::string path;
  while (std::getline(lines, path)) {
    if (path.empty() || path.front() != '/' || is_documentation(path)) continue;
    std::error_code ec;
    fs::file_status st = fs::symlink_status(path, ec);
    if (ec) continue;  // listed but removed since (e.g. by a local admin)
    if (fs::is_regular_file(st)) {
      files.push_back(path);
    } else if (fs::is_symlink(st) && !fs::is_directory(path, ec)) {
      files.push_back(path);
    }
  }
  return files;
}

}  // namespace ferry::image
