#include "ferry/storage/git.hpp"

#include <cstdio>
#include <filesystem>
#include <mutex>

#include "agent/secrets.hpp"
#include "core/config.hpp"
#include "core/masking.hpp"
#include "ferry/flow.hpp"
#include "ferry/module.hpp"
#include "storage/git_cache.hpp"
#include "storage/git_fetch.hpp"
#include "storage/git_url.hpp"

namespace ferry::storage {

namespace fs = std::filesystem;
using git_detail::GitRefSpec;

namespace {

bool truthy(const std::optional<std::string>& s) { return s && !s->empty(); }

bool is_full_sha(const std::string& s) {
  if (s.size() != 40 && s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

void validate(GitOptions& o, bool warn) {
  int refs = truthy(o.branch_name) + truthy(o.tag) + truthy(o.commit);
  if (refs > 1) {
    throw ValueError(
        "Please provide only one of the following parameters: `branch_name`, `tag`, `commit`");
  }
  if (!o.repo && !o.git_clone_url_secret_name) {
    throw ValueError("Either `repo` or `git_clone_url_secret_name` must be provided");
  }
  if (o.flow_path.empty()) throw ValueError("Git storage needs a `flow_path`.");
  fs::path path = fs::path(o.flow_path).lexically_normal();
  if (path.is_absolute() || (!path.empty() && *path.begin() == "..")) {
    throw ValueError("Git storage's `flow_path` must be relative to the repository's root, not '" +
                     o.flow_path + "'.");
  }
  if (truthy(o.commit) && !is_full_sha(*o.commit)) {
    throw ValueError(
        "Git storage's `commit` must be a full commit SHA (40 hexadecimal digits, "
        "lower case), not '" +
        *o.commit + "': an abbreviation is not a pin.");
  }
  if (!o.git_token_username && o.repo) o.git_token_username = o.repo->substr(0, o.repo->find('/'));
  if (!warn) return;
  if (o.use_ssh && o.git_token_secret_name) {
    std::fprintf(stderr,
                 "Warning: Git Storage initialized with `use_ssh = True` and "
                 "`git_token_secret_name` provided. SSH will be used to clone the repository. "
                 "`git_token_secret_name` will be ignored\n");
  }
  // The reference warns whenever the URL secret is used (its defaults are truthy); ferry
  // warns when something that the secret overrides was actually set.
  if (o.git_clone_url_secret_name && (o.repo || o.git_token_secret_name || o.git_token_username ||
                                      o.use_ssh || o.repo_host != "github.com")) {
    std::fprintf(stderr,
                 "Warning: Git storage initialized with a `git_clone_url_secret_name`. The value "
                 "of this Secret will be used to clone the repository, ignoring `repo`, "
                 "`repo_host`, `git_token_secret_name`, `git_token_username`, `use_ssh`, and "
                 "`format_access_token`.\n");
  }
}

Value opt(const std::optional<std::string>& s) { return s ? Value(*s) : Value(); }

std::optional<std::string> opt_field(const Value& d, const char* key) {
  if (d.contains(key) && d[key].is_string()) return d[key].get<std::string>();
  return std::nullopt;
}

// mask: register the value for masking. A clone URL is not masked whole (messages name the
// repository); the credentials inside it are, by load_flow.
std::string required_secret(const std::string& name, const char* option, bool mask) {
  std::optional<std::string> value = agent::find_secret(name);
  if (!value) {
    throw ValueError("Git storage: the secret '" + name + "' named by `" + option +
                     "` is not set. Set the environment variable " + name +
                     " or add it to the secret store (`ferry secrets set " + name + "`).");
  }
  // Whatever prints it later (a log line, a state message) shows **** instead.
  if (mask) detail::register_secret_value(*value);
  return *value;
}

class GitImpl : public StorageImpl {
 public:
  GitImpl(GitOptions o, bool warn) : o_(std::move(o)) {
    validate(o_, warn);
    stored_as_script = true;
    add_default_labels = o_.add_default_labels.value_or(true);
    user_labels = o_.labels;
    secrets = o_.secrets;
  }

  std::string type() const override { return "Git"; }
  const GitOptions& options() const { return o_; }

  std::string clone_url() const {
    if (o_.git_clone_url_secret_name) {
      return required_secret(*o_.git_clone_url_secret_name, "git_clone_url_secret_name", false);
    }
    std::string token;
    if (o_.git_token_secret_name && !o_.use_ssh) {
      token = required_secret(*o_.git_token_secret_name, "git_token_secret_name", true);
    }
    return git_detail::build_clone_url(o_, token);
  }

  std::string display() const {
    if (o_.git_clone_url_secret_name) {
      std::optional<std::string> url = agent::find_secret(*o_.git_clone_url_secret_name);
      if (url) return git_detail::display_url(*url);
      return "<the URL in secret " + *o_.git_clone_url_secret_name + ">";
    }
    return git_detail::display_url(git_detail::build_clone_url(o_, ""));
  }

  GitRefSpec ref_spec() const {
    if (truthy(o_.commit)) return {GitRefSpec::Kind::Commit, *o_.commit};
    if (truthy(o_.branch_name)) return {GitRefSpec::Kind::Branch, *o_.branch_name};
    if (truthy(o_.tag)) return {GitRefSpec::Kind::Tag, *o_.tag};
    return {};
  }

  Value fetched_pin(const std::string& name) const override {
    std::lock_guard lock(mutex_);
    auto it = pins_.find(name);
    return it == pins_.end() ? Value::object() : it->second;
  }

 protected:
  std::string store_flow(const Flow&) override { return o_.flow_path; }

  Flow load_flow(const std::string& name, const std::string&) override {
    git_detail::GitRemote remote = git_detail::make_remote(clone_url(), o_.ssh_options);
    for (const std::string& v : remote.secret_values) detail::register_secret_value(v);
    GitRefSpec ref = ref_spec();
    fs::path root = cache_dir() / "git";
    git_detail::GitCache cache(root, remote.display);
    std::string sparse_dir;
    if (o_.sparse) {
      sparse_dir = fs::path(o_.flow_path).lexically_normal().parent_path().string();
      if (sparse_dir.empty()) sparse_dir = ".";
    }

    // A branch or tag is resolved now, so the run records the commit it really ran.
    std::string used;
    bool offline = false;
    git_detail::CheckoutLease lease;
    auto fetch_ref = [&](const fs::path& dir) {
      return git_detail::fetch_ref(remote, ref, o_.clone_depth, sparse_dir, dir);
    };
    if (ref.kind != GitRefSpec::Kind::Commit && !cache.has_any_checkout()) {
      // Nothing of this repository is cached, so a resolved commit could not be reused:
      // fetch the ref itself and take the commit it brought (one round trip, not two).
      lease = cache.checkout_new(sparse_dir, fetch_ref, &used);
      cache.remember_ref(ref.ref_name(), used);
    } else {
      std::string commit;
      if (ref.kind == GitRefSpec::Kind::Commit) {
        commit = ref.name;
      } else {
        try {
          commit = git_detail::resolve_ref(remote, ref);
          cache.remember_ref(ref.ref_name(), commit);
        } catch (const GitError& e) {
          // Unreachable server: the commit this ref had last time, if it is still cached.
          std::optional<std::string> last = cache.recalled_ref(ref.ref_name());
          if (e.kind() != GitErrorKind::Transient || !last ||
              !cache.has_checkout(*last, sparse_dir))
            throw;
          std::fprintf(stderr,
                       "Warning: Git storage could not reach '%s' to resolve %s; using commit "
                       "%s, which it resolved to last time and which is cached on this "
                       "machine.\n",
                       remote.display.c_str(), ref.describe().c_str(), last->c_str());
          commit = *last;
          offline = true;
        }
      }
      lease = cache.checkout(
          commit, sparse_dir,
          [&](const fs::path& dir) {
            return git_detail::fetch_commit(remote, commit, ref, o_.clone_depth, sparse_dir, dir);
          },
          &used);
    }
    git_detail::GitCache::collect(
        root, static_cast<std::size_t>(config::get_number("git", "cache_max_checkouts", 20)));

    fs::path source = lease.dir() / fs::path(o_.flow_path).lexically_normal();
    std::error_code ec;
    if (!fs::is_regular_file(source, ec)) {
      throw GitError("Flow file '" + o_.flow_path + "' not found in repository '" + remote.display +
                         "' at commit " + used + " (" + ref.describe() + ").",
                     GitErrorKind::MissingFile);
    }
    // The reference picks the storage's flow_name; without one, the flow asked for (the
    // reference took the file's first flow, which is wrong for a file of several flows).
    Flow flow = load_flow_from_source(source, o_.flow_name.value_or(name));
    Value pin = {{"commit", used}, {"repo", remote.display}};
    if (!ref.ref_name().empty() && ref.kind != GitRefSpec::Kind::Default)
      pin["ref"] = ref.ref_name();
    if (offline) pin["offline"] = true;
    std::lock_guard lock(mutex_);
    pins_[name] = pin;
    leases_.push_back(std::move(lease));  // the checkout stays while the flow's tasks run
    return flow;
  }

  void serialize_fields(Value& out) const override {
    out["flow_path"] = o_.flow_path;
    out["repo"] = opt(o_.repo);
    out["repo_host"] = o_.repo_host;
    out["flow_name"] = opt(o_.flow_name);
    out["git_token_secret_name"] = opt(o_.git_token_secret_name);
    out["git_token_username"] = opt(o_.git_token_username);
    out["git_clone_url_secret_name"] = opt(o_.git_clone_url_secret_name);
    out["branch_name"] = opt(o_.branch_name);
    out["tag"] = opt(o_.tag);
    out["commit"] = opt(o_.commit);
    out["clone_depth"] = o_.clone_depth;
    out["use_ssh"] = o_.use_ssh;
    out["format_access_token"] = o_.format_access_token;
    out["ssh_options"] = {{"identity_file", o_.ssh_options.identity_file},
                          {"known_hosts_file", o_.ssh_options.known_hosts_file},
                          {"port", o_.ssh_options.port}};
    out["sparse"] = o_.sparse;
    out["stored_as_script"] = true;
  }

 private:
  GitOptions o_;
  mutable std::mutex mutex_;
  std::map<std::string, Value> pins_;
  std::vector<git_detail::CheckoutLease> leases_;
};

GitOptions from_descriptor(const Value& d) {
  GitOptions o;
  o.flow_path = d.at("flow_path").get<std::string>();
  o.repo = opt_field(d, "repo");
  o.repo_host = d.value("repo_host", std::string("github.com"));
  o.flow_name = opt_field(d, "flow_name");
  o.git_token_secret_name = opt_field(d, "git_token_secret_name");
  o.git_token_username = opt_field(d, "git_token_username");
  o.git_clone_url_secret_name = opt_field(d, "git_clone_url_secret_name");
  o.branch_name = opt_field(d, "branch_name");
  o.tag = opt_field(d, "tag");
  o.commit = opt_field(d, "commit");
  if (d.contains("clone_depth") && d["clone_depth"].is_number_integer())
    o.clone_depth = d["clone_depth"].get<int>();
  o.use_ssh = d.value("use_ssh", false);
  o.format_access_token = d.value("format_access_token", true);
  if (d.contains("ssh_options") && d["ssh_options"].is_object()) {
    const Value& s = d["ssh_options"];
    o.ssh_options.identity_file = s.value("identity_file", std::string());
    o.ssh_options.known_hosts_file = s.value("known_hosts_file", std::string());
    o.ssh_options.port = s.value("port", 0);
  }
  o.sparse = d.value("sparse", false);
  return o;
}

const bool registered = [] {
  register_storage_type("Git", [](const Value& d) -> std::shared_ptr<StorageImpl> {
    // Warnings were for whoever configured the storage, not for every run on an agent.
    return std::make_shared<GitImpl>(from_descriptor(d), false);
  });
  return true;
}();

}  // namespace

Git::Git(GitOptions options) : Storage(std::make_shared<GitImpl>(std::move(options), true)) {
  (void)registered;
}

const GitOptions& Git::options() const { return static_cast<const GitImpl&>(checked()).options(); }

std::string Git::git_clone_url() const {
  return static_cast<const GitImpl&>(checked()).clone_url();
}

std::string Git::display_url() const { return static_cast<const GitImpl&>(checked()).display(); }

}  // namespace ferry::storage
