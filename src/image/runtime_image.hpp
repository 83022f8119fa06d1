// The ferry runtime image: this ferry (its executable, libferry and every shared library
// they, libcurl and /bin/sh need, as `ldd` resolves them on this machine) as one image
// layer. It is the default base of Docker storage and what the Docker agent runs when
// nothing else is named. Built without any engine, straight into a registry.
#pragma once

#include <string>
#include <vector>

#include "oci/image_builder.hpp"

namespace ferry::image {

// The files of the runtime image, from this machine (paths in the image = paths here, but
// ferry itself goes to /usr/local/bin and libferry beside libc).
std::vector<oci::LayerEntry> runtime_files();

// Builds the runtime image and pushes it as `target` ("host:port/ferry-runtime:0.1.0");
// credentials as Docker storage finds them (the named secret, else the docker config file).
// Returns the pushed manifest digest.
std::string build_runtime_image(const std::string& target, const std::string& credentials_secret);

}  // namespace ferry::image
