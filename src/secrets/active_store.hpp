// The secret store this machine uses: the server's (sealed at rest by `ferry server`) when a
// ferry server is configured (FERRY_API), else $FERRY_HOME/secrets.json. `ferry secrets` and
// run-time lookups go through this, so a flow finds its secrets the same way in both set-ups.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ferry::secrets {

class ActiveStore {
 public:
  virtual ~ActiveStore() = default;
  // Where the secrets live, for messages: a file path or "the ferry server at URL".
  virtual std::string where() const = 0;
  virtual std::map<std::string, std::string> load() const = 0;
  virtual std::optional<std::string> get(const std::string& name) const = 0;
  virtual std::vector<std::string> names() const = 0;  // sorted
  virtual void set(const std::string& name, const std::string& value) = 0;
  virtual bool remove(const std::string& name) = 0;  // false when there was none
};

std::unique_ptr<ActiveStore> open_active_store();

}  // namespace ferry::secrets
