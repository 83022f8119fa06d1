// End-to-end: Webhook storage against a Dropbox-like service running in the test process, as
// in the reference's Dropbox example. The flows (tests/fixtures/e2e/webhook_flow.cpp) are
// registered with `ferry register` and run by the local agent; the service checks the bearer
// token on every request, so a run that succeeds proves the templates were rendered where the
// requests were made. The token must then appear nowhere ferry keeps or prints things: the
// descriptor keeps `${DROPBOX_ACCESS_TOKEN}` as written.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "backend/backend.hpp"
#include "ferry/codec.hpp"
#include "support/e2e_support.hpp"
#include "support/http_server.hpp"
#include "support/test_support.hpp"

namespace ferry::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::string kToken = "dbx-t0k3n-5e6f7a8b9c";
const std::string kUpload = "/2/files/upload";
const std::string kDownload = "/2/files/download";

// The Dropbox content API, as far as Webhook storage uses it: POST /2/files/upload stores the
// body at the `path` of the Dropbox-API-Arg JSON header, POST /2/files/download returns it.
// Both require `Authorization: Bearer <token>` (401 otherwise, as Dropbox answers).
class Dropbox {
 public:
  explicit Dropbox(std::string token) : token_(std::move(token)) {}
  Dropbox(const Dropbox&) = delete;
  Dropbox& operator=(const Dropbox&) = delete;

  int port() const { return server_.port(); }

  // The requests made to one endpoint, in order.
  std::vector<HttpRequest> requests(const std::string& path) const {
    std::vector<HttpRequest> out;
    for (const HttpRequest& r : server_.requests()) {
      if (r.path == path) out.push_back(r);
    }
    return out;
  }
  std::size_t request_count() const { return server_.request_count(); }

  // As when the account's token is revoked: requests with the old one get 401 from now on.
  void set_token(std::string token) {
    std::lock_guard lock(mutex_);
    token_ = std::move(token);
  }

  std::string file(const std::string& path) const {
    std::lock_guard lock(mutex_);
    auto it = files_.find(path);
    return it == files_.end() ? "" : it->second;
  }

 private:
  static HttpReply json_reply(int status, const Value& body) {
    return {status, {{"Content-Type", "application/json"}}, body.dump()};
  }

  HttpReply handle(const HttpRequest& r) {
    if (r.method != "POST") return json_reply(405, {{"error_summary", "method/"}});
    std::string token;
    {
      std::lock_guard lock(mutex_);
      token = token_;
    }
    if (r.header("Authorization") != "Bearer " + token) {
      return json_reply(401, {{"error_summary", "invalid_access_token/"}});
    }
    Value arg = Value::parse(r.header("Dropbox-API-Arg"), nullptr, /*allow_exceptions=*/false);
    if (!arg.is_object() || !arg.contains("path") || !arg["path"].is_string()) {
      return {400, {}, "Error in call to API function: missing Dropbox-API-Arg path"};
    }
    std::string path = arg["path"].get<std::string>();
    std::lock_guard lock(mutex_);
    if (r.path == kUpload) {
      if (arg.value("mode", "add") != "overwrite" && files_.count(path)) {
        return json_reply(409, {{"error_summary", "path/conflict/file/"}});
      }
      files_[path] = r.body;
      return json_reply(200, {{"path_display", path}, {"size", r.body.size()}});
    }
    if (r.path == kDownload) {
      auto it = files_.find(path);
      if (it == files_.end()) return json_reply(409, {{"error_summary", "path/not_found/"}});
      return {200,
              {{"Content-Type", "application/octet-stream"},
               {"Dropbox-API-Result", Value({{"path_display", path}}).dump()}},
              it->second};
    }
    return json_reply(404, {{"error_summary", "unknown endpoint"}});
  }

  std::string token_;
  mutable std::mutex mutex_;
  std::map<std::string, std::string> files_;
  // Last: its thread calls handle(), which needs the members above.
  HttpServer server_{[this](const HttpRequest& r) { return handle(r); }};
};

std::string webhook_fixture() { return fixture("e2e/webhook_flow.cpp").string(); }

// The requests to `path` whose Authorization is not exactly `Bearer <token>`.
int badly_authorized(const std::vector<HttpRequest>& requests, const std::string& token) {
  int bad = 0;
  for (const HttpRequest& r : requests) bad += r.header("Authorization") != "Bearer " + token;
  return bad;
}

// The token is in no file under FERRY_HOME except the secret store (the SQLite database and
// its WAL included), in no listing, and the recorded descriptor keeps the templates.
void expect_token_nowhere(const Home& home, const std::string& flow, const std::string& token) {
  std::vector<fs::path> files = files_under(home.path());
  ASSERT_TRUE(fs::exists(home.path() / "ferry.db"));
  std::string everything;
  for (const fs::path& f : files) {
    if (f.filename() == "secrets.json") continue;
    std::string bytes = read_text(f);
    EXPECT_FALSE(contains(bytes, token)) << "the token is in " << f;
    everything += bytes;
  }
  // Not vacuous: the backend's bytes were searched, and they hold the descriptor's template.
  EXPECT_TRUE(contains(everything, "Bearer ${DROPBOX_ACCESS_TOKEN}"))
      << "the stored descriptor's template was not found under " << home.path();

  for (const std::vector<std::string>& args : home.inspection_commands()) {
    CommandResult r = home.ferry(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_FALSE(contains(r.out + r.err, token)) << ::testing::PrintToString(args) << ":\n"
                                                 << r.out << r.err;
    // A **** would mean the value reached what was stored and was masked on the way out.
    EXPECT_FALSE(contains(r.out + r.err, "****")) << r.out;
  }

  // The descriptor, as an agent reads it: templates verbatim, nothing rendered.
  auto backend = backend::open_sqlite_backend((home.path() / "ferry.db").string());
  std::optional<backend::FlowVersion> version = backend->get_flow_version("default", flow);
  ASSERT_TRUE(version.has_value()) << flow << " is not registered";
  const Value& storage = version->storage;
  EXPECT_EQ(storage.value("type", ""), "Webhook") << storage.dump(2);
  EXPECT_FALSE(contains(storage.dump(), token)) << storage.dump(2);
  for (const char* kwargs : {"build_request_kwargs", "get_flow_request_kwargs"}) {
    const Value& kw = storage.at(kwargs);
    EXPECT_EQ(kw.at("headers").at("Authorization"), "Bearer ${DROPBOX_ACCESS_TOKEN}")
        << storage.dump(2);
    EXPECT_TRUE(contains(kw.at("url").get<std::string>(), "http://127.0.0.1:${DROPBOX_PORT}/"))
        << storage.dump(2);
  }
  EXPECT_EQ(storage.at("build_request_http_method"), "POST");
  EXPECT_EQ(storage.at("get_flow_request_http_method"), "POST");
}

}  // namespace

// The reference's Dropbox example, frozen: the package is uploaded at registration, fetched
// back once by the load check, and again by the agent's run, every time with the token
// rendered from the secret store (the test process never has it in its environment).
TEST(Webhook, FrozenFlowRoundTripsThroughADropboxLikeService) {
  Dropbox dropbox(kToken);
  Home home;
  TempDir tmp;
  write_text(tmp / "token", kToken + "\n");
  CommandResult set = home.ferry(
      {"secrets", "set", "DROPBOX_ACCESS_TOKEN", "--from-file", (tmp / "token").string()});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  const std::vector<std::string> env = {"DROPBOX_PORT=" + std::to_string(dropbox.port())};

  CommandResult reg =
      home.ferry({"register", "--path", webhook_fixture(), "-n", "dropbox-flow"}, env);
  ASSERT_EQ(reg.exit_code, 0) << reg.out << reg.err;
  EXPECT_TRUE(
      contains(reg.out, "Registered flow 'dropbox-flow' version 1 (storage Webhook, frozen;"))
      << reg.out;
  EXPECT_FALSE(contains(reg.out + reg.err, kToken)) << reg.out << reg.err;

  std::vector<HttpRequest> uploads = dropbox.requests(kUpload);
  ASSERT_EQ(uploads.size(), 1u);
  const HttpRequest& up = uploads[0];
  EXPECT_EQ(up.method, "POST");
  EXPECT_EQ(up.header("Authorization"), "Bearer " + kToken);
  EXPECT_EQ(up.header("Content-Type"), "application/octet-stream");
  EXPECT_EQ(Value::parse(up.header("Dropbox-API-Arg")),
            Value({{"path", "/flows/dropbox-flow.ferry"}, {"mode", "overwrite"}}));
  EXPECT_FALSE(up.body.empty());
  EXPECT_EQ(dropbox.file("/flows/dropbox-flow.ferry"), up.body);
  EXPECT_FALSE(contains(up.body, kToken)) << "the token was frozen into the package";
  // The load check fetched it back once.
  EXPECT_EQ(dropbox.requests(kDownload).size(), 1u);

  std::string id = home.create_run({"dropbox-flow", "--param", "word=box"});
  ASSERT_FALSE(id.empty());
  CommandResult agent = home.agent(1, {}, env);
  ASSERT_EQ(agent.exit_code, 0) << agent.err;
  Value run = home.listed_run(id);
  EXPECT_EQ(run["state"], "Success") << run.dump(2) << agent.err;
  EXPECT_EQ(run["result"], "relayed box") << run.dump(2);
  EXPECT_FALSE(contains(agent.out + agent.err, kToken)) << agent.err;
  Value shown = home.show(id);
  EXPECT_EQ(shown["pinned"]["storage"], "Webhook") << shown["pinned"].dump();
  EXPECT_EQ(shown["pinned"]["sha256"].get<std::string>().size(), 64u) << shown["pinned"].dump();

  std::vector<HttpRequest> downloads = dropbox.requests(kDownload);
  ASSERT_EQ(downloads.size(), 2u) << "the agent did not download the flow";
  for (const HttpRequest& d : downloads) {
    EXPECT_EQ(d.method, "POST");
    EXPECT_EQ(Value::parse(d.header("Dropbox-API-Arg")),
              Value({{"path", "/flows/dropbox-flow.ferry"}}));
    EXPECT_EQ(d.header("Accept"), "application/octet-stream");
  }
  EXPECT_EQ(badly_authorized(dropbox.requests(kUpload), kToken), 0);
  EXPECT_EQ(badly_authorized(downloads, kToken), 0);
  EXPECT_EQ(dropbox.request_count(), 3u);

  // The token is revoked: the next run fails to fetch its flow, saying which request the
  // service refused (the URL as written) and never which token was sent.
  dropbox.set_token("rotated-t0k3n-1a2b3c4d");
  std::string refused = home.create_run({"dropbox-flow"});
  ASSERT_FALSE(refused.empty());
  agent = home.agent(1, {}, env);
  ASSERT_EQ(agent.exit_code, 0) << agent.err;
  run = home.listed_run(refused);
  EXPECT_EQ(run["state"], "Failed") << run.dump(2);
  std::string message = run.value("message", "");
  EXPECT_EQ(message.rfind("Failed to load flow from storage: ", 0), 0u) << message;
  EXPECT_TRUE(contains(message, "HTTP 401")) << message;
  EXPECT_TRUE(contains(message, "POST http://127.0.0.1:${DROPBOX_PORT}/2/files/download"))
      << message;
  EXPECT_FALSE(contains(message + agent.err, kToken)) << message << agent.err;
  EXPECT_TRUE(home.show(refused)["tasks"].empty()) << "a task ran without its flow";
  EXPECT_EQ(dropbox.requests(kDownload).back().header("Authorization"), "Bearer " + kToken);

  expect_token_nowhere(home, "dropbox-flow", kToken);
}

// Script form: the source file (flow_script_path = ferry::flow_file()) is uploaded, and the
// agent compiles the source it downloads. The token comes from the environment this time,
// given only to the commands that make requests.
TEST(Webhook, ScriptFormUploadsTheSourceAndTheAgentRunsWhatItDownloads) {
  Dropbox dropbox(kToken);
  Home home;
  const std::vector<std::string> env = {"DROPBOX_PORT=" + std::to_string(dropbox.port()),
                                        "DROPBOX_ACCESS_TOKEN=" + kToken};

  CommandResult reg =
      home.ferry({"register", "--path", webhook_fixture(), "-n", "dropbox-script"}, env);
  ASSERT_EQ(reg.exit_code, 0) << reg.out << reg.err;
  EXPECT_TRUE(
      contains(reg.out, "Registered flow 'dropbox-script' version 1 (storage Webhook, script;"))
      << reg.out;

  std::vector<HttpRequest> uploads = dropbox.requests(kUpload);
  ASSERT_EQ(uploads.size(), 1u);
  EXPECT_EQ(uploads[0].body, read_text(webhook_fixture())) << "not the flow's source file";
  EXPECT_EQ(Value::parse(uploads[0].header("Dropbox-API-Arg")),
            Value({{"path", "/flows/dropbox-script.cpp"}, {"mode", "overwrite"}}));

  std::string id = home.create_run({"dropbox-script", "--param", "word=script"});
  ASSERT_FALSE(id.empty());
  CommandResult agent = home.agent(1, {}, env);
  ASSERT_EQ(agent.exit_code, 0) << agent.err;
  Value run = home.listed_run(id);
  EXPECT_EQ(run["state"], "Success") << run.dump(2) << agent.err;
  EXPECT_EQ(run["result"], "relayed script") << run.dump(2);
  EXPECT_FALSE(contains(agent.out + agent.err, kToken)) << agent.err;
  CommandResult logs = home.ferry({"runs", "logs", id});
  EXPECT_TRUE(contains(logs.out, "relaying script")) << logs.out;

  std::vector<HttpRequest> downloads = dropbox.requests(kDownload);
  EXPECT_EQ(downloads.size(), 2u) << "load check + the agent's run";
  EXPECT_EQ(badly_authorized(uploads, kToken), 0);
  EXPECT_EQ(badly_authorized(downloads, kToken), 0);
  // The agent's run did not upload anything: flow_script_path only matters to build().
  EXPECT_EQ(dropbox.requests(kUpload).size(), 1u);

  expect_token_nowhere(home, "dropbox-script", kToken);
}

// The service refuses the token: registration fails with one line naming the request's method
// and URL (as written, with its templates), never the token or the Authorization header, and
// nothing is registered.
TEST(Webhook, RejectedTokenFailsRegistrationNamingTheUrl) {
  Dropbox dropbox(kToken);
  Home home;
  const std::string wrong = "wrong-t0k3n-0a1b2c3d";
  CommandResult reg = home.ferry(
      {"register", "--path", webhook_fixture(), "-n", "dropbox-flow"},
      {"DROPBOX_PORT=" + std::to_string(dropbox.port()), "DROPBOX_ACCESS_TOKEN=" + wrong});
  EXPECT_EQ(reg.exit_code, 1) << reg.out << reg.err;
  std::string all = reg.out + reg.err;
  EXPECT_TRUE(contains(reg.out, "Error registering flow 'dropbox-flow': ")) << all;
  EXPECT_TRUE(contains(reg.out, "HTTP 401")) << all;
  EXPECT_TRUE(contains(reg.out, "POST http://127.0.0.1:${DROPBOX_PORT}/2/files/upload")) << all;
  EXPECT_FALSE(contains(all, wrong)) << all;
  EXPECT_FALSE(contains(all, "Bearer")) << all;
  // One line.
  std::size_t at = reg.out.find("Error registering flow");
  ASSERT_NE(at, std::string::npos);
  EXPECT_EQ(reg.out.find('\n', at), reg.out.size() - 1) << reg.out;

  // The service did see the rendered (wrong) token: the failure is its answer, not ferry's.
  std::vector<HttpRequest> uploads = dropbox.requests(kUpload);
  ASSERT_EQ(uploads.size(), 1u);
  EXPECT_EQ(uploads[0].header("Authorization"), "Bearer " + wrong);
  EXPECT_EQ(dropbox.requests(kDownload).size(), 0u);
  EXPECT_EQ(home.flows(), Value::array());
  for (const fs::path& f : files_under(home.path())) {
    EXPECT_FALSE(contains(read_text(f), wrong)) << f;
  }
}

// No token anywhere: registration fails before any request, naming the template.
TEST(Webhook, UnknownTemplateFailsRegistrationBeforeAnyRequest) {
  Dropbox dropbox(kToken);
  Home home;
  CommandResult reg = home.ferry({"register", "--path", webhook_fixture(), "-n", "dropbox-flow"},
                                 {"DROPBOX_PORT=" + std::to_string(dropbox.port())});
  EXPECT_EQ(reg.exit_code, 1) << reg.out << reg.err;
  EXPECT_TRUE(contains(reg.out, "Error registering flow 'dropbox-flow': ")) << reg.out << reg.err;
  EXPECT_TRUE(contains(reg.out, "DROPBOX_ACCESS_TOKEN")) << reg.out;
  EXPECT_EQ(dropbox.request_count(), 0u);
  EXPECT_EQ(home.flows(), Value::array());
}

}  // namespace ferry::test
