// Fetched packages: one SHA-256 pass when the digest recorded at registration matched, and
// every tampered package still refused (by that digest, or by the package's own payload
// digest when nothing was recorded).
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>

#include "core/digest.hpp"
#include "core/package.hpp"
#include "ferry/ferry.hpp"
#include "storage/fetched_flow.hpp"
#include "support/test_support.hpp"

namespace fs = std::filesystem;
using ferry::detail::sha256_hex;
using ferry::storage::thaw_fetched_package;
using ferry::test::fixture;
using ferry::test::ScopedFerryHome;

namespace {

std::string marker_package() {
  ferry::CompileOptions o;
  o.cache = ferry::test::shared_module_cache();
  return ferry::freeze_flow(ferry::load_flow_from_source(fixture("marker.cpp"), "marker", o));
}

// The package with one byte of its payload (in the module, near the end) flipped: its header
// still names the original payload's digest.
std::string tampered(std::string pkg) {
  pkg[pkg.size() - 100] ^= 0x55;
  return pkg;
}

// The package with the payload digest in its header replaced (payload untouched).
std::string with_header_digest(const std::string& pkg, const std::string& digest) {
  std::size_t at = pkg.find(ferry::inspect_package(pkg).payload_sha256);
  return pkg.substr(0, at) + digest + pkg.substr(at + digest.size());
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

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::size_t package_modules(const fs::path& home) {
  fs::path dir = home / "cache" / "packages";
  if (!fs::exists(dir)) return 0;
  return static_cast<std::size_t>(
      std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

const char* const kRecorded = "does not match the SHA-256 digest recorded at registration";
const char* const kPayload = "its payload does not match its SHA-256 digest";

}  // namespace

TEST(FetchedPackage, IntactPackageLoadsWithOrWithoutTheDownloadDigest) {
  ScopedFerryHome home;
  std::string pkg = marker_package();
  std::map<std::string, std::string> digests{{"marker", sha256_hex(pkg)}};
  EXPECT_EQ(thaw_fetched_package(pkg, "marker", digests, "s3://b/k").name(), "marker");
  EXPECT_EQ(thaw_fetched_package(pkg, "marker", digests, "s3://b/k", sha256_hex(pkg)).name(),
            "marker");
  EXPECT_EQ(thaw_fetched_package(pkg, "marker", {}, "s3://b/k").name(), "marker");
}

TEST(FetchedPackage, TamperedPayloadIsRefusedByTheRecordedDigest) {
  ScopedFerryHome home;
  std::string pkg = marker_package();
  std::string bad = tampered(pkg);
  std::map<std::string, std::string> digests{{"marker", sha256_hex(pkg)}};
  // Hashed here, and hashed while downloading (the digest of the bytes actually received).
  for (std::string given : {std::string(), sha256_hex(bad)}) {
    std::string err =
        error_of([&] { thaw_fetched_package(bad, "marker", digests, "s3://b/k", given); });
    EXPECT_TRUE(has(err, kRecorded)) << err;
    EXPECT_TRUE(has(err, sha256_hex(bad))) << "names the digest found: " << err;
  }
  EXPECT_EQ(package_modules(home.path()), 0u) << "a refused package's module was written";
}

TEST(FetchedPackage, WithoutARecordedDigestThePayloadDigestIsStillChecked) {
  ScopedFerryHome home;
  std::string bad = tampered(marker_package());
  // No digest recorded at all, or only for another flow: the package's own check runs.
  for (const std::map<std::string, std::string>& digests :
       {std::map<std::string, std::string>{},
        std::map<std::string, std::string>{{"other", sha256_hex(bad)}}}) {
    std::string err = error_of(
        [&] { thaw_fetched_package(bad, "marker", digests, "s3://b/k", sha256_hex(bad)); });
    EXPECT_TRUE(has(err, kPayload)) << err;
  }
  EXPECT_EQ(package_modules(home.path()), 0u);
}

TEST(FetchedPackage, RecordedDigestCoversTheHeaderToo) {
  // A package whose header names another payload digest (the payload left intact): its own
  // check refuses it, and so does the recorded digest of the package ferry froze.
  ScopedFerryHome home;
  std::string pkg = marker_package();
  std::string bad = with_header_digest(pkg, std::string(64, '0'));
  std::map<std::string, std::string> digests{{"marker", sha256_hex(pkg)}};
  EXPECT_TRUE(has(error_of([&] { thaw_fetched_package(bad, "marker", {}, "x"); }), kPayload));
  EXPECT_TRUE(has(error_of([&] { thaw_fetched_package(bad, "marker", digests, "x"); }), kRecorded));
}

TEST(FetchedPackage, PayloadCheckIsSkippedOnlyAfterTheRecordedDigestMatched) {
  // The skip itself: the same bytes, refused by thaw_flow_bytes and by the Unverified path,
  // are not hashed again once the caller says the whole package matched its recorded digest
  // (here they did: the recorded digest is taken over these very bytes).
  ScopedFerryHome home;
  std::string bad = with_header_digest(marker_package(), std::string(64, '0'));
  EXPECT_TRUE(has(error_of([&] { ferry::thaw_flow_bytes(bad, "x"); }), kPayload));
  EXPECT_TRUE(has(error_of([&] {
                    ferry::detail::thaw_package(bad, "x", ferry::detail::PackageBytes::Unverified);
                  }),
                  kPayload));
  EXPECT_EQ(
      ferry::detail::thaw_package(bad, "x", ferry::detail::PackageBytes::MatchedRecordedDigest)
          .name(),
      "marker");
  std::map<std::string, std::string> digests{{"marker", sha256_hex(bad)}};
  EXPECT_EQ(thaw_fetched_package(bad, "marker", digests, "x").name(), "marker");
}
