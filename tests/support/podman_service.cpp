#include "support/podman_service.hpp"

#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/tar_writer.hpp"
#include "net/http_client.hpp"

namespace ferry::test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// A program on PATH (or in the sbin folders a non-login root shell may lack), or "".
std::string find_program(const std::string& name) {
  std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
  path += ":/usr/sbin:/usr/bin:/sbin:/bin";
  std::stringstream dirs(path);
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (dir.empty()) continue;
    fs::path candidate = fs::path(dir) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return "";
}

// The engine configuration the tests need (see the header): podman reads it instead of
// /etc/containers/containers.conf when CONTAINERS_CONF points at it.
std::string containers_conf(const std::string& runtime) {
  return "[containers]\n"
         "default_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n"
         "netns = \"host\"\n"
         "\n"
         "[engine]\n"
         "runtime = \"" +
         runtime +
         "\"\n"
         "cgroup_manager = \"cgroupfs\"\n"
         "events_logger = \"file\"\n";
}

// The test registries serve plain HTTP on loopback: the engine must be told, as a Docker
// daemon is with --insecure-registry. ("127.0.0.1" also matches "127.0.0.1:PORT" here.)
std::string registries_conf() {
  return "unqualified-search-registries = []\n"
         "\n"
         "[[registry]]\n"
         "location = \"127.0.0.1\"\n"
         "insecure = true\n"
         "\n"
         "[[registry]]\n"
         "location = \"localhost\"\n"
         "insecure = true\n";
}

std::string read_binary(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

bool PodmanService::available() {
  return ::geteuid() == 0 && !find_program("podman").empty() && !find_program("runc").empty();
}

PodmanService& PodmanService::shared() {
  // Started once per test run; a failed start is remembered so that every test reports it
  // without trying (and waiting) again.
  static std::string failure;
  static std::unique_ptr<PodmanService> instance = [] {
    try {
      const auto begin = std::chrono::steady_clock::now();
      auto service = std::unique_ptr<PodmanService>(new PodmanService());
      std::cerr << "[podman] service started in "
                << std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now() - begin)
                       .count()
                << " ms\n";
      return service;
    } catch (const std::exception& e) {
      failure = e.what();
      return std::unique_ptr<PodmanService>();
    }
  }();
  if (!instance) throw std::runtime_error(failure);
  return *instance;
}

PodmanService::PodmanService() {
  if (!available()) {
    throw std::runtime_error(
        "podman and runc are needed, as root, for the Docker engine tests (apt-get install podman "
        "runc)");
  }
  fs::create_directories(dir_ / "root");
  fs::create_directories(dir_ / "runroot");
  fs::create_directories(dir_ / "tmp");
  write_text(dir_ / "containers.conf", containers_conf("runc"));
  write_text(dir_ / "registries.conf", registries_conf());
  // Its own process group, so that stop() ends the service and any helper it started.
  // --tmpdir keeps its lock and pause files away from other podman instances on the machine.
  pid_ = spawn_process(
      {find_program("podman"), "--root", root_dir(), "--runroot", (dir_ / "runroot").string(),
       "--tmpdir", (dir_ / "tmp").string(), "system", "service", "--time=0", base_url()},
      {"CONTAINERS_CONF=" + (dir_ / "containers.conf").string(),
       "CONTAINERS_REGISTRIES_CONF=" + (dir_ / "registries.conf").string()},
      dir_ / "service.out", dir_ / "service.err", /*own_group=*/true);
  try {
    wait_until_ready();
  } catch (...) {
    stop();
    throw;
  }
}

PodmanService::~PodmanService() { stop(); }

void PodmanService::wait_until_ready() {
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  std::string last_error = "no answer yet";
  for (;;) {
    if (std::optional<int> code = wait_for_exit(pid_, 0ms)) {
      pid_ = -1;
      throw std::runtime_error("podman system service exited at start (code " +
                               std::to_string(*code) + "):\n" + log());
    }
    if (fs::exists(socket_path())) {
      net::Request ping;
      ping.url = "http://localhost/_ping";
      ping.unix_socket = socket_path();
      ping.max_retries = 0;
      ping.timeout_seconds = 5;
      try {
        net::Response r = net::send(ping);
        if (r.status == 200) return;
        last_error = "HTTP " + std::to_string(r.status) + ": " + r.body;
      } catch (const std::exception& e) {
        last_error = e.what();
      }
    }
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("podman system service did not answer /_ping within 60 s (" +
                               last_error + "):\n" + log());
    }
    std::this_thread::sleep_for(50ms);
  }
}

void PodmanService::stop() noexcept {
  if (pid_ <= 0) return;
  // Containers a failed test left behind: their conmon monitors are not in the service's
  // process group (they detach), so remove them through the API while it still answers.
  try {
    net::Request list;
    list.url = "http://localhost/containers/json?all=1";
    list.unix_socket = socket_path();
    list.max_retries = 0;
    list.timeout_seconds = 10;
    nlohmann::json containers = nlohmann::json::parse(net::send(list).body, nullptr, false);
    if (containers.is_array()) {
      for (const auto& c : containers) {
        net::Request remove = list;
        remove.method = "DELETE";
        remove.url = "http://localhost/containers/" + c.value("Id", "") + "?force=1&v=1";
        net::send(remove);
      }
    }
  } catch (...) {
  }
  ::kill(-pid_, SIGTERM);
  std::optional<int> code;
  try {
    code = wait_for_exit(pid_, 10s);
  } catch (...) {
  }
  ::kill(-pid_, SIGKILL);  // the group's stragglers, if any
  if (!code) kill_and_reap(pid_);
  pid_ = -1;
  // Layers and shm mounts podman may have left under the folder: detach them so that the
  // folder can be removed (deepest first).
  std::vector<std::string> mounts;
  std::ifstream table("/proc/self/mounts");
  for (std::string device, target, rest; table >> device >> target && std::getline(table, rest);) {
    if (target.rfind(dir_.path().string() + "/", 0) == 0) mounts.push_back(target);
  }
  std::sort(mounts.rbegin(), mounts.rend());
  for (const std::string& target : mounts) ::umount2(target.c_str(), MNT_DETACH);
}

std::string PodmanService::base_url() const { return "unix://" + socket_path(); }

std::string PodmanService::socket_path() const { return (dir_ / "podman.sock").string(); }

std::string PodmanService::root_dir() const { return (dir_ / "root").string(); }

std::string PodmanService::log() const {
  return read_text(dir_ / "service.out") + read_text(dir_ / "service.err");
}

std::string minimal_rootfs_tar() {
  const std::vector<std::pair<std::string, std::string>> programs = {
      {"bin/sh", find_program("dash")},
      {"bin/dash", find_program("dash")},
      {"bin/cat", find_program("cat")},
      {"bin/echo", find_program("echo")},
  };
  std::vector<std::string> ldd = {"ldd"};
  for (const auto& [_, source] : programs) {
    if (source.empty()) throw std::runtime_error("dash, cat or echo is not installed");
    ldd.push_back(source);
  }
  CommandResult r = run_command(ldd);
  if (r.exit_code != 0) throw std::runtime_error("ldd failed: " + r.err);
  // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x..)" and "/lib64/ld-linux-x86-64.so.2
  // (0x..)": every absolute path is a library (or the loader) to copy at that same path.
  std::set<std::string> libraries;
  static const std::regex library(R"((?:=>\s+)?(/\S+)\s+\(0x)");
  std::stringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    if (std::smatch m; std::regex_search(line, m, library)) libraries.insert(m[1]);
  }
  if (libraries.empty()) throw std::runtime_error("ldd named no libraries:\n" + r.out);

  std::map<std::string, std::string> files;  // archive path -> source
  for (const auto& [path, source] : programs) files[path] = source;
  for (const std::string& lib : libraries) files[lib.substr(1)] = lib;
  std::set<std::string> dirs = {"etc", "tmp", "proc", "sys", "dev", "root"};
  for (const auto& [path, _] : files) {
    for (fs::path p = fs::path(path).parent_path(); !p.empty(); p = p.parent_path()) {
      dirs.insert(p.string());
    }
  }
  detail::TarWriter tar;
  for (const std::string& dir : dirs) tar.add_directory(dir, dir == "tmp" ? 01777 : 0755);
  // Contents read through symlinks (libc.so.6 is one): the image gets plain files.
  for (const auto& [path, source] : files) tar.add_file(path, read_binary(source), 0755);
  return tar.finish();
}

}  // namespace ferry::test
