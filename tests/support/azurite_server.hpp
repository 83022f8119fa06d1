// azurite (the Azure Blob emulator, npm 3.35.0) for the Azure tests: started once per test
// run on a free 127.0.0.1 port in a temp folder, stopped by its process id at exit. It checks
// SharedKey signatures and SAS tokens for the well-known devstoreaccount1 account.
#pragma once

#include <chrono>
#include <string>

#include "support/git_servers.hpp"

namespace ferry::test {

class AzuriteServer : public ServerProcess {
 public:
  // The server shared by every test of this run (started on first use).
  static AzuriteServer& shared();

  AzuriteServer();

  // FERRY_AZURITE_BLOB, else where scripts/install-deps.sh puts azurite-blob.
  static std::string binary();

  // http://127.0.0.1:P/devstoreaccount1 (path-style: the account is the first segment).
  std::string blob_endpoint() const;
  // devstoreaccount1 with its well-known key and the BlobEndpoint above.
  std::string connection_string() const;
  // A connection string holding only the BlobEndpoint and an account SAS (Blob service,
  // resource types service/container/object) signed with the account key, valid until
  // `expiry` ("2099-01-01T00:00:00Z"; a past one makes a SAS the server refuses).
  std::string sas_connection_string(const std::string& permissions = "rwdlac",
                                    const std::string& expiry = "2099-01-01T00:00:00Z") const;
  // How long the server took to answer on its port.
  std::chrono::milliseconds start_time() const { return start_time_; }

 private:
  std::chrono::milliseconds start_time_{0};
};

// The account SAS query ("sv=...&ss=b&srt=sco&sp=...&se=...&spr=https,http&sig=...") for
// `account` signed with `base64_key`, following the documented string to sign of service
// version 2020-12-06 and later (which adds the encryption-scope line).
std::string make_account_sas(const std::string& account, const std::string& base64_key,
                             const std::string& permissions, const std::string& expiry);

}  // namespace ferry::test
