#include "agent/process_launcher.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "ferry/error.hpp"
#include "ferry/run_config.hpp"
#include "storage/hostname.hpp"

namespace ferry::agent {

namespace {

std::string self_executable() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("ferry") : p.string();
}

// What the subprocess of a run gets from the flow version's run config.
struct Launch {
  std::vector<std::string> env;  // the whole environment, NAME=VALUE
  std::string working_dir;       // empty: the agent's
};

Launch launch_of(const backend::FlowVersion& version) {
  Launch launch;
  for (char** e = environ; e && *e; ++e) launch.env.emplace_back(*e);
  run::RunConfig config = run::RunConfig::from_json(version.run_config);
  if (const run::Local* local = config.local()) {
    launch.working_dir = local->working_dir;
    // The run config's variables replace the agent's of the same name.
    std::erase_if(launch.env, [&](const std::string& entry) {
      return local->env.count(entry.substr(0, entry.find('='))) > 0;
    });
    for (const auto& [name, value] : local->env) launch.env.push_back(name + "=" + value);
  }
  return launch;
}

}  // namespace

ProcessLauncher::ProcessLauncher(std::string executable)
    : executable_(executable.empty() ? self_executable() : std::move(executable)) {}

// Decided here in the agent rather than in `ferry execute`, which also runs inside
// containers, where Docker storage and a Docker run config are right.
std::string ProcessLauncher::refusal(const backend::FlowRun&, const backend::FlowVersion& version) {
  if (version.storage.is_object() && version.storage.value("type", Value()) == "Docker") {
    return "Unsupported storage type: Docker. The local agent cannot run flows stored in "
           "Docker images; start a Docker agent instead: ferry agent docker start";
  }
  run::RunConfig config;
  try {
    config = run::RunConfig::from_json(version.run_config);
  } catch (const std::exception& e) {
    return std::string("The flow version's run config cannot be read: ") + e.what();
  }
  if (const run::Docker* docker = config.docker()) {
    return "Unsupported run config type: Docker" +
           (docker->image.empty() ? std::string() : " (image " + docker->image + ")") +
           ". The local agent cannot run flows in Docker containers; start a Docker agent "
           "instead: ferry agent docker start";
  }
  if (const run::Local* local = config.local(); local && !local->working_dir.empty()) {
    // Checked before the fork, so a missing folder fails the run with its name rather than
    // as an anonymous exit code of the subprocess.
    std::error_code ec;
    if (!std::filesystem::is_directory(local->working_dir, ec)) {
      return "The working directory '" + local->working_dir +
             "' of the flow's Local run config does not exist on " + storage::local_hostname() +
             " (or is not a directory). Create it there, or change run_config.working_dir "
             "and register the flow again.";
    }
  }
  return "";
}

void ProcessLauncher::start(const backend::FlowRun& run, const backend::FlowVersion& version) {
  Launch launch = launch_of(version);
  // Built before the fork: the child only calls async-signal-safe functions.
  std::vector<char*> envp;
  for (std::string& entry : launch.env) envp.push_back(entry.data());
  envp.push_back(nullptr);
  const char* argv[] = {"ferry", "execute", "flow-run", run.id.c_str(), nullptr};
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid == 0) {
    // The child dies with the agent: a run is never left running unwatched.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);
    // Its own process group: Ctrl-C at the agent's terminal goes to the agent, which then
    // lets the run finish or releases it, instead of killing the run outright.
    ::setpgid(0, 0);
    struct sigaction sa {};
    sa.sa_handler = SIG_DFL;
    for (int sig : {SIGCHLD, SIGTERM, SIGINT}) ::sigaction(sig, &sa, nullptr);
    if (!launch.working_dir.empty() && ::chdir(launch.working_dir.c_str()) != 0) {
      static const char msg[] = "ferry: cannot enter the run config's working directory\n";
      [[maybe_unused]] ssize_t n = ::write(2, msg, sizeof msg - 1);
      ::_exit(126);
    }
    ::execve(executable_.c_str(), const_cast<char* const*>(argv), envp.data());
    ::_exit(127);
  }
  if (pid < 0) throw Error("The agent could not start a process for this run.");
  running_[pid] = run.id;
}

std::vector<FinishedRun> ProcessLauncher::reap() {
  std::vector<FinishedRun> finished;
  int status = 0;
  pid_t pid;
  while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
    auto it = running_.find(pid);
    if (it == running_.end()) continue;
    std::string how = WIFSIGNALED(status)
                          ? "was killed by signal " + std::to_string(WTERMSIG(status))
                          : "exited with code " + std::to_string(WEXITSTATUS(status));
    finished.push_back(
        {it->second, "The flow run process " + how + " without reporting a final state."});
    running_.erase(it);
  }
  return finished;
}

std::vector<std::string> ProcessLauncher::running() const {
  std::vector<std::string> ids;
  for (const auto& [pid, id] : running_) ids.push_back(id);
  return ids;
}

std::vector<std::string> ProcessLauncher::stop_all() {
  std::vector<std::string> ids;
  for (const auto& [pid, id] : running_) {
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ids.push_back(id);
  }
  running_.clear();
  return ids;
}

}  // namespace ferry::agent
