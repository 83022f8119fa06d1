// What goes into the ferry runtime image (image/runtime_image.hpp), from this machine. The
// images themselves are built, pushed and run in tests/e2e/docker_test.cpp.
#include "image/runtime_image.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>

#include "ferry/error.hpp"

namespace {

using ferry::image::runtime_files;
using ferry::image::RuntimeImageOptions;
using ferry::oci::LayerEntry;

const LayerEntry* find(const std::vector<LayerEntry>& files, const std::string& path) {
  for (const LayerEntry& f : files) {
    if (f.path_in_image == path) return &f;
  }
  return nullptr;
}

TEST(RuntimeImage, HoldsFerryAShellAndWhoRootIs) {
  std::vector<LayerEntry> files = runtime_files();
  EXPECT_NE(find(files, "/usr/local/bin/ferry"), nullptr);
  EXPECT_NE(find(files, "/bin/sh"), nullptr);
  const LayerEntry* passwd = find(files, "/etc/passwd");
  ASSERT_NE(passwd, nullptr);
  EXPECT_EQ(passwd->content.rfind("root:x:0:0:root:/root:", 0), 0u) << "ssh finds ~ here";
  EXPECT_EQ(find(files, "/usr/bin/g++"), nullptr) << "no compiler unless asked";
  std::set<std::string> paths;
  for (const LayerEntry& f : files) {
    EXPECT_TRUE(paths.insert(f.path_in_image).second) << "twice: " << f.path_in_image;
  }
}

TEST(RuntimeImage, AddedBinariesComeWithTheirLibraries) {
  RuntimeImageOptions options;
  options.binaries = {"/usr/bin/git"};
  std::vector<LayerEntry> files = runtime_files(options);
  EXPECT_NE(find(files, "/usr/bin/git"), nullptr);
  // git links libpcre2, which neither ferry nor the shell needs.
  EXPECT_TRUE(std::any_of(files.begin(), files.end(), [](const LayerEntry& f) {
    return f.path_in_image.find("libpcre2-8.so") != std::string::npos;
  }));
  EXPECT_EQ(std::count_if(files.begin(), files.end(),
                          [](const LayerEntry& f) {
                            return f.path_in_image.find("libpcre2-8.so") != std::string::npos;
                          }),
            1);
}

TEST(RuntimeImage, AMissingBinaryIsAClearError) {
  RuntimeImageOptions options;
  options.binaries = {"/usr/bin/ferry-no-such-tool"};
  try {
    runtime_files(options);
    FAIL() << "expected an error";
  } catch (const ferry::ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("/usr/bin/ferry-no-such-tool"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("not an executable file"), std::string::npos);
  }
}

TEST(RuntimeImage, WithCompilerAddsGxxHeadersAndTheLinkName) {
  RuntimeImageOptions options;
  options.with_compiler = true;
  std::vector<LayerEntry> files = runtime_files(options);
  EXPECT_NE(find(files, "/usr/bin/g++"), nullptr);
  EXPECT_NE(find(files, "/usr/include/nlohmann/json.hpp"), nullptr) << "ferry's headers need it";
  const LayerEntry* headers = find(files, "/usr/local/include/ferry");
  ASSERT_NE(headers, nullptr);
  EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(headers->source_path) / "ferry.hpp"));
  // -lferry finds libferry.so, a link to the library beside libc.
  const LayerEntry* link = nullptr;
  for (const LayerEntry& f : files) {
    if (std::filesystem::path(f.path_in_image).filename() == "libferry.so") link = &f;
  }
  ASSERT_NE(link, nullptr);
  EXPECT_EQ(link->link_target.rfind("libferry.so.", 0), 0u) << link->link_target;
  EXPECT_NE(find(files, std::filesystem::path(link->path_in_image).parent_path().string() + "/" +
                            link->link_target),
            nullptr);
  auto env = ferry::image::runtime_env(options);
  EXPECT_NE(std::find(env.begin(), env.end(),
                      std::make_pair(std::string("FERRY_CXX"), std::string("/usr/bin/g++"))),
            env.end());
}

}  // namespace
