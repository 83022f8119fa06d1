// ferry image build-runtime: the ferry runtime image (the default base of Docker storage).
#include <cstdio>

#include "cli/commands.hpp"
#include "image/runtime_image.hpp"

namespace ferry::cli {

void add_image_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("image", "Container images for Docker storage and agents");
  cmd->require_subcommand(1);
  struct Args {
    std::string tag;
    std::string credentials_secret;
  };
  auto args = std::make_shared<Args>();
  CLI::App* build = cmd->add_subcommand(
      "build-runtime",
      "Build the ferry runtime image (this ferry, its libraries and a shell) and push it to a "
      "registry, without a Docker engine");
  build->add_option("--tag", args->tag, "Where to push it: REGISTRY/NAME:TAG")->required();
  build->add_option("--registry-credentials-secret", args->credentials_secret,
                    "Secret holding {\"username\", \"password\"} for the registry (default: the "
                    "docker config file)");
  build->callback([args] {
    std::string digest = image::build_runtime_image(args->tag, args->credentials_secret);
    std::printf("Pushed the ferry runtime image %s (%s)\n", args->tag.c_str(), digest.c_str());
  });
}

}  // namespace ferry::cli
