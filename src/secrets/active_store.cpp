#include "secrets/active_store.hpp"

#include "backend/backend.hpp"
#include "secrets/secret_store.hpp"

namespace ferry::secrets {

namespace {

class FileStore final : public ActiveStore {
 public:
  std::string where() const override { return file_.path().string(); }
  std::map<std::string, std::string> load() const override { return file_.load(); }
  std::optional<std::string> get(const std::string& name) const override { return file_.get(name); }
  std::vector<std::string> names() const override { return file_.names(); }
  void set(const std::string& name, const std::string& value) override { file_.set(name, value); }
  bool remove(const std::string& name) override { return file_.remove(name); }

 private:
  SecretStore file_;
};

// The server's store through its API; the backend client is opened on first use, so a
// command that needs no secret never contacts the server.
class ServerStore final : public ActiveStore {
 public:
  explicit ServerStore(std::string url) : url_(std::move(url)) {}
  std::string where() const override { return "the ferry server at " + url_; }
  std::map<std::string, std::string> load() const override {
    std::map<std::string, std::string> out;
    for (const std::string& name : backend().list_secrets()) {
      if (auto value = backend().get_secret(name)) out[name] = std::move(*value);
    }
    return out;
  }
  std::optional<std::string> get(const std::string& name) const override {
    return backend().get_secret(name);
  }
  std::vector<std::string> names() const override { return backend().list_secrets(); }
  void set(const std::string& name, const std::string& value) override {
    backend().put_secret(name, value);
  }
  bool remove(const std::string& name) override { return backend().delete_secret(name); }

 private:
  backend::Backend& backend() const {
    if (!backend_) backend_ = backend::open_default_backend();
    return *backend_;
  }
  std::string url_;
  mutable std::unique_ptr<backend::Backend> backend_;
};

}  // namespace

std::unique_ptr<ActiveStore> open_active_store() {
  if (auto api = backend::configured_api()) return std::make_unique<ServerStore>(api->url);
  return std::make_unique<FileStore>();
}

}  // namespace ferry::secrets
