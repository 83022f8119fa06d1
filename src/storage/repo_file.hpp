// What the single-file repository storages (GitHub, GitLab, Bitbucket, CodeCommit) share:
// tokens from secrets, base64, URL pieces, API errors, and the path from fetched source text
// to a compiled flow.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "ferry/codec.hpp"
#include "ferry/flow.hpp"
#include "net/http_client.hpp"

namespace ferry::storage::repo {

// The token for a request: the secret named `secret_name` when one is named (missing: the
// secret store's ValueError naming it), else the secret or environment variable
// `default_name`, else nothing (anonymous). Every value found is registered for masking.
std::optional<std::string> token(const std::string& secret_name, const char* default_name);

// RFC 4648 base64; decoding skips whitespace (GitHub wraps its content at 60 columns) and
// throws FlowStorageError on anything else that is not base64.
std::string base64_encode(std::string_view bytes);
std::string base64_decode(std::string_view text);

// Percent-encodes each '/'-separated segment, keeping the slashes (file paths and ref names
// inside URL paths).
std::string encode_path(std::string_view path);

// Sends a request (retries as net::send); a request that got no response is a
// FlowStorageError naming `what`. Any status comes back: the caller maps them.
net::Response send(const net::Request& request, const std::string& what);

// "HTTP 404 Not Found from GET <url without query>" for a response that was not 2xx.
std::string status_text(const net::Request& request, const net::Response& response);

// The response body as a JSON object; FlowStorageError naming `what` otherwise.
Value json_body(const net::Response& response, const std::string& what);

// Whether text is a full 40-hex commit SHA-1.
bool is_commit_sha(std::string_view text);

// Script form of a fetched file: written once, content-addressed, to
// $FERRY_HOME/cache/<kind>/<sha256>/<file name of repo_path>, so a second run of the same
// content is a module cache hit and flow_file() ends in the repository's file name; then
// compiled (cached), loaded, and the flow `name` picked.
Flow load_fetched_source(std::string_view kind, std::string_view repo_path,
                         const std::string& content, const std::string& name);

}  // namespace ferry::storage::repo
