// Files of Debian packages installed on this machine, as dpkg knows them: how the runtime
// image gets a C++ compiler (g++ and everything it depends on) without a package manager
// running inside the image.
#pragma once

#include <string>
#include <vector>

namespace ferry::image {

// `packages` and everything they depend on (Depends and Pre-Depends, recursively), as
// installed here: of alternatives ("a | b") the first installed one; virtual or missing
// dependencies are skipped. A named package that is not installed is a ferry::Error with
// the apt-get command that installs it. Sorted.
std::vector<std::string> installed_dependency_closure(const std::vector<std::string>& packages);

// The regular files and symlinks (not to folders) `package` installed, without its
// documentation, manual pages and translations. Paths as dpkg lists them (/lib/..., /usr/...).
std::vector<std::string> package_files(const std::string& package);

}  // namespace ferry::image
