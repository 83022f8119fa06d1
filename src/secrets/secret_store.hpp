// The secret store on one machine: $FERRY_HOME/secrets.json, a JSON object name -> value
// (a string, kept exactly as given). The file is created with mode 0600 and never exists
// with wider permissions; reading it is refused if group or others have any permission on
// it. Writes are atomic (temporary file, fsync, rename) and serialized by an flock on
// secrets.json.lock, so concurrent `ferry secrets set` lose nothing.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ferry::secrets {

// Throws ValueError unless `name` is non-empty letters, digits and underscores.
void check_secret_name(const std::string& name);

class SecretStore {
 public:
  // $FERRY_HOME/secrets.json.
  static std::filesystem::path default_path();

  explicit SecretStore(std::filesystem::path file = default_path());
  const std::filesystem::path& path() const { return file_; }

  // Every secret (empty when the file does not exist). Throws ValueError if the file is
  // readable or writable by group or others (naming the file and `chmod 600 FILE`), or if it
  // is not a JSON object of strings; the error never quotes the file's content.
  std::map<std::string, std::string> load() const;

  std::optional<std::string> get(const std::string& name) const;
  std::vector<std::string> names() const;  // sorted

  // Adds or replaces a secret.
  void set(const std::string& name, const std::string& value);

  // Removes a secret; false if there was none of that name.
  bool remove(const std::string& name);

 private:
  void save(const std::map<std::string, std::string>& secrets) const;

  std::filesystem::path file_;
};

}  // namespace ferry::secrets
