// The Backend of a `ferry server`, over its HTTP API (server/api_handler.hpp): what the CLI
// and agents use when FERRY_API_URL is set, so they behave as with the embedded backend.
//
// - The API key travels only in the Authorization header; no message ever carries it.
// - A server that does not answer (connection refused or dropped, timeouts) or answers 502,
//   503 or 504 is retried with exponential backoff (waits capped at 2 s) until retry_for has
//   passed since the call began: agents and running flows carry on across a restart of the
//   server or its database, and a report made during the outage is delivered after it.
//   Requests that create something (register, create run, claim, logs) may then take effect
//   twice when the server did act but its answer was lost; the effects are benign (an equal
//   version is not registered again; a doubly claimed run is found lost and rescheduled).
// - 401 is a ferry::Error saying to set FERRY_API_KEY; 400 and 404 are ferry::ValueError with
//   the server's message, except that getters give nullopt (or false) for 404 as the
//   embedded backend does; other statuses are ferry::Error.
// - The API-key methods throw: keys are managed on the server (`ferry server api-key ...`).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "backend/backend.hpp"

namespace ferry::backend {

struct RemoteOptions {
  std::string url;      // e.g. https://ferry.example.com:8443 (the API is under /api/v1)
  std::string api_key;  // FERRY_API_KEY
  std::string ca_file;  // PEM CA bundle for a server whose certificate is not publicly trusted
  std::chrono::seconds retry_for{300};
};

// Throws ferry::ValueError for an empty or non-http(s) URL or an empty key; does not
// contact the server.
std::unique_ptr<Backend> open_remote_backend(RemoteOptions options);

}  // namespace ferry::backend
