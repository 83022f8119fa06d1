// The Azure Blob Storage client behind the Azure storage and result: Put Blob, Get Blob and
// an existence check on one container, over net::send, authorized with SharedKey (HMAC-SHA256
// of the documented canonical string) or with the connection string's SAS token.
#pragma once

#include <string>
#include <string_view>

#include "net/azure_connection_string.hpp"
#include "net/object_client.hpp"

namespace ferry::net {

// The Blob service version ferry speaks (x-ms-version, and the signed version of SAS tokens
// the tests make): one that azurite 3.35.0 and the cloud both accept.
inline constexpr std::string_view kAzureBlobApiVersion = "2021-12-02";

class AzureBlobClient : public ObjectClient {
 public:
  // Parses the connection string (ValueError when it is malformed or has no key or SAS).
  AzureBlobClient(std::string container, std::string connection_string);

  std::string uri(std::string_view key) const override;  // "az://container/key"
  ObjectInfo put(std::string_view key, std::string_view bytes,
                 const PutOptions& options = {}) override;
  ObjectData get(std::string_view key) override;
  bool exists(std::string_view key) override;

  // Creates the container (one that exists already is fine).
  void create_container();
  // Deletes a blob (a missing one is fine: the goal, no blob, is reached).
  void remove(std::string_view blob);

  const std::string& container() const { return container_; }
  const std::string& account() const { return connection_.account_name; }

 private:
  // Signs (or appends the SAS to) and sends a request for `path` ("/container[/blob]",
  // unencoded); maps a missing response to ObjectError Transient naming `subject`.
  Response send_request(Request request, std::string_view path, const std::string& subject);
  // The ObjectError for a response that is not what the caller wanted.
  ObjectError error_for(const Response& response, const std::string& subject) const;

  // "account 'name'", or the endpoint when a SAS string names no account.
  std::string account_label() const;

  std::string container_;
  AzureConnection connection_;
  std::string endpoint_path_;  // the path part of the blob endpoint ("" or "/devstoreaccount1")
};

}  // namespace ferry::net
