// The Docker engine client against a scripted engine (the in-process HTTP test server): what
// it sends (API version, query parameters, the registry auth header) and how it reads
// answers a real engine gives only in rare cases (a newer or older API, push digests, error
// lines that quote a password).
#include <gtest/gtest.h>

#include <mutex>
#include <string>
#include <vector>

#include "core/text.hpp"
#include "docker/engine_client.hpp"
#include "support/http_server.hpp"

namespace {

using ferry::docker::EngineClient;
using ferry::test::HttpReply;
using ferry::test::HttpRequest;
using ferry::test::HttpServer;

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// An engine reporting `api_version`, answering other paths from `answers` (path -> reply).
HttpServer::Handler engine(std::string api_version, std::map<std::string, HttpReply> answers) {
  return [api_version, answers](const HttpRequest& request) {
    if (request.path == "/version") {
      return HttpReply{200, {}, R"({"Version":"fake","ApiVersion":")" + api_version + "\"}"};
    }
    auto it = answers.find(request.path);
    if (it != answers.end()) return it->second;
    return HttpReply{404, {}, R"({"message":"no such thing: )" + request.path + "\"}"};
  };
}

std::string base64url_decode(std::string text) {
  for (char& c : text) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  return ferry::detail::base64_decode(text).value_or("(not base64)");
}

}  // namespace

TEST(DockerEngineFake, ApiVersionIsTheEnginesCappedAtOurs) {
  HttpServer newer(engine("1.45", {}));
  EXPECT_EQ(EngineClient(newer.url("")).api_version(), "1.41");
  HttpServer older(engine("1.39", {}));
  EngineClient client(older.url(""));
  EXPECT_EQ(client.api_version(), "1.39");
  EXPECT_FALSE(client.inspect_image("x"));
  EXPECT_EQ(older.requests().back().path, "/v1.39/images/x/json");
  older.clear_requests();
  client.inspect_image("y");
  EXPECT_EQ(older.request_count(), 1u) << "negotiated once per client";
}

TEST(DockerEngineFake, BuildSendsOptionsAndExtraParameters) {
  HttpServer server(
      engine("1.41", {{"/v1.41/build",
                       HttpReply{200,
                                 {},
                                 "{\"stream\":\"Step 1/1 : FROM x\\n\"}\n{\"aux\":{\"ID\":\"sha256:"
                                 "abc\"}}\n{\"stream\":\"Successfully built abc\\n\"}\n"}}}));
  ferry::docker::BuildOptions options;
  options.tag = "flows/a:1";
  options.dockerfile = "sub/Dockerfile";
  options.nocache = true;
  options.buildargs = {{"A", "1"}};
  options.network_mode = "host";
  options.extra = {{"squash", true},
                   {"labels", {{"k", "v"}}},
                   {"memory", 1024},
                   {"target", "final"},
                   {"skip", nullptr}};
  std::vector<std::string> lines;
  auto result =
      EngineClient(server.url("")).build("tar bytes", options, [&](const std::string& line) {
        lines.push_back(line);
      });
  EXPECT_TRUE(result.ok) << result.error;
  EXPECT_EQ(result.image_id, "sha256:abc");
  EXPECT_EQ(lines, (std::vector<std::string>{"Step 1/1 : FROM x", "Successfully built abc"}));
  HttpRequest sent = server.requests().back();
  EXPECT_EQ(sent.method, "POST");
  EXPECT_EQ(sent.header("Content-Type"), "application/x-tar");
  EXPECT_EQ(sent.body, "tar bytes");
  EXPECT_EQ(sent.param("t"), "flows/a:1");
  EXPECT_EQ(sent.param("dockerfile"), "sub/Dockerfile");
  EXPECT_EQ(sent.param("rm"), "1");
  EXPECT_EQ(sent.param("nocache"), "1");
  EXPECT_EQ(sent.param("pull"), "0");
  EXPECT_EQ(sent.param("buildargs"), R"({"A":"1"})");
  EXPECT_EQ(sent.param("networkmode"), "host");
  EXPECT_EQ(sent.param("squash"), "1");
  EXPECT_EQ(sent.param("labels"), R"({"k":"v"})");
  EXPECT_EQ(sent.param("memory"), "1024");
  EXPECT_EQ(sent.param("target"), "final");
  EXPECT_EQ(sent.query.count("skip"), 0u);

  options.extra = "not an object";
  EXPECT_THROW(EngineClient(server.url("")).build("", options), ferry::ValueError);
}

TEST(DockerEngineFake, BuildRefusedByTheEngineIsAFailedResult) {
  HttpServer server(engine(
      "1.41", {{"/v1.41/build",
                HttpReply{500, {}, R"({"message":"Cannot locate specified Dockerfile: Nope"})"}}}));
  auto result = EngineClient(server.url("")).build("", {});
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.error,
            "Docker engine: Cannot locate specified Dockerfile: Nope (HTTP 500 from POST "
            "/v1.41/build)");
}

TEST(DockerEngineFake, PushSendsAuthReportsProgressAndReturnsTheDigest) {
  const std::string digest = "sha256:" + std::string(64, 'f');
  HttpServer server(engine(
      "1.41",
      {{"/v1.41/images/127.0.0.1:5000/team/flow/push",
        HttpReply{200,
                  {},
                  "{\"status\":\"The push refers to repository [127.0.0.1:5000/team/flow]\"}\n"
                  "{\"status\":\"Pushing\",\"progress\":\"[=>  ] 1kB/2kB\",\"id\":\"abc\"}\n"
                  "{\"status\":\"1: digest: " +
                      digest + " size: 735\"}\n"}}}));
  EngineClient client(server.url(""));
  std::vector<std::string> progress;
  std::string pushed =
      client.push_image("127.0.0.1:5000/team/flow", "1",
                        ferry::docker::RegistryAuth{"ann", "pa55-word", "127.0.0.1:5000"},
                        [&](const std::string& line) { progress.push_back(line); });
  EXPECT_EQ(pushed, digest);
  EXPECT_EQ(progress, (std::vector<std::string>{
                          "The push refers to repository [127.0.0.1:5000/team/flow]",
                          "Pushing [=>  ] 1kB/2kB\r", "1: digest: " + digest + " size: 735"}));
  HttpRequest sent = server.requests().back();
  EXPECT_EQ(sent.param("tag"), "1");
  EXPECT_EQ(sent.param("tlsVerify"), "false") << "a loopback registry";
  auto auth = nlohmann::json::parse(base64url_decode(sent.header("X-Registry-Auth")));
  EXPECT_EQ(auth, (nlohmann::json{{"username", "ann"},
                                  {"password", "pa55-word"},
                                  {"serveraddress", "127.0.0.1:5000"}}));

  // A remote registry: TLS stays on; no credentials: an empty auth object.
  EXPECT_THROW(client.push_image("registry.example.com/team/flow", "1"),
               ferry::docker::EngineError);
  sent = server.requests().back();
  EXPECT_EQ(sent.query.count("tlsVerify"), 0u);
  EXPECT_EQ(base64url_decode(sent.header("X-Registry-Auth")), "{}");
}

TEST(DockerEngineFake, ErrorLinesBecomeErrorsWithoutThePassword) {
  HttpServer server(
      engine("1.41", {{"/v1.41/images/create",
                       HttpReply{200,
                                 {},
                                 "{\"status\":\"Pulling from team/flow\"}\n"
                                 "{\"errorDetail\":{\"message\":\"denied for ann:pa55-word\"},"
                                 "\"error\":\"denied for ann:pa55-word\"}\n"}},
                      {"/v1.41/images/localhost:5000/flow/push",
                       HttpReply{401, {}, R"({"message":"bad credentials pa55-word"})"}}}));
  EngineClient client(server.url(""));
  ferry::docker::RegistryAuth auth{"ann", "pa55-word", "localhost:5000"};
  try {
    client.pull_image("localhost:5000/team/flow", "sha256:abc", auth);
    FAIL() << "no exception";
  } catch (const ferry::Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "Pulling localhost:5000/team/flow@sha256:abc failed: denied for ann:***");
  }
  HttpRequest sent = server.requests().back();
  EXPECT_EQ(sent.param("fromImage"), "localhost:5000/team/flow");
  EXPECT_EQ(sent.param("tag"), "sha256:abc");
  EXPECT_EQ(sent.param("tlsVerify"), "false");
  try {
    client.push_image("localhost:5000/flow", "1", auth);
    FAIL() << "no exception";
  } catch (const ferry::docker::EngineError& e) {
    EXPECT_EQ(e.status(), 401);
    EXPECT_FALSE(has(e.what(), "pa55-word")) << e.what();
  }
  // A password short enough to be an ordinary word: the whole message is withheld.
  auth.password = "an";
  try {
    client.pull_image("localhost:5000/team/flow", "1", auth);
    FAIL() << "no exception";
  } catch (const ferry::Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "Pulling localhost:5000/team/flow:1 failed: (message withheld: it contained the "
              "registry password)");
  }
}

TEST(DockerEngineFake, LogsOfATtyContainerAreOneStream) {
  HttpServer server(engine(
      "1.41", {{"/v1.41/containers/c1/json", HttpReply{200, {}, R"({"Config":{"Tty":true}})"}},
               {"/v1.41/containers/c1/logs", HttpReply{200, {}, "line one\r\nline two\r\n"}}}));
  std::vector<std::pair<int, std::string>> got;
  EngineClient(server.url("")).stream_logs("c1", false, [&](int stream, std::string_view line) {
    got.emplace_back(stream, line);
  });
  EXPECT_EQ(got, (std::vector<std::pair<int, std::string>>{{1, "line one"}, {1, "line two"}}));
  EXPECT_EQ(server.requests().back().param("follow"), "0");
}
