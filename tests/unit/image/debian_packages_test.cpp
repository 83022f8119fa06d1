// The Debian package queries behind `ferry image build-runtime --with-compiler`, against this
// machine's dpkg database (the build needs g++ and nlohmann-json3-dev installed).
#include "image/debian_packages.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include "ferry/error.hpp"

namespace {

using ferry::image::installed_dependency_closure;
using ferry::image::package_files;

bool has(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

TEST(DebianPackages, ClosureOfGxxHoldsTheCompilerAndTheCLibrary) {
  std::vector<std::string> closure = installed_dependency_closure({"g++"});
  EXPECT_TRUE(has(closure, "g++"));
  EXPECT_TRUE(has(closure, "binutils")) << "the assembler and linker";
  EXPECT_TRUE(has(closure, "libc6-dev")) << "the C headers and crt files";
  EXPECT_TRUE(has(closure, "libc6"));
  EXPECT_TRUE(std::is_sorted(closure.begin(), closure.end()));
  EXPECT_FALSE(has(closure, "git")) << "nothing g++ does not depend on";
}

TEST(DebianPackages, PackageNotInstalledNamesTheAptGetCommand) {
  try {
    installed_dependency_closure({"ferry-no-such-package"});
    FAIL() << "expected an error";
  } catch (const ferry::Error& e) {
    EXPECT_NE(std::string(e.what()).find("apt-get install -y ferry-no-such-package"),
              std::string::npos)
        << e.what();
  }
}

TEST(DebianPackages, FilesSkipDocumentationAndFolders) {
  std::vector<std::string> files = package_files("libc6");
  EXPECT_TRUE(std::any_of(files.begin(), files.end(), [](const std::string& f) {
    return f.size() > 10 && f.compare(f.size() - 10, 10, "/libc.so.6") == 0;
  }));
  for (const std::string& f : files) {
    EXPECT_NE(f.rfind("/usr/share/doc/", 0), 0u) << f;
    EXPECT_FALSE(std::filesystem::is_directory(f)) << f;
  }
}

}  // namespace
