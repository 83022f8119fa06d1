// `ferry server` for real: a Server on an ephemeral loopback port over a SqliteBackend in a
// temp folder, used through RemoteBackend (the whole run lifecycle), over TLS with a test CA,
// with large and oversized bodies, and across a restart on the same port.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "backend/backend.hpp"
#include "backend/remote_backend.hpp"
#include "ferry/error.hpp"
#include "net/http_client.hpp"
#include "server/api_keys.hpp"
#include "server/secret_box.hpp"
#include "server/server.hpp"
#include "support/git_servers.hpp"
#include "support/test_support.hpp"

namespace {

using namespace std::chrono_literals;
using ferry::State;
using ferry::Value;
using ferry::backend::Backend;
using ferry::backend::RemoteOptions;
using ferry::server::Server;
using ferry::server::ServerOptions;

// A Server serving on its own thread until destroyed.
class RunningServer {
 public:
  RunningServer(Backend& backend, ServerOptions options) : server_(backend, std::move(options)) {
    server_.start();
    thread_ = std::thread([this] { server_.run(); });
  }
  ~RunningServer() {
    server_.stop();
    thread_.join();
  }
  int port() const { return server_.port(); }
  std::string url() const {
    return std::string(server_.tls() ? "https" : "http") + "://127.0.0.1:" + std::to_string(port());
  }

 private:
  Server server_;
  std::thread thread_;
};

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_ = ferry::backend::open_sqlite_backend((dir_ / "ferry.db").string());
    key_ = ferry::server::new_api_key();
    backend_->add_api_key("tests", ferry::server::hash_api_key(key_));
  }
  ServerOptions options() const {
    ServerOptions o;
    o.secret_box = std::make_shared<ferry::server::SecretBox>(std::string(64, 'a'));
    o.threads = 4;
    return o;
  }
  std::unique_ptr<Backend> remote(const std::string& url, std::chrono::seconds retry_for = 5s,
                                  const std::string& ca_file = "") {
    return ferry::backend::open_remote_backend(RemoteOptions{url, key_, ca_file, retry_for});
  }
  static ferry::backend::FlowVersionSpec spec(const std::string& key, Value graph = nullptr) {
    ferry::backend::FlowVersionSpec s;
    s.project = "p";
    s.flow_name = "f";
    s.graph = graph.is_null() ? Value{{"tasks", {"a"}}} : std::move(graph);
    s.run_config = Value{{"type", "Universal"}};
    s.storage = Value{{"type", "Local"}, {"path", "/x"}};
    s.idempotency_key = key;
    return s;
  }

  ferry::test::TempDir dir_;
  std::unique_ptr<Backend> backend_;
  std::string key_;
};

TEST_F(ServerTest, ServesHealthAndAuthOverHttp) {
  RunningServer server(*backend_, options());
  EXPECT_GT(server.port(), 0);
  ferry::net::Request health;
  health.url = server.url() + "/api/v1/health";
  ferry::net::Response r = ferry::net::send(health);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Value::parse(r.body)["status"], "ok");
  ferry::net::Request flows;
  flows.url = server.url() + "/api/v1/flows";
  EXPECT_EQ(ferry::net::send(flows).status, 401);
  flows.headers = {{"Authorization", "Bearer " + key_}};
  EXPECT_EQ(ferry::net::send(flows).status, 200);
  // An encoded '/' reaches the handler undecoded: one segment, not two.
  ferry::net::Request name = flows;
  name.url = server.url() + "/api/v1/flows/p/a%2Fb";
  ferry::net::Response nf = ferry::net::send(name);
  EXPECT_EQ(nf.status, 404);
  EXPECT_NE(nf.body.find("a/b"), std::string::npos) << nf.body;
}

TEST_F(ServerTest, RemoteBackendRunsTheWholeLifecycle) {
  RunningServer server(*backend_, options());
  auto api = remote(server.url());

  auto reg = api->register_flow_version(spec("k1"));
  EXPECT_TRUE(reg.created);
  EXPECT_FALSE(api->register_flow_version(spec("k1")).created);
  ASSERT_TRUE(api->get_flow_version("p", "f"));
  EXPECT_EQ(api->get_flow_version("p", "f", 1)->id, reg.version.id);
  EXPECT_FALSE(api->get_flow_version("p", "f", 2));
  EXPECT_FALSE(api->get_flow_version("p", "nope"));
  EXPECT_EQ(api->get_flow_version_by_id(reg.version.id)->flow_name, "f");
  EXPECT_FALSE(api->get_flow_version_by_id(987654));
  EXPECT_EQ(api->list_flows("p").size(), 1u);
  EXPECT_EQ(api->list_flows("").size(), 1u);

  auto run = api->create_flow_run(reg.version.id, Value{{"x", 1}}, {"gpu"});
  EXPECT_EQ(run.state, State::Scheduled);
  EXPECT_THROW(api->create_flow_run(424242, Value::object(), {}), ferry::ValueError);
  EXPECT_TRUE(api->claim_flow_runs("agent-1", {}, 5).empty());
  auto claimed = api->claim_flow_runs("agent-1", {"gpu"}, 5);
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].id, run.id);

  api->set_flow_run_state(run.id, State::Running, "started");
  api->heartbeat_flow_runs({run.id});
  api->set_task_run_state(run.id, "task a", State::Success, "done", 1, "/results/a");
  auto tasks = api->get_task_runs(run.id);
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].task_name, "task a");
  EXPECT_EQ(tasks[0].result_location, "/results/a");

  ferry::backend::LogLine line;
  line.run_id = run.id;
  line.level = "INFO";
  line.message = "hello";
  line.at = ferry::backend::Clock::now();
  api->add_logs({line, line});
  auto logs = api->get_logs(run.id);
  ASSERT_EQ(logs.size(), 2u);
  EXPECT_EQ(api->get_logs(run.id, logs[0].seq).size(), 1u);
  EXPECT_TRUE(api->get_logs(std::string(32, '0')).empty());

  api->set_flow_run_result(run.id, Value{{"r", 1}});
  api->set_flow_run_pinned(run.id, Value{{"sha", "abc"}});
  api->set_flow_run_state(run.id, State::Success, "");
  auto got = api->get_flow_run(run.id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->state, State::Success);
  EXPECT_EQ(got->result, (Value{{"r", 1}}));
  EXPECT_EQ(got->pinned, (Value{{"sha", "abc"}}));
  EXPECT_FALSE(got->history.empty());
  EXPECT_FALSE(api->get_flow_run(std::string(32, '0')));
  EXPECT_FALSE(api->get_flow_run("not-a-run-id"));
  EXPECT_THROW(api->set_flow_run_state(std::string(32, '0'), State::Running, ""),
               ferry::ValueError);

  ferry::backend::RunFilter filter;
  filter.state = State::Success;
  EXPECT_EQ(api->list_flow_runs(filter).size(), 1u);
  filter.state = State::Failed;
  EXPECT_TRUE(api->list_flow_runs(filter).empty());
  auto counts = api->count_flow_runs_by_state();
  ASSERT_EQ(counts.size(), 1u);
  EXPECT_EQ(counts[0], std::make_pair(State::Success, std::int64_t{1}));

  ferry::backend::Agent agent;
  agent.id = "agent-1";
  agent.name = "host";
  agent.labels = {"gpu"};
  agent.started = agent.heartbeat = ferry::backend::Clock::now() - 1h;
  api->register_agent(agent);
  api->heartbeat_agent("agent-1");
  auto agents = api->list_agents();
  ASSERT_EQ(agents.size(), 1u);
  EXPECT_GT(agents[0].heartbeat, agent.heartbeat);

  // A lost run is rescheduled once, then another agent may claim it.
  auto lost = api->create_flow_run(reg.version.id, Value::object(), {});
  ASSERT_EQ(api->claim_flow_runs("agent-1", {}, 1).size(), 1u);
  api->set_flow_run_state(lost.id, State::Running, "");
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(api->mark_lost_runs(10ms), std::vector<std::string>{lost.id});
  EXPECT_EQ(api->get_flow_run(lost.id)->state, State::Scheduled);
  EXPECT_EQ(api->claim_flow_runs("agent-2", {}, 1).at(0).id, lost.id);

  // Secrets go through sealed; the api-key methods are refused.
  api->put_secret("token", "v@lue");
  EXPECT_EQ(api->get_secret("token"), "v@lue");
  EXPECT_NE(backend_->get_secret("token"), "v@lue");
  EXPECT_EQ(api->list_secrets(), std::vector<std::string>{"token"});
  EXPECT_TRUE(api->delete_secret("token"));
  EXPECT_FALSE(api->delete_secret("token"));
  EXPECT_FALSE(api->get_secret("token"));
  try {
    api->list_api_keys();
    ADD_FAILURE() << "list_api_keys worked remotely";
  } catch (const ferry::Error& e) {
    EXPECT_NE(std::string(e.what()).find("API keys are managed on the server"), std::string::npos);
  }
  EXPECT_THROW(api->add_api_key("x", "y"), ferry::Error);
  EXPECT_THROW(api->find_api_key("y"), ferry::Error);
  EXPECT_THROW(api->revoke_api_key("x"), ferry::Error);
}

TEST_F(ServerTest, BadKeySaysWhatToDoAndNeverShowsTheKey) {
  RunningServer server(*backend_, options());
  const std::string bad = "ferry_0000000000000000000000000000000000000000";
  auto api = ferry::backend::open_remote_backend(RemoteOptions{server.url(), bad, "", 5s});
  auto start = std::chrono::steady_clock::now();
  try {
    api->list_flows("");
    ADD_FAILURE() << "a bad key worked";
  } catch (const ferry::ValueError&) {
    ADD_FAILURE() << "a ValueError for 401";
  } catch (const ferry::Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("FERRY_API_KEY"), std::string::npos) << msg;
    EXPECT_NE(msg.find("ferry server api-key create"), std::string::npos) << msg;
    EXPECT_EQ(msg.find(bad), std::string::npos) << msg;
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);  // 401 is not retried
  EXPECT_THROW(ferry::backend::open_remote_backend(RemoteOptions{server.url(), "", "", 5s}),
               ferry::ValueError);
  EXPECT_THROW(ferry::backend::open_remote_backend(RemoteOptions{"ftp://x", key_, "", 5s}),
               ferry::ValueError);
}

TEST_F(ServerTest, LargeBodiesPassAndOversizedOnesGet413) {
  RunningServer server(*backend_, options());
  auto api = remote(server.url());
  // About 2 MB of graph: under the 4 MiB default.
  std::string big(2 * 1000 * 1000, 'g');
  auto reg = api->register_flow_version(spec("big", Value{{"blob", big}}));
  EXPECT_EQ(api->get_flow_version_by_id(reg.version.id)->graph["blob"], big);

  // Over the limit: 413 with a JSON error, through the backend as a ValueError.
  std::string huge(5 * 1024 * 1024, 'h');
  EXPECT_THROW(api->register_flow_version(spec("huge", Value{{"blob", huge}})), ferry::ValueError);
  ferry::net::Request raw;
  raw.method = "POST";
  raw.url = server.url() + "/api/v1/flow-versions";
  raw.headers = {{"Authorization", "Bearer " + key_}, {"Content-Type", "application/json"}};
  raw.body = huge;
  raw.max_retries = 0;
  ferry::net::Response r = ferry::net::send(raw);
  EXPECT_EQ(r.status, 413);
  EXPECT_TRUE(Value::parse(r.body)["error"].is_string()) << r.body;
  // And the server keeps serving.
  EXPECT_EQ(api->list_flows("p").size(), 1u);
  EXPECT_FALSE(api->get_flow_version("p", "f", 2));
}

TEST_F(ServerTest, TlsWithATestCa) {
  ferry::test::TempDir certs;
  ferry::test::make_test_certificates(certs.path());
  ServerOptions o = options();
  o.tls_cert = (certs / "server.pem").string();
  o.tls_key = (certs / "server.key").string();
  RunningServer server(*backend_, o);
  ASSERT_EQ(server.url().rfind("https://", 0), 0u);
  auto api = remote(server.url(), 5s, (certs / "ca.pem").string());
  EXPECT_TRUE(api->register_flow_version(spec("tls")).created);
  EXPECT_EQ(api->list_flows("").size(), 1u);

  // Without the CA the certificate is not trusted, and that is not retried.
  auto untrusted = remote(server.url(), 30s);
  auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(untrusted->list_flows(""), ferry::Error);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  // Plain HTTP to the TLS port is no API call either.
  auto plain = remote("http://127.0.0.1:" + std::to_string(server.port()), 1s);
  EXPECT_THROW(plain->list_flows(""), ferry::Error);

  ServerOptions bad = options();
  bad.tls_cert = (certs / "ca.pem").string();  // not the key's certificate
  bad.tls_key = (certs / "server.key").string();
  Server wrong(*backend_, bad);
  EXPECT_THROW(wrong.start(), ferry::ValueError);
}

TEST_F(ServerTest, PortInUseIsNamed) {
  RunningServer first(*backend_, options());
  ServerOptions o = options();
  o.port = first.port();
  Server second(*backend_, o);
  try {
    second.start();
    ADD_FAILURE() << "bound a port in use";
  } catch (const ferry::Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("127.0.0.1:" + std::to_string(first.port())), std::string::npos) << msg;
    EXPECT_NE(msg.find("in use"), std::string::npos) << msg;
  }
}

TEST_F(ServerTest, RemoteCallMadeDuringARestartIsDeliveredAfterIt) {
  int port = 0;
  std::string run_id;
  {
    RunningServer server(*backend_, options());
    port = server.port();
    auto api = remote(server.url());
    auto reg = api->register_flow_version(spec("k"));
    run_id = api->create_flow_run(reg.version.id, Value::object(), {}).id;
    api->claim_flow_runs("a", {}, 1);
  }  // the server is down now
  auto api = remote("http://127.0.0.1:" + std::to_string(port), 15s);
  std::atomic<bool> done{false};
  auto call = std::async(std::launch::async, [&] {
    api->set_flow_run_state(run_id, State::Running, "reported during the outage");
    done = true;
  });
  std::this_thread::sleep_for(1500ms);
  EXPECT_FALSE(done) << "the call returned while the server was down";
  EXPECT_EQ(backend_->get_flow_run(run_id)->state, State::Pending);

  ServerOptions o = options();
  o.port = port;
  RunningServer restarted(*backend_, o);
  ASSERT_EQ(call.wait_for(10s), std::future_status::ready);
  call.get();  // rethrows a failure
  auto run = backend_->get_flow_run(run_id);
  EXPECT_EQ(run->state, State::Running);
  EXPECT_EQ(run->message, "reported during the outage");

  // And a call whose retry time runs out says so.
  auto impatient = remote("http://127.0.0.1:" + std::to_string(ferry::test::free_port()), 1s);
  try {
    impatient->list_flows("");
    ADD_FAILURE() << "reached a closed port";
  } catch (const ferry::Error& e) {
    EXPECT_NE(std::string(e.what()).find("did not answer"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find(key_), std::string::npos);
  }
}

}  // namespace
