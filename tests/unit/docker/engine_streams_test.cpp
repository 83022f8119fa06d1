// The Docker engine's streamed answers parsed from canned bytes: build output lines (the
// reference's table), lines split across reads, and multiplexed log frames.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "docker/engine_streams.hpp"

namespace {

using ferry::docker::build_output_line;
using ferry::docker::LineSplitter;
using ferry::docker::LogDemuxer;

// The lines build_output_line keeps from a JSON-lines text fed in one chunk.
std::vector<std::string> printed(const std::string& output) {
  std::vector<std::string> out;
  LineSplitter lines([&](std::string_view line) {
    if (auto text = build_output_line(line)) out.push_back(*text);
  });
  lines.feed(output);
  lines.finish();
  return out;
}

std::string frame(int stream, const std::string& payload) {
  std::string header(8, '\0');
  header[0] = static_cast<char>(stream);
  const auto size = static_cast<unsigned>(payload.size());
  header[4] = static_cast<char>(size >> 24);
  header[5] = static_cast<char>(size >> 16);
  header[6] = static_cast<char>(size >> 8);
  header[7] = static_cast<char>(size);
  return header + payload;
}

using Lines = std::vector<std::pair<int, std::string>>;

}  // namespace

TEST(DockerEngineStreams, BuildOutputLineTableOfTheReference) {
  EXPECT_EQ(printed(R"({"stream":"hello"})"), std::vector<std::string>{"hello"});
  EXPECT_EQ(printed(R"({"message":"hello"})"), std::vector<std::string>{"hello"});
  EXPECT_EQ(printed(R"({"errorDetail":{"message":"hello"}})"), std::vector<std::string>{"hello"});
  EXPECT_TRUE(printed(R"({"unknown":"hello"})").empty());
  EXPECT_TRUE(printed("[]").empty());
  EXPECT_TRUE(printed("{}").empty());
  EXPECT_TRUE(printed(R"({"stream":""})").empty());
  EXPECT_TRUE(printed("").empty());
  EXPECT_EQ(printed("{\"stream\":\"hello\"}\n{\"stream\":\"world\"}"),
            (std::vector<std::string>{"hello", "world"}));
}

TEST(DockerEngineStreams, BuildOutputLineDetails) {
  EXPECT_EQ(build_output_line(R"({"stream":"Step 1/2 : FROM x\n"})"), "Step 1/2 : FROM x");
  EXPECT_EQ(build_output_line(R"({"stream":"\n"})"), std::nullopt) << "nothing left once stripped";
  EXPECT_EQ(build_output_line(R"({"stream":"","message":"m"})"), "m") << "first non-empty";
  EXPECT_EQ(build_output_line(R"({"stream":"s","message":"m"})"), "s");
  EXPECT_EQ(build_output_line(R"({"error":"e","errorDetail":{"message":"d"}})"), "d");
  EXPECT_EQ(build_output_line(R"({"stream":42})"), std::nullopt);
  EXPECT_EQ(build_output_line(R"({"aux":{"ID":"sha256:abc"}})"), std::nullopt);
  EXPECT_EQ(build_output_line("not json"), std::nullopt);
  EXPECT_EQ(build_output_line(R"("a string")"), std::nullopt);
}

TEST(DockerEngineStreams, LinesSplitAcrossReadsAreJoined) {
  const std::string output =
      "{\"stream\":\"one\"}\r\n{\"stream\":\"two\\n\"}\n{\"message\":\"three\"}";
  // Every split point, as the engine's chunks may cut a JSON line anywhere.
  for (std::size_t cut = 0; cut <= output.size(); ++cut) {
    std::vector<std::string> out;
    LineSplitter lines([&](std::string_view line) {
      if (auto text = build_output_line(line)) out.push_back(*text);
    });
    lines.feed(output.substr(0, cut));
    lines.feed(output.substr(cut));
    lines.finish();
    EXPECT_EQ(out, (std::vector<std::string>{"one", "two", "three"})) << "cut at " << cut;
  }
}

TEST(DockerEngineStreams, LogFramesAreSplitIntoLinesPerStream) {
  const std::string bytes = frame(1, "out one\nout ") + frame(2, "err one\n") + frame(1, "two\n") +
                            frame(2, "") + frame(2, "no newline");
  const Lines expected = {{1, "out one"}, {2, "err one"}, {1, "out two"}, {2, "no newline"}};
  // Fed whole, then byte by byte (frame headers and payloads cut anywhere).
  for (std::size_t step : {bytes.size(), std::size_t{1}, std::size_t{3}}) {
    Lines got;
    LogDemuxer demuxer([&](int stream, std::string_view line) { got.emplace_back(stream, line); },
                       /*raw=*/false);
    for (std::size_t at = 0; at < bytes.size(); at += step) demuxer.feed(bytes.substr(at, step));
    demuxer.finish();
    EXPECT_EQ(got, expected) << "step " << step;
  }
}

TEST(DockerEngineStreams, LargeFrameSizesUseAllFourBytes) {
  const std::string payload = std::string(70000, 'x') + "\n";
  Lines got;
  LogDemuxer demuxer([&](int stream, std::string_view line) { got.emplace_back(stream, line); },
                     false);
  demuxer.feed(frame(2, payload) + frame(1, "after\n"));
  demuxer.finish();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], (std::pair<int, std::string>{2, std::string(70000, 'x')}));
  EXPECT_EQ(got[1], (std::pair<int, std::string>{1, "after"}));
}

TEST(DockerEngineStreams, TtyOutputIsOneRawStream) {
  Lines got;
  LogDemuxer demuxer([&](int stream, std::string_view line) { got.emplace_back(stream, line); },
                     /*raw=*/true);
  demuxer.feed("hello\r\nwor");
  demuxer.feed("ld\r\npartial");
  demuxer.finish();
  EXPECT_EQ(got, (Lines{{1, "hello"}, {1, "world"}, {1, "partial"}}));
}
