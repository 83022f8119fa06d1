#include "secrets/secret_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/files.hpp"
#include "ferry/codec.hpp"
#include "ferry/error.hpp"
#include "ferry/module.hpp"

namespace ferry::secrets {

namespace fs = std::filesystem;

namespace {

std::string octal_mode(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// Reads the store; nullopt if it does not exist.
std::optional<std::string> read_store(const fs::path& file) {
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    throw ValueError("Cannot read the secret store '" + file.string() +
                     "': " + std::strerror(errno) + ".");
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    throw ValueError("Cannot read the secret store '" + file.string() + "': " + std::strerror(err) +
                     ".");
  }
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    throw ValueError("Refusing to read the secret store '" + file.string() +
                     "': its permissions are " + octal_mode(st.st_mode) +
                     ", so other users may read or change it. Fix them with: chmod 600 " +
                     file.string());
  }
  return detail::read_fd(fd, file);
}

std::map<std::string, std::string> parse_store(const fs::path& file, const std::string& text) {
  // The parser's own messages quote the bytes around an error: never show them.
  Value doc = Value::parse(text, nullptr, /*allow_exceptions=*/false);
  auto bad = [&](const std::string& why) {
    return ValueError("The secret store '" + file.string() + "' is not valid (" + why +
                      "). Fix or remove it, then set the secrets again with: ferry secrets set "
                      "NAME");
  };
  if (doc.is_discarded()) throw bad("not JSON");
  if (!doc.is_object()) throw bad("not a JSON object");
  std::map<std::string, std::string> out;
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    if (!it.value().is_string()) throw bad("the value of '" + it.key() + "' is not a string");
    out[it.key()] = it.value().get<std::string>();
  }
  return out;
}

}  // namespace

void check_secret_name(const std::string& name) {
  bool ok = !name.empty();
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) {
      ok = false;
    }
  }
  if (!ok) {
    throw ValueError("Bad secret name '" + name +
                     "': use only letters, digits and underscores (e.g. API_TOKEN).");
  }
}

fs::path SecretStore::default_path() { return home_dir() / "secrets.json"; }

SecretStore::SecretStore(fs::path file) : file_(std::move(file)) {}

std::map<std::string, std::string> SecretStore::load() const {
  std::optional<std::string> text = read_store(file_);
  if (!text) return {};
  return parse_store(file_, *text);
}

std::optional<std::string> SecretStore::get(const std::string& name) const {
  std::map<std::string, std::string> all = load();
  auto it = all.find(name);
  if (it == all.end()) return std::nullopt;
  return std::move(it->second);
}

std::vector<std::string> SecretStore::names() const {
  std::vector<std::string> out;
  for (const auto& [name, value] : load()) out.push_back(name);
  return out;
}

void SecretStore::set(const std::string& name, const std::string& value) {
  check_secret_name(name);
  fs::path lock_path = file_;
  lock_path += ".lock";
  detail::FileLock lock(lock_path);
  std::map<std::string, std::string> all = load();
  all[name] = value;
  save(all);
}

bool SecretStore::remove(const std::string& name) {
  fs::path lock_path = file_;
  lock_path += ".lock";
  detail::FileLock lock(lock_path);
  std::map<std::string, std::string> all = load();
  if (all.erase(name) == 0) return false;
  save(all);
  return true;
}

// Under the lock: written atomically to a new file created 0600 (it never exists with wider
// permissions) and renamed over the store; then the folder is fsynced so the rename lasts.
void SecretStore::save(const std::map<std::string, std::string>& secrets) const {
  Value doc = Value::object();
  for (const auto& [name, value] : secrets) doc[name] = value;
  detail::write_file_atomic(file_, doc.dump(2) + "\n", 0600);
  // The umask can only remove bits: make sure the owner can still read and write it.
  fs::permissions(file_, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
  fs::path dir = file_.has_parent_path() ? file_.parent_path() : fs::path(".");
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace ferry::secrets
