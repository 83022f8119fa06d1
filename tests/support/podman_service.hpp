// A real container engine for the Docker tests: podman's Docker-compatible API service
// (`podman system service`) on a Unix socket in a temporary folder, with its own image store
// and run state there too, started once per test run and stopped by its process group at
// exit. Nothing in /var/lib/containers or /run/containers is used. Containers share the
// host's network namespace (no CNI or netavark setup needed) and run under runc.
#pragma once

#include <sys/types.h>

#include <string>

#include "support/test_support.hpp"

namespace ferry::test {

class PodmanService {
 public:
  // Whether podman and runc are installed and this process is root (the store and the
  // containers need it).
  static bool available();
  // The service of this test run, started on the first call. Throws std::runtime_error (with
  // the service's log) when it cannot start; later calls throw the same again.
  static PodmanService& shared();

  ~PodmanService();
  PodmanService(const PodmanService&) = delete;
  PodmanService& operator=(const PodmanService&) = delete;

  std::string base_url() const;     // unix:///tmp/ferry-test-.../podman.sock
  std::string socket_path() const;  // /tmp/ferry-test-.../podman.sock
  std::string root_dir() const;     // the image store (podman --root)
  std::string log() const;

 private:
  PodmanService();
  void wait_until_ready();
  void stop() noexcept;

  TempDir dir_;
  pid_t pid_ = -1;
};

// A tiny root filesystem as a tar (built with TarWriter from this machine's files): dash as
// /bin/sh and /bin/dash, cat, echo, and the shared libraries and loader they need, plus empty
// /etc, /tmp, /proc, /sys, /dev. Enough for RUN and CMD lines of a test Dockerfile.
std::string minimal_rootfs_tar();

}  // namespace ferry::test
