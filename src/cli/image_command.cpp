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
    image::RuntimeImageOptions options;
  };
  auto args = std::make_shared<Args>();
  CLI::App* build = cmd->add_subcommand(
      "build-runtime",
      "Build the ferry runtime image (this ferry, its libraries and a shell; optionally a "
      "compiler and more programs) and push it to a registry, without a Docker engine");
  build->add_option("--tag", args->tag, "Where to push it: REGISTRY/NAME:TAG")->required();
  build->add_option("--registry-credentials-secret", args->credentials_secret,
                    "Secret holding {\"username\", \"password\"} for the registry (default: the "
                    "docker config file)");
  build->add_flag("--with-compiler", args->options.with_compiler,
                  "Add g++ (from this machine's Debian packages) and ferry's headers, so flows "
                  "in script form compile inside the image (about 90 MB more)");
  build->add_option("--add-binary", args->options.binaries,
                    "Add an executable of this machine and the libraries it needs, at the same "
                    "path (e.g. /usr/bin/git and /usr/bin/ssh for Git storage over ssh); "
                    "repeatable");
  build->callback([args] {
    std::string digest =
        image::build_runtime_image(args->tag, args->credentials_secret, args->options);
    std::printf("Pushed the ferry runtime image %s (%s)\n", args->tag.c_str(), digest.c_str());
  });
}

}  // namespace ferry::cli
