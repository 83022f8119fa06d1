#include "core/tar_writer.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "ferry/error.hpp"
#include "support/test_support.hpp"

namespace ferry::detail {
namespace {

TEST(TarWriter, WritesFilesAndReadsThemBack) {
  TarWriter tar;
  tar.add_directory("/opt/ferry");
  tar.add_file("/opt/ferry/a.txt", "alpha");
  tar.add_file("b.bin", std::string("\0\1\2", 3), 0755);
  auto files = read_tar_files(tar.finish());
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files.at("opt/ferry/a.txt"), "alpha");
  EXPECT_EQ(files.at("b.bin"), std::string("\0\1\2", 3));
}

TEST(TarWriter, GzipOutputIsReproducible) {
  auto make = [] {
    TarWriter tar(/*gzip=*/true);
    tar.add_file("x", "same bytes");
    return tar.finish();
  };
  std::string first = make();
  ASSERT_GE(first.size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(first[0]), 0x1f);  // gzip magic
  EXPECT_EQ(first, make());
  EXPECT_EQ(read_tar_files(first).at("x"), "same bytes");
}

TEST(TarWriter, AddsADirectoryTreeSorted) {
  test::TempDir dir;
  std::filesystem::create_directories(dir.path() / "sub");
  std::ofstream(dir.path() / "sub" / "b.txt") << "bee";
  std::ofstream(dir.path() / "a.txt") << "ay";
  TarWriter tar;
  tar.add_path("ctx", dir.path());
  auto files = read_tar_files(tar.finish());
  EXPECT_EQ(files.at("ctx/a.txt"), "ay");
  EXPECT_EQ(files.at("ctx/sub/b.txt"), "bee");
}

TEST(TarWriter, MissingSourceIsAClearError) {
  TarWriter tar;
  try {
    tar.add_path("x", "/nonexistent/ferry-test-file");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/ferry-test-file"), std::string::npos);
  }
}

TEST(TarWriter, DamagedArchiveIsAnError) {
  EXPECT_THROW(read_tar_files("definitely not a tar archive, just some text........"), Error);
}

}  // namespace
}  // namespace ferry::detail
