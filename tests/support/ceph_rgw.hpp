// A real S3 server for the tests: Ceph RGW on a one-node Ceph cluster (DESIGN.md §8) in a
// temporary folder, started once per test run. ceph-mon (auth none) and one memstore OSD
// listen on 127.0.0.1 only; radosgw serves S3 with the beast frontend on a free port.
// Everything (config, mon store, sockets, logs) lives in the temp folder: nothing in
// /etc/ceph or /var/lib/ceph is read or written. radosgw, then the OSD, then the mon are
// stopped by their PIDs at exit.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "support/test_support.hpp"

namespace ferry::test {

class CephRgw {
 public:
  // Whether ceph-mon, ceph-osd, radosgw, radosgw-admin, monmaptool and osdmaptool are installed.
  static bool available();
  // The cluster of this test run, started on the first call. Throws std::runtime_error
  // (with the daemons' logs) when it cannot start; later calls throw the same again.
  static CephRgw& shared();

  ~CephRgw();
  CephRgw(const CephRgw&) = delete;
  CephRgw& operator=(const CephRgw&) = delete;

  std::string endpoint() const;  // "http://127.0.0.1:<port>"
  const std::string& access_key() const { return access_key_; }
  const std::string& secret_key() const { return secret_key_; }
  // How long starting took, in seconds, and per step ("mon mkfs 0.41 s, ...").
  double start_seconds() const { return start_seconds_; }
  const std::string& start_steps() const { return steps_; }
  // The tails of the daemons' logs, for failure messages.
  std::string logs() const;

 private:
  CephRgw();
  void start();
  void stop() noexcept;
  std::string config() const;
  pid_t spawn_daemon(const std::string& name, const std::vector<std::string>& argv);
  void run_tool(const std::string& what, const std::vector<std::string>& argv);
  void wait_for_osd();
  void wait_for_rgw();

  TempDir dir_;
  std::string fsid_;
  int mon_port_ = 0;
  int rgw_port_ = 0;
  pid_t mon_pid_ = -1;
  pid_t osd_pid_ = -1;
  pid_t rgw_pid_ = -1;
  std::string access_key_;
  std::string secret_key_;
  double start_seconds_ = 0;
  std::string steps_;
};

}  // namespace ferry::test
