#include "support/ceph_rgw.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <thread>

#include "support/git_servers.hpp"

namespace ferry::test {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kTools[] = {"/usr/bin/ceph-mon", "/usr/bin/ceph-osd",
                                  "/usr/bin/radosgw",  "/usr/bin/radosgw-admin",
                                  "/usr/bin/ceph",     "/usr/bin/monmaptool"};

std::string random_text(std::size_t length, const std::string& alphabet) {
  std::random_device device;
  std::mt19937_64 engine(device());
  std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
  std::string out;
  for (std::size_t i = 0; i < length; ++i) out += alphabet[pick(engine)];
  return out;
}

std::string random_uuid() {
  std::string hex = random_text(32, "0123456789abcdef");
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-4" + hex.substr(13, 3) + "-a" +
         hex.substr(17, 3) + "-" + hex.substr(20, 12);
}

// One command to a daemon's admin socket (what `ceph daemon` does, without the Python
// CLI): the JSON command and a NUL, answered by a 4-byte big-endian length and the text.
// "" when the socket is not there yet or the daemon does not answer.
std::string admin_socket_command(const fs::path& socket_path, const std::string& command) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return {};
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socket_path.c_str());
  std::string answer;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::write(fd, command.c_str(), command.size() + 1) == ssize_t(command.size() + 1)) {
    char buffer[4096];
    for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;) answer.append(buffer, n);
  }
  ::close(fd);
  return answer.size() > 4 ? answer.substr(4) : std::string();
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string tail(const fs::path& file, std::size_t bytes = 4000) {
  std::error_code ec;
  if (!fs::exists(file, ec)) return {};
  std::string text = read_text(file);
  return text.size() > bytes ? "..." + text.substr(text.size() - bytes) : text;
}

// SIGTERM, a short grace period, then SIGKILL; always reaps.
void stop_process(pid_t pid) noexcept {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  std::optional<int> code;
  try {
    code = wait_for_exit(pid, std::chrono::seconds(3));
  } catch (...) {
  }
  if (!code) kill_and_reap(pid);
}

}  // namespace

bool CephRgw::available() {
  for (const char* tool : kTools) {
    if (::access(tool, X_OK) != 0) return false;
  }
  return true;
}

CephRgw& CephRgw::shared() {
  // Started once per test run; a failed start is remembered so that every test reports it
  // without trying (and waiting) again.
  static std::string failure;
  static std::unique_ptr<CephRgw> instance = [] {
    try {
      return std::unique_ptr<CephRgw>(new CephRgw());
    } catch (const std::exception& e) {
      failure = e.what();
      return std::unique_ptr<CephRgw>();
    }
  }();
  if (!instance) throw std::runtime_error(failure);
  return *instance;
}

CephRgw::CephRgw() {
  fsid_ = random_uuid();
  access_key_ = "FERRY" + random_text(15, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567");
  secret_key_ = random_text(40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
  try {
    start();
  } catch (...) {
    std::string logs_text = logs();
    stop();
    try {
      throw;
    } catch (const std::exception& e) {
      throw std::runtime_error(std::string("Ceph RGW did not start: ") + e.what() + "\n" +
                               logs_text);
    }
  }
}

CephRgw::~CephRgw() { stop(); }

std::string CephRgw::endpoint() const { return "http://127.0.0.1:" + std::to_string(rgw_port_); }

std::string CephRgw::config() const {
  std::string d = dir_.path().string();
  std::string mon = "v2:127.0.0.1:" + std::to_string(mon_port_);
  return "[global]\n"
         "fsid = " +
         fsid_ +
         "\n"
         "mon host = " +
         mon +
         "\n"
         "public addr = 127.0.0.1\n"
         "ms bind ipv6 = false\n"
         // A test cluster on loopback: no cephx keys to create and hand around.
         "auth cluster required = none\n"
         "auth service required = none\n"
         "auth client required = none\n"
         "mon data = " +
         d +
         "/mon/$name\n"
         "osd data = " +
         d +
         "/osd/$name\n"
         "run dir = " +
         d +
         "/run\n"
         "admin socket = " +
         d +
         "/run/$name.asok\n"
         "log file = " +
         d +
         "/log/$name.log\n"
         "keyring = " +
         d +
         "/keyring\n"
         "osd objectstore = memstore\n"
         "memstore device bytes = 1073741824\n"
         "osd pool default size = 1\n"
         "osd pool default min size = 1\n"
         // Few placement groups: each pool radosgw creates is peered before it answers.
         "osd pool default pg num = 8\n"
         "osd pool default pgp num = 8\n"
         "osd pool default pg autoscale mode = off\n"
         "mon allow pool size one = true\n"
         "mon warn on pool no redundancy = false\n"
         "mon data avail warn = 1\n"
         "mon data avail crit = 0\n"
         "osd crush chooseleaf type = 0\n"
         // Paxos batches proposals for a second by default: each of the ~10 map changes of
         // a start-up would wait for it (~15 s in all instead of ~2 s).
         "paxos propose interval = 0.05\n"
         "paxos min wait = 0.01\n"
         "osd op num shards = 1\n"
         "osd op num threads per shard = 2\n"
         "[client]\n"
         // Without this radosgw hangs in its first mon session (pacific with auth none).
         "ms mon client mode = crc secure\n"
         "rgw frontends = beast endpoint=127.0.0.1:" +
         std::to_string(rgw_port_) +
         "\n"
         "rgw data = " +
         d +
         "/rgw\n"
         "rgw enable usage log = false\n"
         "rgw dynamic resharding = false\n"
         "rgw enable lc threads = false\n"
         "rgw thread pool size = 16\n";
}

pid_t CephRgw::spawn_daemon(const std::string& name, const std::vector<std::string>& argv) {
  return spawn_process(argv, {"CEPH_CONF=" + (dir_.path() / "ceph.conf").string()},
                       dir_.path() / "log" / (name + ".out"),
                       dir_.path() / "log" / (name + ".err"));
}

void CephRgw::run_tool(const std::string& what, const std::vector<std::string>& argv) {
  Clock::time_point t0 = Clock::now();
  CommandResult r = run_command(argv, {"CEPH_CONF=" + (dir_.path() / "ceph.conf").string()},
                                std::chrono::seconds(60));
  char took[64];
  std::snprintf(took, sizeof took, " %.2f s, ", seconds_since(t0));
  steps_ += what + took;
  if (r.exit_code != 0)
    throw std::runtime_error(what + " failed (exit " + std::to_string(r.exit_code) + "): " + r.out +
                             r.err);
}

void CephRgw::wait_for_osd() {
  Clock::time_point t0 = Clock::now();
  Clock::time_point deadline = t0 + std::chrono::seconds(60);
  const fs::path socket_path = dir_.path() / "run" / "osd.0.asok";
  while (admin_socket_command(socket_path, R"({"prefix": "status"})").find("\"active\"") ==
         std::string::npos) {
    if (Clock::now() > deadline) throw std::runtime_error("the OSD was not active within 60 s");
    if (wait_for_exit(osd_pid_, std::chrono::milliseconds(0))) {
      osd_pid_ = -1;  // reaped: never signal this PID again
      throw std::runtime_error("ceph-osd exited");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  char took[64];
  std::snprintf(took, sizeof took, " %.2f s, ", seconds_since(t0));
  steps_ += std::string("osd active") + took;
}

void CephRgw::wait_for_rgw() {
  Clock::time_point t0 = Clock::now();
  Clock::time_point deadline = t0 + std::chrono::seconds(60);
  while (!port_accepts(rgw_port_)) {
    if (Clock::now() > deadline) throw std::runtime_error("radosgw did not listen within 60 s");
    if (wait_for_exit(rgw_pid_, std::chrono::milliseconds(0))) {
      rgw_pid_ = -1;  // reaped: never signal this PID again
      throw std::runtime_error("radosgw exited");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  char took[64];
  std::snprintf(took, sizeof took, " %.2f s, ", seconds_since(t0));
  steps_ += std::string("radosgw listening") + took;
}

void CephRgw::start() {
  Clock::time_point t0 = Clock::now();
  const fs::path d = dir_.path();
  for (const char* sub : {"mon", "osd/osd.0", "run", "log", "rgw"}) fs::create_directories(d / sub);
  mon_port_ = free_port();
  rgw_port_ = free_port();
  while (rgw_port_ == mon_port_) rgw_port_ = free_port();
  const std::string conf = (d / "ceph.conf").string();
  write_text(conf, config());
  write_text(d / "keyring", "");

  run_tool("monmap", {"monmaptool", "-c", conf, "--create", "--addv", "a",
                      "[v2:127.0.0.1:" + std::to_string(mon_port_) + "]", "--fsid", fsid_,
                      (d / "monmap").string()});
  // The mon starts with an osdmap that already has osd.0 (down, out, no uuid; it is
  // marked in when it first boots): no `ceph osd new`, whose Python CLI and round trip to
  // the mon cost ~1 s.
  run_tool("osdmap", {"osdmaptool", (d / "osdmap").string(), "--createsimple", "1", "--clobber"});
  run_tool("mon mkfs", {"ceph-mon", "-c", conf, "--mkfs", "-i", "a", "--monmap",
                        (d / "monmap").string(), "--osdmap", (d / "osdmap").string()});
  mon_pid_ = spawn_daemon("mon", {"ceph-mon", "-c", conf, "-i", "a", "-f"});

  // While the mon boots: the OSD's store, made without asking the mon for its config
  // database (empty here) so it need not wait for it.
  run_tool("osd mkfs", {"ceph-osd", "-c", conf, "-i", "0", "--mkfs", "--osd-uuid", random_uuid(),
                        "--no-mon-config"});
  osd_pid_ = spawn_daemon("osd", {"ceph-osd", "-c", conf, "-i", "0", "-f"});

  // radosgw creates its pools, then listens. Started before the OSD is up, it sends its
  // first read to a placement group no OSD serves yet and only resends it ~5 s later (the
  // objecter's tick): about one start in two then took 7 s instead of 2.5 s.
  wait_for_osd();
  rgw_pid_ = spawn_daemon("rgw", {"radosgw", "-c", conf, "-n", "client.rgw.a", "-f"});
  wait_for_rgw();
  run_tool("user create",
           {"radosgw-admin", "-c", conf, "user", "create", "--uid", "ferry-tests", "--display-name",
            "ferry tests", "--access-key", access_key_, "--secret-key", secret_key_});
  start_seconds_ = seconds_since(t0);
  char total[64];
  std::snprintf(total, sizeof total, "total %.2f s", start_seconds_);
  steps_ += total;
}

void CephRgw::stop() noexcept {
  // The gateway first (it holds sessions to both), then the OSD, then the mon.
  for (pid_t* pid : {&rgw_pid_, &osd_pid_, &mon_pid_}) {
    stop_process(*pid);
    *pid = -1;
  }
}

std::string CephRgw::logs() const {
  std::string out;
  const fs::path d = dir_.path() / "log";
  for (const char* name :
       {"mon.err", "osd.err", "rgw.err", "mon.a.log", "osd.0.log", "client.rgw.a.log"}) {
    std::string text = tail(d / name);
    if (!text.empty()) out += "--- " + std::string(name) + "\n" + text + "\n";
  }
  return out;
}

}  // namespace ferry::test
