#include "agent/docker_launcher.hpp"

#include <cstdio>

#include "docker/engine_client.hpp"
#include "ferry/error.hpp"
#include "ferry/storage/docker.hpp"
#include "oci/image_reference.hpp"
#include "storage/descriptor_fields.hpp"
#include "storage/docker_credentials.hpp"

namespace ferry::agent {

using storage::string_field;

std::string choose_image(const Value& storage, const Value& run_config,
                         const std::string& agent_default) {
  if (string_field(storage, "type") == "Docker" && !string_field(storage, "image_name").empty()) {
    std::string repo = string_field(storage, "image_name");
    std::string registry = string_field(storage, "registry_url");
    while (!registry.empty() && registry.back() == '/') registry.pop_back();
    if (!registry.empty()) repo = registry + "/" + repo;
    std::string digest = string_field(storage, "image_digest");
    if (!digest.empty() && !registry.empty()) return repo + "@" + digest;
    return repo + ":" + string_field(storage, "image_tag");
  }
  if (string_field(run_config, "type") == "Docker" && !string_field(run_config, "image").empty()) {
    return string_field(run_config, "image");
  }
  if (!agent_default.empty()) return agent_default;
  return storage::default_base_image();
}

struct DockerLauncher::Job {
  std::string run_id;
  std::string image;
  std::string credentials_secret;
  std::vector<std::string> env;
  std::vector<std::string> binds;
  std::thread thread;
  std::atomic<bool> done{false};
  std::atomic<bool> stop{false};
  std::mutex mutex;
  std::string container_id;
  FinishedRun result;
};

DockerLauncher::DockerLauncher(DockerAgentOptions options) : options_(std::move(options)) {
  // Fail at start, not at the first run, when the engine is not there.
  docker::EngineClient(options_.base_url).ping();
}

DockerLauncher::~DockerLauncher() { stop_all(); }

std::string DockerLauncher::refusal(const backend::FlowRun&, const backend::FlowVersion& version) {
  if (string_field(version.run_config, "type") == "Local") {
    return "Unsupported run config type: Local. The Docker agent runs flows in containers; "
           "start a local agent (ferry agent local start) on the machine the run config means.";
  }
  return "";
}

void DockerLauncher::start(const backend::FlowRun& run, const backend::FlowVersion& version) {
  auto job = std::make_shared<Job>();
  job->run_id = run.id;
  job->image = choose_image(version.storage, version.run_config, options_.default_image);
  job->credentials_secret = string_field(version.storage, "registry_credentials_secret");
  if (job->credentials_secret.empty())
    job->credentials_secret = options_.registry_credentials_secret;
  job->env = {"FERRY_API=" + options_.api_url};
  if (!options_.api_key.empty()) job->env.push_back("FERRY_API_KEY=" + options_.api_key);
  if (!options_.api_ca_file.empty())
    job->env.push_back("FERRY_API_CA_FILE=" + options_.api_ca_file);
  job->binds = options_.volumes;
  if (string_field(version.run_config, "type") == "Docker") {
    const Value& rc = version.run_config;
    if (rc.contains("env") && rc["env"].is_object()) {
      for (auto it = rc["env"].begin(); it != rc["env"].end(); ++it) {
        if (it.value().is_string())
          job->env.push_back(it.key() + "=" + it.value().get<std::string>());
      }
    }
    if (rc.contains("volumes") && rc["volumes"].is_array()) {
      for (const Value& v : rc["volumes"]) {
        if (v.is_string()) job->binds.push_back(v);
      }
    }
  }
  {
    std::lock_guard lock(mutex_);
    jobs_.push_back(job);
  }
  job->thread = std::thread([this, job] { run_job(job); });
}

void DockerLauncher::run_job(std::shared_ptr<Job> job) {
  auto say = [&](const std::string& line) {
    if (options_.verbose) std::fprintf(stderr, "[agent] %s\n", line.c_str());
  };
  try {
    docker::EngineClient engine(options_.base_url);
    oci::ImageReference ref = oci::ImageReference::parse(job->image);
    bool have = engine.inspect_image(job->image).has_value();
    // A digest pins the image: pull it unless the engine already has exactly it. A tag may
    // have moved: pull it always when it comes from a registry.
    if (!have || ref.digest.empty()) {
      std::optional<docker::RegistryAuth> auth;
      if (auto creds = storage::registry_credentials(ref.registry, job->credentials_secret)) {
        auth = docker::RegistryAuth{creds->username, creds->password, ref.registry};
      }
      try {
        engine.pull_image(ref.registry + "/" + ref.repository,
                          ref.digest.empty() ? ref.tag : ref.digest, auth, nullptr);
      } catch (const std::exception& e) {
        if (!have) throw;
        say("Pulling " + job->image + " failed (" + e.what() + "); using the local copy.");
      }
    }
    docker::ContainerSpec spec;
    spec.image = job->image;
    spec.cmd = {"ferry", "execute", "flow-run", job->run_id};
    spec.env = job->env;
    spec.binds = job->binds;
    spec.network_mode = options_.network;
    spec.labels = {{"io.ferry.flow-run-id", job->run_id}};
    std::string id = engine.create_container(spec);
    {
      std::lock_guard lock(job->mutex);
      job->container_id = id;
    }
    engine.start_container(id);
    say("Run " + job->run_id + ": container " + id.substr(0, 12) + " of image " + job->image);
    engine.stream_logs(id, /*follow=*/true, [&](int, std::string_view line) {
      if (options_.verbose) {
        std::fprintf(stderr, "[%s] %.*s\n", job->run_id.substr(0, 8).c_str(),
                     static_cast<int>(line.size()), line.data());
      }
    });
    int code = engine.wait_container(id);
    job->result = {job->run_id, "The flow run's container exited with code " +
                                    std::to_string(code) + " without reporting a final state."};
    try {
      engine.remove_container(id, /*force=*/true);
    } catch (const std::exception& e) {
      say("Could not remove container " + id.substr(0, 12) + ": " + e.what());
    }
  } catch (const std::exception& e) {
    job->result = {job->run_id,
                   "The Docker agent could not run this flow run in a container of "
                   "image " +
                       job->image + ": " + e.what()};
  }
  job->done.store(true);
  wake_agent_loop();
}

std::vector<FinishedRun> DockerLauncher::reap() {
  std::vector<FinishedRun> finished;
  std::vector<std::shared_ptr<Job>> ended;
  {
    std::lock_guard lock(mutex_);
    for (auto it = jobs_.begin(); it != jobs_.end();) {
      if ((*it)->done.load()) {
        ended.push_back(*it);
        it = jobs_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& job : ended) {
    if (job->thread.joinable()) job->thread.join();
    finished.push_back(job->result);
  }
  return finished;
}

std::vector<std::string> DockerLauncher::running() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> ids;
  for (const auto& job : jobs_) ids.push_back(job->run_id);
  return ids;
}

std::vector<std::string> DockerLauncher::stop_all() {
  std::vector<std::shared_ptr<Job>> jobs;
  {
    std::lock_guard lock(mutex_);
    jobs.swap(jobs_);
  }
  std::vector<std::string> ids;
  for (auto& job : jobs) {
    if (job->done.load()) {  // ended on its own: its state is its own, not released
      if (job->thread.joinable()) job->thread.join();
      continue;
    }
    std::string container;
    {
      std::lock_guard lock(job->mutex);
      container = job->container_id;
    }
    if (!container.empty()) {
      try {
        docker::EngineClient(options_.base_url).remove_container(container, /*force=*/true);
      } catch (const std::exception&) {
        // Already gone: the log stream ends and the job finishes on its own.
      }
    }
    if (job->thread.joinable()) job->thread.join();
    ids.push_back(job->run_id);
  }
  return ids;
}

int run_docker_agent(backend::Backend& backend, AgentLoopOptions loop, DockerAgentOptions options) {
  DockerLauncher launcher(std::move(options));
  return run_agent_loop(backend, std::move(loop), launcher);
}

}  // namespace ferry::agent
