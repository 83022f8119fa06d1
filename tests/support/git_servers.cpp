#include "support/git_servers.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <thread>

namespace ferry::test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::string user_name() {
  passwd* pw = ::getpwuid(::geteuid());
  return pw ? pw->pw_name : "root";
}

const std::vector<std::string> kGitIdentity = {
    "GIT_AUTHOR_NAME=ferry test",    "GIT_AUTHOR_EMAIL=test@ferry.invalid",
    "GIT_COMMITTER_NAME=ferry test", "GIT_COMMITTER_EMAIL=test@ferry.invalid",
    "GIT_CONFIG_NOSYSTEM=1",         "GIT_CONFIG_GLOBAL=/dev/null"};

}  // namespace

std::string run_git_or_throw(const std::vector<std::string>& args, const fs::path& cwd) {
  std::vector<std::string> argv = {"git", "-C", cwd.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  CommandResult r = run_command(argv, kGitIdentity, 30s);
  if (r.exit_code != 0) {
    std::string joined;
    for (const std::string& a : args) joined += " " + a;
    throw std::runtime_error("git" + joined + " failed: " + r.out + r.err);
  }
  return r.out;
}

TestRepo::TestRepo(const fs::path& root, const std::string& name)
    : bare_(root / (name + ".git")), work_(root / (name + "-work")) {
  fs::create_directories(bare_);
  fs::create_directories(work_);
  run_git_or_throw({"init", "-q", "--bare", "-b", "main"}, bare_);
  run_git_or_throw({"init", "-q", "-b", "main"}, work_);
  run_git_or_throw({"remote", "add", "origin", bare_.string()}, work_);
}

void TestRepo::write(const std::string& rel, const std::string& text) const {
  write_text(work_ / rel, text);
}

void TestRepo::remove(const std::string& rel) const { fs::remove(work_ / rel); }

std::string TestRepo::commit(const std::string& message, const std::string& branch) const {
  run_git_or_throw({"checkout", "-q", "-B", branch}, work_);
  run_git_or_throw({"add", "-A"}, work_);
  run_git_or_throw({"commit", "-q", "--allow-empty", "-m", message}, work_);
  run_git_or_throw({"push", "-q", "-f", "origin", branch}, work_);
  std::string sha = run_git_or_throw({"rev-parse", "HEAD"}, work_);
  while (!sha.empty() && sha.back() == '\n') sha.pop_back();
  return sha;
}

void TestRepo::tag(const std::string& name, const std::string& commit, bool annotated) const {
  if (annotated) {
    run_git_or_throw({"tag", "-f", "-a", "-m", "tag " + name, name, commit}, work_);
  } else {
    run_git_or_throw({"tag", "-f", name, commit}, work_);
  }
  run_git_or_throw({"push", "-q", "-f", "origin", "refs/tags/" + name}, work_);
}

void ServerProcess::start(const std::vector<std::string>& argv) {
  pid_ = spawn_process(argv, {}, dir_.path() / "server.out", dir_.path() / "server.err");
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!port_accepts(port_)) {
    if (wait_for_exit(pid_, 0ms)) {
      pid_ = -1;
      throw std::runtime_error(argv[0] + " exited at start: " + log());
    }
    if (std::chrono::steady_clock::now() > deadline) {
      stop();
      throw std::runtime_error(argv[0] + " did not listen within 5 s: " + log());
    }
    std::this_thread::sleep_for(10ms);
  }
}

void ServerProcess::stop() {
  if (pid_ > 0) kill_and_reap(pid_);
  pid_ = -1;
}

std::string ServerProcess::log() const {
  return read_text(dir_.path() / "server.out") + read_text(dir_.path() / "server.err");
}

GitDaemon::GitDaemon(fs::path base) : base_(std::move(base)) { restart(); }

void GitDaemon::restart() {
  stop();
  if (port_ == 0) port_ = free_port();
  // git-daemon itself: `git daemon` would run it as a child that outlives a kill of `git`.
  start({"/usr/lib/git-core/git-daemon", "--listen=127.0.0.1", "--port=" + std::to_string(port_),
         "--base-path=" + base_.string(), "--export-all", "--reuseaddr", base_.string()});
}

std::string GitDaemon::url(const std::string& repo) const {
  return "git://127.0.0.1:" + std::to_string(port_) + "/" + repo;
}

namespace {

void run_openssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  CommandResult r = run_command(argv, {}, 60s);
  if (r.exit_code != 0) throw std::runtime_error("openssl failed: " + r.err);
}

}  // namespace

void make_test_certificates(const fs::path& d) {
  const std::vector<std::string> ec = {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                                       "-nodes"};
  std::vector<std::string> ca = {"req",     "-x509",
                                 "-days",   "2",
                                 "-subj",   "/CN=ferry test CA",
                                 "-keyout", (d / "ca.key").string(),
                                 "-out",    (d / "ca.pem").string()};
  ca.insert(ca.begin() + 2, ec.begin(), ec.end());
  run_openssl(ca);
  std::vector<std::string> csr = {"req",
                                  "-subj",
                                  "/CN=127.0.0.1",
                                  "-keyout",
                                  (d / "server.key").string(),
                                  "-out",
                                  (d / "server.csr").string()};
  csr.insert(csr.begin() + 1, ec.begin(), ec.end());
  run_openssl(csr);
  write_text(d / "san.cnf", "subjectAltName=IP:127.0.0.1\n");
  run_openssl({"x509", "-req", "-days", "2", "-in", (d / "server.csr").string(), "-CA",
               (d / "ca.pem").string(), "-CAkey", (d / "ca.key").string(), "-CAcreateserial",
               "-extfile", (d / "san.cnf").string(), "-out", (d / "server.pem").string()});
}

GitHttpServer::GitHttpServer(fs::path base, const std::string& user, const std::string& password,
                             bool tls)
    : tls_(tls) {
  port_ = free_port();
  fs::path d = dir_.path();
  std::string tls_conf;
  if (tls) {
    make_test_certificates(d);
    tls_conf = "server.modules += (\"mod_openssl\")\nssl.engine = \"enable\"\nssl.pemfile = \"" +
               (d / "server.pem").string() + "\"\nssl.privkey = \"" + (d / "server.key").string() +
               "\"\n";
  }
  write_text(d / "users", user + ":" + password + "\n");
  fs::create_directories(d / "www");
  write_text(d / "lighttpd.conf",
             "server.modules = (\"mod_auth\", \"mod_authn_file\", \"mod_alias\", "
             "\"mod_setenv\", \"mod_cgi\", \"mod_accesslog\")\n"
             "server.bind = \"127.0.0.1\"\n"
             "server.port = " +
                 std::to_string(port_) +
                 "\n"
                 "server.document-root = \"" +
                 (d / "www").string() +
                 "\"\n"
                 "server.errorlog = \"" +
                 (d / "error.log").string() +
                 "\"\n"
                 "accesslog.filename = \"" +
                 (d / "access.log").string() +
                 "\"\n"
                 "alias.url = (\"/git\" => \"/usr/lib/git-core/git-http-backend\")\n"
                 "$HTTP[\"url\"] =~ \"^/git\" {\n"
                 "  cgi.assign = (\"\" => \"\")\n"
                 "  setenv.add-environment = (\"GIT_PROJECT_ROOT\" => \"" +
                 base.string() +
                 "\", \"GIT_HTTP_EXPORT_ALL\" => \"\")\n"
                 "  auth.backend = \"plain\"\n"
                 "  auth.backend.plain.userfile = \"" +
                 (d / "users").string() +
                 "\"\n"
                 "  auth.require = (\"/\" => (\"method\" => \"basic\", \"realm\" => \"git\", "
                 "\"require\" => \"valid-user\"))\n"
                 "}\n" +
                 tls_conf);
  start({"/usr/sbin/lighttpd", "-D", "-f", (d / "lighttpd.conf").string()});
}

std::string GitHttpServer::host() const {
  return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_) + "/git";
}

std::string GitHttpServer::url(const std::string& repo) const { return host() + "/" + repo; }

std::string GitHttpServer::access_log() const {
  return read_text(dir_.path() / "access.log") + read_text(dir_.path() / "error.log");
}

GitSshServer::GitSshServer() {
  port_ = free_port();
  fs::path d = dir_.path();
  fs::create_directories("/run/sshd");  // sshd's privilege-separation folder
  for (const char* key : {"host_ed25519", "client_ed25519", "other_ed25519"}) {
    CommandResult r = run_command({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
                                   "ferry-test", "-f", (d / key).string()},
                                  {}, 30s);
    if (r.exit_code != 0) throw std::runtime_error("ssh-keygen failed: " + r.err);
  }
  write_text(d / "authorized_keys", read_text(d / "client_ed25519.pub"));
  std::string host = "[127.0.0.1]:" + std::to_string(port_) + " ";
  write_text(d / "known_hosts", host + read_text(d / "host_ed25519.pub"));
  write_text(d / "wrong_known_hosts", host + read_text(d / "other_ed25519.pub"));
  write_text(d / "sshd_config",
             "Port " + std::to_string(port_) +
                 "\n"
                 "ListenAddress 127.0.0.1\n"
                 "HostKey " +
                 (d / "host_ed25519").string() +
                 "\n"
                 "AuthorizedKeysFile " +
                 (d / "authorized_keys").string() +
                 "\n"
                 "PidFile " +
                 (d / "sshd.pid").string() +
                 "\n"
                 "StrictModes no\nUsePAM no\nPasswordAuthentication no\n"
                 "KbdInteractiveAuthentication no\nPubkeyAuthentication yes\n"
                 "PermitRootLogin prohibit-password\nAcceptEnv GIT_PROTOCOL\nLogLevel ERROR\n");
  start({"/usr/sbin/sshd", "-D", "-e", "-f", (d / "sshd_config").string()});
}

void GitSshServer::serve_as_git_user(const fs::path& bare) {
  if (::getpwnam("git") == nullptr) {
    if (::geteuid() != 0) {
      throw std::runtime_error(
          "the ssh test of git@host:repo.git needs a system user 'git' (run "
          "as root once, or `useradd --system git`)");
    }
    CommandResult r = run_command({"useradd", "--system", "--no-create-home", "--home-dir",
                                   "/nonexistent", "--shell", "/bin/sh", "git"},
                                  {}, 30s);
    if (r.exit_code != 0 && ::getpwnam("git") == nullptr)
      throw std::runtime_error("useradd git failed: " + r.err);
  }
  // No password, but not a locked account ("!"), which sshd would refuse.
  if (::geteuid() == 0) run_command({"usermod", "-p", "*", "git"}, {}, 30s);
  // sshd reads authorized_keys as the user logging in.
  std::error_code ec;
  fs::permissions(dir_.path(), fs::perms::others_exec, fs::perm_options::add, ec);
  fs::permissions(dir_.path() / "authorized_keys", fs::perms::others_read, fs::perm_options::add,
                  ec);
  // The repository and the folders above it must be reachable by that user, and owned by it
  // (git refuses repositories of another owner).
  for (fs::path p = bare.parent_path(); p != p.root_path(); p = p.parent_path()) {
    fs::permissions(p, fs::perms::others_exec, fs::perm_options::add, ec);
    if (p == fs::temp_directory_path()) break;
  }
  CommandResult r = run_command({"chown", "-R", "git", bare.string()}, {}, 30s);
  if (r.exit_code != 0) throw std::runtime_error("chown git failed: " + r.err);
}

std::string GitSshServer::url(const fs::path& bare) const {
  return "ssh://" + user_name() + "@127.0.0.1:" + std::to_string(port_) + bare.string();
}

}  // namespace ferry::test
