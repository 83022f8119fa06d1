// Image references as Docker reads them: [REGISTRY[:PORT]/]REPOSITORY[:TAG][@DIGEST].
#pragma once

#include <string>
#include <string_view>

namespace ferry::oci {

struct ImageReference {
  std::string registry;    // "docker.io", "ghcr.io", "127.0.0.1:5000", ...
  std::string repository;  // "library/alpine", "team/flows"
  std::string tag;         // "latest" unless a digest was given without a tag
  std::string digest;      // "sha256:<64 hex>" or ""

  // Docker's rules: the first path component is a registry only if it contains '.' or ':'
  // or is "localhost"; otherwise the registry is docker.io, where one-component names are
  // under "library/". The tag defaults to "latest" when there is no digest. Throws
  // ferry::ValueError naming the expected form when the text is not a valid reference.
  static ImageReference parse(std::string_view text);

  // "registry/repository:tag", "registry/repository@digest" or both "...:tag@digest".
  std::string str() const;
  // What the registry API takes after /manifests/: the digest if any, else the tag.
  std::string reference() const { return digest.empty() ? tag : digest; }
};

}  // namespace ferry::oci
