// The ferry runtime image: this ferry (its executable, libferry and every shared library
// they, libcurl and /bin/sh need, as `ldd` resolves them on this machine) as one image
// layer; optionally with a C++ compiler (for flows in script form) and more executables
// (git and ssh for Git storage over ssh). It is the default base of Docker storage and what the
// Docker agent runs when nothing else is named. Built without any engine, straight into a registry.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "oci/image_builder.hpp"

namespace ferry::image {

struct RuntimeImageOptions {
  // Adds g++ with everything it needs (the files of this machine's Debian packages g++
  // depends on), ferry's headers and libferry's link name, so flows in script form compile
  // inside the image. About 90 MB more, compressed.
  bool with_compiler = false;
  // More executables ("/usr/bin/git", "/usr/bin/ssh"), each at the same path in the image
  // with the shared libraries `ldd` resolves for it.
  std::vector<std::string> binaries{};
};

// The files of the runtime image, from this machine (paths in the image = paths here, but
// ferry itself goes to /usr/local/bin and libferry beside libc). No two share a path.
std::vector<oci::LayerEntry> runtime_files(const RuntimeImageOptions& options = {});

// The environment of the runtime image (PATH, FERRY_HOME, and where the compiler and
// ferry's headers are when it has them).
std::vector<std::pair<std::string, std::string>> runtime_env(const RuntimeImageOptions& options);

// Builds the runtime image and pushes it as `target` ("host:port/ferry-runtime:0.1.0");
// credentials as Docker storage finds them (the named secret, else the docker config file).
// Returns the pushed manifest digest.
std::string build_runtime_image(const std::string& target, const std::string& credentials_secret,
                                const RuntimeImageOptions& options = {});

}  // namespace ferry::image
