// append_image against real docker-registry servers: scratch images, images on a base,
// reproducible digests, and copies between registries.
#include "oci/image_builder.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "core/digest.hpp"
#include "core/tar_writer.hpp"
#include "support/registry_server.hpp"
#include "support/test_support.hpp"
#include "unit/oci/oci_test_util.hpp"

namespace ferry::oci {
namespace {

using test::RegistryServer;

std::string sha(const std::string& bytes) { return "sha256:" + detail::sha256_hex(bytes); }

RegistryClient authed() {
  RegistryServer& s = RegistryServer::shared();
  return RegistryClient(s.host(), RegistryCredentials{s.username(), s.password()});
}

ImageReference ref(const std::string& host, const std::string& rest) {
  return ImageReference::parse(host + "/" + rest);
}

AppendSpec scratch_spec(const std::string& host, const std::string& target) {
  AppendSpec spec;
  spec.target = ref(host, target);
  spec.files = {{"/opt/ferry/flows/hello.txt", "hello\n"},
                {"/opt/ferry/bin/run.sh", "#!/bin/sh\necho run\n", "", 0755}};
  spec.env = {{"FERRY_FLOW", "hello"}, {"PATH", "/opt/ferry/bin:/usr/bin"}};
  spec.cmd = {"/opt/ferry/bin/run.sh"};
  spec.labels = {{"org.ferry.flow", "hello"}};
  spec.working_dir = "/opt/ferry";
  return spec;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST(OciImageBuilder, ScratchImageWithTwoFiles) {
  RegistryClient client = authed();
  const AppendSpec spec = scratch_spec(client.host(), "oci/scratch:v1");
  AppendResult result = append_image(client, client, spec);
  EXPECT_TRUE(result.pushed_new_layer);
  EXPECT_EQ(result.digest.rfind("sha256:", 0), 0u);

  Manifest m = client.get_manifest("oci/scratch", "v1");
  EXPECT_EQ(m.media_type, media_type::kOciManifest);
  EXPECT_EQ(m.digest, result.digest);
  Value manifest = Value::parse(m.body);
  ASSERT_EQ(manifest["layers"].size(), 1u);
  EXPECT_EQ(manifest["layers"][0]["mediaType"], media_type::kOciLayerGzip);
  EXPECT_EQ(manifest["layers"][0]["digest"], result.layer_digest);
  EXPECT_EQ(manifest["layers"][0]["size"], result.layer_bytes);
  EXPECT_EQ(manifest["config"]["mediaType"], media_type::kOciConfig);

  ImageConfig config = read_image_config(client, spec.target);
  EXPECT_EQ(config.manifest_digest, result.digest);
  EXPECT_EQ(config.layers, std::vector<std::string>{result.layer_digest});
  EXPECT_EQ(config.cmd, spec.cmd);
  EXPECT_EQ(config.working_dir, "/opt/ferry");
  EXPECT_EQ(config.labels.at("org.ferry.flow"), "hello");
  EXPECT_TRUE(contains(config.env, "FERRY_FLOW=hello"));
  EXPECT_EQ(config.created, "1970-01-01T00:00:00Z");
  EXPECT_EQ(config.config["os"], "linux");
  EXPECT_EQ(config.config["architecture"], "amd64");
  EXPECT_EQ(config.config["history"].size(), 1u);

  // The layer: gzip of a tar whose sha256 is the diff_id, holding both files and their parents.
  const std::string layer = client.get_blob("oci/scratch", result.layer_digest);
  EXPECT_EQ(layer.size(), result.layer_bytes);
  ASSERT_EQ(config.diff_ids.size(), 1u);
  EXPECT_EQ(config.diff_ids[0], sha(testing::gzip_dc(layer)));
  auto files = detail::read_tar_files(layer);
  EXPECT_EQ(files.size(), 2u);
  EXPECT_EQ(files["opt/ferry/flows/hello.txt"], "hello\n");
  EXPECT_EQ(files["opt/ferry/bin/run.sh"], "#!/bin/sh\necho run\n");
  const std::string listing = testing::tar_listing(layer);
  for (const char* dir : {"opt/\n", "opt/ferry/\n", "opt/ferry/bin/\n", "opt/ferry/flows/\n"}) {
    EXPECT_NE(listing.find(dir), std::string::npos) << listing;
  }
}

TEST(OciImageBuilder, AppendsOnTopOfABase) {
  RegistryClient client = authed();
  const AppendSpec base_spec = scratch_spec(client.host(), "oci/base:v1");
  AppendResult base = append_image(client, client, base_spec);

  test::TempDir src;
  test::write_text(src / "tree/a.txt", "A");
  test::write_text(src / "tree/sub/b.txt", "B");
  AppendSpec spec;
  spec.base = base_spec.target;
  spec.target = ref(client.host(), "oci/app:v1");  // another repository: base layers mounted
  spec.files = {{"/opt/ferry/flows/second.txt", "second"},
                {"/srv/tree", "", (src / "tree").string()}};
  spec.env = {{"FERRY_FLOW", "second"}, {"EXTRA", "1"}};
  AppendResult result = append_image(client, client, spec);
  EXPECT_TRUE(result.pushed_new_layer);
  EXPECT_NE(result.digest, base.digest);

  ImageConfig config = read_image_config(client, spec.target);
  ASSERT_EQ(config.layers.size(), 2u);
  EXPECT_EQ(config.layers[0], base.layer_digest);
  EXPECT_EQ(config.layers[1], result.layer_digest);
  EXPECT_EQ(config.diff_ids.size(), 2u);
  EXPECT_TRUE(contains(config.env, "FERRY_FLOW=second"));
  EXPECT_FALSE(contains(config.env, "FERRY_FLOW=hello"));
  EXPECT_TRUE(contains(config.env, "EXTRA=1"));
  EXPECT_TRUE(contains(config.env, "PATH=/opt/ferry/bin:/usr/bin"));
  EXPECT_EQ(config.cmd, base_spec.cmd);  // kept
  EXPECT_EQ(config.labels.at("org.ferry.flow"), "hello");
  EXPECT_EQ(config.config["history"].size(), 2u);
  EXPECT_TRUE(client.blob_exists("oci/app", base.layer_digest));

  auto files = detail::read_tar_files(client.get_blob("oci/app", result.layer_digest));
  EXPECT_EQ(files["opt/ferry/flows/second.txt"], "second");
  EXPECT_EQ(files["srv/tree/a.txt"], "A");
  EXPECT_EQ(files["srv/tree/sub/b.txt"], "B");
}

TEST(OciImageBuilder, SameSpecGivesTheSameDigest) {
  RegistryClient client = authed();
  AppendSpec spec = scratch_spec(client.host(), "oci/repeat:v1");
  AppendResult first = append_image(client, client, spec);
  AppendResult second = append_image(client, client, spec);
  EXPECT_TRUE(first.pushed_new_layer);
  EXPECT_FALSE(second.pushed_new_layer);
  EXPECT_EQ(first.digest, second.digest);
  EXPECT_EQ(first.layer_digest, second.layer_digest);

  // The order the files are listed in does not matter; their content does.
  std::reverse(spec.files.begin(), spec.files.end());
  EXPECT_EQ(append_image(client, client, spec).digest, first.digest);
  spec.files[0].content += "changed";
  AppendResult changed = append_image(client, client, spec);
  EXPECT_NE(changed.digest, first.digest);
  EXPECT_TRUE(changed.pushed_new_layer);
  EXPECT_EQ(client.resolve_digest("oci/repeat", "v1"), changed.digest);
}

TEST(OciImageBuilder, CopiesBaseLayersAcrossRegistries) {
  RegistryServer& open_server = RegistryServer::shared_open();
  RegistryClient open(open_server.host(), std::nullopt);
  RegistryClient target = authed();
  const AppendSpec base_spec = scratch_spec(open.host(), "oci/shared-base:v1");
  AppendResult base = append_image(open, open, base_spec);

  AppendSpec spec;
  spec.base = base_spec.target;
  spec.target = ref(target.host(), "oci/copied:v1");
  spec.files = {{"/opt/ferry/flows/copied.txt", "copied"}};
  AppendResult result = append_image(open, target, spec);
  EXPECT_TRUE(target.blob_exists("oci/copied", base.layer_digest));
  EXPECT_EQ(target.get_blob("oci/copied", base.layer_digest),
            open.get_blob("oci/shared-base", base.layer_digest));
  ImageConfig config = read_image_config(target, spec.target);
  EXPECT_EQ(config.layers.size(), 2u);
  EXPECT_EQ(config.manifest_digest, result.digest);
}

TEST(OciImageBuilder, KeepsTheDockerManifestFamilyOfTheBase) {
  RegistryClient client = authed();
  // A Docker v2 schema 2 base, as `docker push` makes: one real layer.
  detail::TarWriter tar(true);
  tar.add_directory("etc");
  tar.add_file("etc/base.conf", "base");
  const std::string layer = tar.finish();
  const std::string config =
      Value{{"architecture", "amd64"},
            {"os", "linux"},
            {"created", "2024-01-02T03:04:05Z"},
            {"config", {{"Env", {"PATH=/usr/bin"}}, {"Cmd", {"/bin/sh"}}}},
            {"rootfs", {{"type", "layers"}, {"diff_ids", {sha(testing::gzip_dc(layer))}}}}}
          .dump();
  client.put_blob("oci/docker-base", sha(layer), layer);
  client.put_blob("oci/docker-base", sha(config), config);
  Value manifest = {{"schemaVersion", 2},
                    {"mediaType", media_type::kDockerManifest},
                    {"config",
                     {{"mediaType", media_type::kDockerConfig},
                      {"digest", sha(config)},
                      {"size", config.size()}}},
                    {"layers",
                     {{{"mediaType", media_type::kDockerLayerGzip},
                       {"digest", sha(layer)},
                       {"size", layer.size()}}}}};
  client.put_manifest("oci/docker-base", "v1", media_type::kDockerManifest, manifest.dump());

  AppendSpec spec;
  spec.base = ref(client.host(), "oci/docker-base:v1");
  spec.target = ref(client.host(), "oci/docker-app:v1");
  spec.files = {{"/opt/ferry/flow.txt", "flow"}};
  spec.cmd = {"/opt/ferry/run"};
  append_image(client, client, spec);
  Manifest m = client.get_manifest("oci/docker-app", "v1");
  EXPECT_EQ(m.media_type, media_type::kDockerManifest);
  Value pushed = Value::parse(m.body);
  EXPECT_EQ(pushed["config"]["mediaType"], media_type::kDockerConfig);
  EXPECT_EQ(pushed["layers"][1]["mediaType"], media_type::kDockerLayerGzip);
  ImageConfig read = read_image_config(client, spec.target);
  EXPECT_EQ(read.created, "2024-01-02T03:04:05Z");  // the base's: fixed, so reproducible
  EXPECT_EQ(read.cmd, std::vector<std::string>{"/opt/ferry/run"});
  EXPECT_EQ(read.env, std::vector<std::string>{"PATH=/usr/bin"});
}

TEST(OciImageBuilder, MissingBaseIsTheNotFoundError) {
  RegistryClient client = authed();
  AppendSpec spec;
  spec.base = ref(client.host(), "oci/no-base:v1");
  spec.target = ref(client.host(), "oci/never:v1");
  spec.files = {{"/a", "a"}};
  const std::string message = testing::error_of([&] { append_image(client, client, spec); });
  EXPECT_NE(message.find("Image " + client.host() + "/oci/no-base:v1 not found in the registry"),
            std::string::npos)
      << message;
}

TEST(OciImageBuilder, GunzipRejectsOtherBytes) {
  EXPECT_THROW(gunzip("plain text, not gzip"), Error);
  detail::TarWriter tar(true);
  tar.add_file("x", "y");
  const std::string gz = tar.finish();
  EXPECT_EQ(gunzip(gz), testing::gzip_dc(gz));
}

}  // namespace
}  // namespace ferry::oci

namespace ferry::oci {
namespace {

// A real client reads what the builder pushed: podman pulls it (checking every blob's digest
// and each layer's diff_id) into a private store, and copies a file out of a container.
TEST(OciImageBuilderInterop, PodmanPullsTheImage) {
  if (::access("/usr/bin/podman", X_OK) != 0) GTEST_SKIP() << "podman is not installed";
  RegistryServer& server = RegistryServer::shared_open();
  RegistryClient client(server.host(), std::nullopt);
  const AppendSpec spec = scratch_spec(client.host(), "oci/podman:v1");
  AppendResult result = append_image(client, client, spec);

  test::TempDir store;
  auto podman = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {"podman",
                                     "--root",
                                     (store / "root").string(),
                                     "--runroot",
                                     (store / "run").string(),
                                     "--storage-driver",
                                     "vfs",
                                     "--cgroup-manager",
                                     "cgroupfs",
                                     "--events-backend",
                                     "none"};
    argv.insert(argv.end(), args.begin(), args.end());
    return test::run_command(argv, {}, std::chrono::seconds(120));
  };
  const std::string image = spec.target.str();
  test::CommandResult pull = podman({"pull", "--tls-verify=false", image});
  ASSERT_EQ(pull.exit_code, 0) << pull.out << pull.err;
  test::CommandResult inspect = podman({"image", "inspect", image});
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  Value info = Value::parse(inspect.out)[0];
  EXPECT_EQ(info["Digest"], result.digest);
  EXPECT_EQ(info["Config"]["Cmd"], Value(spec.cmd));
  EXPECT_EQ(info["Config"]["WorkingDir"], "/opt/ferry");
  test::CommandResult create = podman({"create", "--name", "ferry-oci-interop", image});
  ASSERT_EQ(create.exit_code, 0) << create.err;
  test::CommandResult cp = podman(
      {"cp", "ferry-oci-interop:/opt/ferry/flows/hello.txt", (store / "hello.txt").string()});
  EXPECT_EQ(cp.exit_code, 0) << cp.err;
  EXPECT_EQ(test::read_text(store / "hello.txt"), "hello\n");
  podman({"rm", "-f", "ferry-oci-interop"});
}

}  // namespace
}  // namespace ferry::oci
