#include "oci/image_reference.hpp"

#include <regex>

#include "ferry/error.hpp"

namespace ferry::oci {

namespace {

constexpr std::string_view kExpected =
    "expected [REGISTRY[:PORT]/]REPOSITORY[:TAG][@sha256:DIGEST], e.g. "
    "registry.example.com/team/flows:v1 or alpine:3.19 (the repository in lowercase letters, "
    "digits and . _ - separators)";

[[noreturn]] void invalid(std::string_view text, const std::string& why) {
  throw ValueError("Invalid image reference \"" + std::string(text) + "\": " + why + "; " +
                   std::string(kExpected) + ".");
}

// The grammar of github.com/distribution/reference.
const std::regex& component_re() {
  static const std::regex re("[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*");
  return re;
}
const std::regex& tag_re() {
  static const std::regex re("[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
  return re;
}
const std::regex& host_re() {
  // A DNS name or IPv4 address, or a bracketed IPv6 address, with an optional port.
  static const std::regex re(
      "(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
      "|\\[[0-9A-Fa-f:.]+\\])(?::[0-9]+)?");
  return re;
}

bool is_registry_component(std::string_view first) {
  return first.find('.') != std::string_view::npos || first.find(':') != std::string_view::npos ||
         first == "localhost";
}

}  // namespace

ImageReference ImageReference::parse(std::string_view text) {
  if (text.empty()) invalid(text, "it is empty");
  ImageReference ref;
  std::string_view name = text;

  if (auto at = name.find('@'); at != std::string_view::npos) {
    ref.digest = std::string(name.substr(at + 1));
    name = name.substr(0, at);
    static const std::regex digest_re("sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128}");
    if (!std::regex_match(ref.digest, digest_re)) {
      invalid(text, "the digest \"" + ref.digest +
                        "\" is not sha256: followed by 64 lowercase hex digits");
    }
  }
  // A ':' after the last '/' starts the tag (one before it is a registry's port).
  const auto slash = name.rfind('/');
  if (auto colon = name.rfind(':');
      colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    ref.tag = std::string(name.substr(colon + 1));
    name = name.substr(0, colon);
    if (!std::regex_match(ref.tag, tag_re())) {
      invalid(text, "the tag \"" + ref.tag +
                        "\" is not 1 to 128 letters, digits, '_', '.' or '-' (not starting "
                        "with '.' or '-')");
    }
  }
  if (name.empty()) invalid(text, "the repository name is empty");

  if (auto first = name.find('/');
      first != std::string_view::npos && is_registry_component(name.substr(0, first))) {
    ref.registry = std::string(name.substr(0, first));
    name = name.substr(first + 1);
    if (!std::regex_match(ref.registry, host_re())) {
      invalid(text, "the registry \"" + ref.registry + "\" is not a host name with optional :PORT");
    }
  } else {
    ref.registry = "docker.io";
  }
  if (ref.registry == "index.docker.io" || ref.registry == "registry-1.docker.io") {
    ref.registry = "docker.io";
  }
  ref.repository = std::string(name);
  if (ref.registry == "docker.io" && ref.repository.find('/') == std::string::npos) {
    ref.repository = "library/" + ref.repository;
  }

  // Each path component must be lowercase: Docker rejects "Team/Flows" outright.
  std::size_t begin = 0;
  for (;;) {
    const auto end = ref.repository.find('/', begin);
    const std::string part = ref.repository.substr(begin, end - begin);
    if (part.empty()) invalid(text, "the repository has an empty path component");
    if (!std::regex_match(part, component_re())) {
      invalid(text, "the repository component \"" + part +
                        "\" must be lowercase letters and digits, separated by '.', '_', '__' "
                        "or '-'");
    }
    if (end == std::string::npos) break;
    begin = end + 1;
  }
  if (ref.registry.size() + 1 + ref.repository.size() > 255) {
    invalid(text, "the name is longer than 255 characters");
  }
  if (ref.tag.empty() && ref.digest.empty()) ref.tag = "latest";
  return ref;
}

std::string ImageReference::str() const {
  std::string out = registry + "/" + repository;
  if (!tag.empty()) out += ":" + tag;
  if (!digest.empty()) out += "@" + digest;
  return out;
}

}  // namespace ferry::oci
