#include "oci/image_reference.hpp"

#include <gtest/gtest.h>

#include "ferry/error.hpp"

namespace ferry::oci {
namespace {

const std::string kDigest = "sha256:" + std::string(64, 'a');

struct Case {
  std::string text, registry, repository, tag, digest, str;
};

TEST(OciImageReference, ParsesDockerNames) {
  const Case cases[] = {
      {"alpine", "docker.io", "library/alpine", "latest", "", "docker.io/library/alpine:latest"},
      {"alpine:3.19", "docker.io", "library/alpine", "3.19", "", "docker.io/library/alpine:3.19"},
      {"team/flows", "docker.io", "team/flows", "latest", "", "docker.io/team/flows:latest"},
      {"index.docker.io/library/alpine", "docker.io", "library/alpine", "latest", "",
       "docker.io/library/alpine:latest"},
      {"ghcr.io/team/flows:v1", "ghcr.io", "team/flows", "v1", "", "ghcr.io/team/flows:v1"},
      {"localhost/flows", "localhost", "flows", "latest", "", "localhost/flows:latest"},
      {"localhost:5000/a/b/c:T_1.x-y", "localhost:5000", "a/b/c", "T_1.x-y", "",
       "localhost:5000/a/b/c:T_1.x-y"},
      {"127.0.0.1:5000/flows@" + kDigest, "127.0.0.1:5000", "flows", "", kDigest,
       "127.0.0.1:5000/flows@" + kDigest},
      {"reg.example.com/my_team/flow-s__x.y:v2@" + kDigest, "reg.example.com",
       "my_team/flow-s__x.y", "v2", kDigest, "reg.example.com/my_team/flow-s__x.y:v2@" + kDigest},
      {"[::1]:5000/flows:v3", "[::1]:5000", "flows", "v3", "", "[::1]:5000/flows:v3"},
      {"Registry.Example.com/flows", "Registry.Example.com", "flows", "latest", "",
       "Registry.Example.com/flows:latest"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    ImageReference ref = ImageReference::parse(c.text);
    EXPECT_EQ(ref.registry, c.registry);
    EXPECT_EQ(ref.repository, c.repository);
    EXPECT_EQ(ref.tag, c.tag);
    EXPECT_EQ(ref.digest, c.digest);
    EXPECT_EQ(ref.str(), c.str);
    EXPECT_EQ(ref.reference(), c.digest.empty() ? c.tag : c.digest);
    // str() parses back to the same reference.
    EXPECT_EQ(ImageReference::parse(ref.str()).str(), ref.str());
  }
}

TEST(OciImageReference, RejectsInvalidNamesSayingTheExpectedForm) {
  const std::pair<std::string, std::string> cases[] = {
      {"", "empty"},
      {"ghcr.io/Team/flows", "\"Team\""},
      {"Team/flows", "\"Team\""},
      {"flows:", "tag"},
      {"flows:-x", "tag"},
      {"flows:bad tag", "tag"},
      {"flows@sha256:abc", "digest"},
      {"flows@md5:" + std::string(32, 'a'), "digest"},
      {"flows@sha256:" + std::string(64, 'A'), "digest"},
      {"ghcr.io/", "empty"},
      {"ghcr.io/a//b", "empty path component"},
      {"-flows", "\"-flows\""},
      {"flows_", "\"flows_\""},
      {"bad_host:5000:x/flows", "registry"},
  };
  for (const auto& [text, why] : cases) {
    SCOPED_TRACE(text);
    try {
      ImageReference::parse(text);
      ADD_FAILURE() << "accepted";
    } catch (const ValueError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find(why), std::string::npos) << message;
      EXPECT_NE(message.find("expected [REGISTRY[:PORT]/]REPOSITORY[:TAG]"), std::string::npos)
          << message;
    }
  }
}

}  // namespace
}  // namespace ferry::oci
