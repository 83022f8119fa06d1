// CodeCommit storage: a flow source file in an AWS CodeCommit repository, fetched with the
// GetFile API when a run starts. See docs/storage/codecommit.md.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ferry/codec.hpp"
#include "ferry/storage/storage.hpp"

namespace ferry::storage {

struct CodeCommitOptions {
  std::string repo{};    // repository name, required
  std::string path{};    // the flow source in the repository, required
  std::string commit{};  // commit id, branch, tag or refs/heads/x; default the default branch
  // boto3-style: aws_access_key_id, aws_secret_access_key, aws_session_token, region_name,
  // endpoint_url, profile_name. The three credential keys are left out of the descriptor
  // (no secret is ever stored), so agents need the AWS_CREDENTIALS secret, the environment
  // or a profile; the other keys are stored.
  Value client_options = nullptr;
  std::vector<std::string> labels{};
  std::optional<bool> add_default_labels{};
  std::vector<std::string> secrets{};
};

// Script only. get_flow calls GetFile (signed with SigV4; credentials, region and endpoint as
// in src/net/aws_credentials.hpp), compiles the file and picks the flow by name;
// fetched_pin() is {"commit": the commitId GetFile answered}.
class CodeCommit : public Storage {
 public:
  // ValueError when repo or path is empty, or client_options is neither null nor an object.
  explicit CodeCommit(CodeCommitOptions options);
  const CodeCommitOptions& options() const;
};

}  // namespace ferry::storage
