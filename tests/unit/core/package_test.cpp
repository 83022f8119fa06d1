// The frozen form: freeze/thaw round trips, and refusing bad packages before loading code.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "ferry/ferry.hpp"
#include "support/test_support.hpp"

namespace fs = std::filesystem;
using ferry::test::fixture;
using ferry::test::read_text;
using ferry::test::ScopedFerryHome;
using ferry::test::TempDir;

namespace {

ferry::Flow marker_flow() {
  ferry::CompileOptions o;
  o.cache = ferry::test::shared_module_cache();
  return ferry::load_flow_from_source(fixture("marker.cpp"), "marker", o);
}

std::size_t package_modules(const fs::path& home) {
  fs::path dir = home / "cache" / "packages";
  if (!fs::exists(dir)) return 0;
  return static_cast<std::size_t>(
      std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

// Rewrites the header JSON of a package with `edit` applied (keeping the payload).
std::string edit_header(const std::string& pkg, void (*edit)(ferry::Value&)) {
  auto u32 = [&](std::size_t at) {
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i)
      v |= std::uint32_t(static_cast<unsigned char>(pkg[at + i])) << (8 * i);
    return v;
  };
  std::uint32_t size = u32(12);
  ferry::Value header = ferry::Value::parse(pkg.substr(16, size));
  edit(header);
  std::string h = header.dump();
  std::string out = pkg.substr(0, 12);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((h.size() >> (8 * i)) & 0xff));
  return out + h + pkg.substr(16 + size);
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const ferry::FlowStorageError& e) {
    return e.what();
  }
  return "<no FlowStorageError>";
}

}  // namespace

TEST(Package, RoundTripRunsWithoutRebuildingTheFlow) {
  ScopedFerryHome home;
  TempDir dir;
  fs::path marker = dir / "marker";
  ::setenv("FERRY_TEST_MARKER", marker.c_str(), 1);
  ferry::Flow flow = marker_flow();
  std::string pkg = ferry::freeze_flow(flow);
  std::string before = read_text(marker);
  std::size_t builds = static_cast<std::size_t>(std::count(before.begin(), before.end(), '\n'));
  EXPECT_EQ(builds, 1u) << "loading the source runs its FERRY_FLOWS block once";
  ::unsetenv("FERRY_TEST_MARKER");

  ferry::Flow thawed = ferry::thaw_flow_bytes(pkg, "test.ferry");
  ::setenv("FERRY_TEST_MARKER", marker.c_str(), 1);
  ferry::RunResult r = thawed.run({{"x", 4}});
  ::unsetenv("FERRY_TEST_MARKER");
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.result, 26);
  EXPECT_EQ(thawed.name(), "marker");
  EXPECT_EQ(thawed.task_names(), flow.task_names());
  EXPECT_EQ(thawed.to_json(), flow.to_json());
  std::string after = read_text(marker);
  EXPECT_EQ(static_cast<std::size_t>(std::count(after.begin(), after.end(), '\n')), builds)
      << "thawing a frozen flow ran its FERRY_FLOWS block";
  EXPECT_TRUE(ferry::flow_file().empty());
}

TEST(Package, InspectReportsTheEnvelope) {
  std::string pkg = ferry::freeze_flow(marker_flow());
  ferry::PackageInfo info = ferry::inspect_package(pkg);
  EXPECT_EQ(info.format, 1);
  EXPECT_EQ(info.flow_name, "marker");
  EXPECT_EQ(info.payload_sha256.size(), 64u);
  EXPECT_EQ(info.versions["ferry_version"], FERRY_VERSION);
  EXPECT_EQ(info.versions["module_abi"], FERRY_MODULE_ABI);
  for (const char* k : {"compiler", "stdlib", "arch"}) EXPECT_TRUE(info.versions.contains(k)) << k;
  EXPECT_GT(info.module_size, 1000u);
}

TEST(Package, CorruptedPayloadIsRefusedBeforeLoading) {
  ScopedFerryHome home;
  std::string pkg = ferry::freeze_flow(marker_flow());
  pkg[pkg.size() - 100] ^= 0x55;
  std::string err = error_of([&] { ferry::thaw_flow_bytes(pkg, "bad.ferry"); });
  EXPECT_NE(err.find("bad.ferry"), std::string::npos) << err;
  EXPECT_NE(err.find("corrupted or was tampered with"), std::string::npos) << err;
  EXPECT_EQ(package_modules(home.path()), 0u) << "a refused package's module was written";
}

TEST(Package, TruncatedPackageIsRefused) {
  ScopedFerryHome home;
  std::string pkg = ferry::freeze_flow(marker_flow());
  for (std::size_t keep : {pkg.size() - 1, pkg.size() / 2, std::size_t(20), std::size_t(5)}) {
    std::string err = error_of([&] { ferry::thaw_flow_bytes(pkg.substr(0, keep), "cut.ferry"); });
    EXPECT_TRUE(err.find("truncated") != std::string::npos ||
                err.find("not a ferry flow package") != std::string::npos)
        << keep << ": " << err;
  }
  EXPECT_EQ(package_modules(home.path()), 0u);
}

TEST(Package, NotAPackage) {
  std::string err =
      error_of([] { ferry::thaw_flow_bytes(std::string("hello world, not a package"), "x"); });
  EXPECT_NE(err.find("not a ferry flow package"), std::string::npos) << err;
}

TEST(Package, AbiMismatchListsEachDifferingVersion) {
  ScopedFerryHome home;
  std::string pkg = edit_header(ferry::freeze_flow(marker_flow()), [](ferry::Value& h) {
    h["versions"]["module_abi"] = 99;
    h["versions"]["compiler"] = "gcc 1.0";
  });
  std::string err = error_of([&] { ferry::thaw_flow_bytes(pkg, "old.ferry"); });
  EXPECT_NE(err.find("version mismatches"), std::string::npos) << err;
  EXPECT_NE(err.find("  - module_abi: (flow built with '99', currently running with '" +
                     std::to_string(FERRY_MODULE_ABI) + "')"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("  - compiler: (flow built with 'gcc 1.0'"), std::string::npos) << err;
  EXPECT_EQ(err.find("  - arch:"), std::string::npos) << "arch did not differ: " << err;
  EXPECT_NE(err.find("Re-register"), std::string::npos) << err;
  EXPECT_NE(err.find("stored_as_script"), std::string::npos) << err;
  EXPECT_EQ(package_modules(home.path()), 0u);
}

TEST(Package, NewerFormatIsRefused) {
  std::string pkg = ferry::freeze_flow(marker_flow());
  pkg[8] = 7;
  std::string err = error_of([&] { ferry::thaw_flow_bytes(pkg, "new.ferry"); });
  EXPECT_NE(err.find("format 7"), std::string::npos) << err;
}

TEST(Package, FileRoundTripAndMissingFile) {
  ScopedFerryHome home;
  TempDir dir;
  ferry::freeze_flow(marker_flow(), dir / "m.ferry");
  EXPECT_TRUE(ferry::thaw_flow(dir / "m.ferry").run().ok());
  std::string err = error_of([&] { ferry::thaw_flow(dir / "missing.ferry"); });
  EXPECT_NE(err.find("missing.ferry"), std::string::npos) << err;
}

int in_process_task() { return 1; }

TEST(Package, FlowBuiltInProcessCannotBeFrozen) {
  ferry::Flow flow("local");
  flow.task<in_process_task>();
  EXPECT_THROW(ferry::freeze_flow(flow), ferry::ValueError);
}
