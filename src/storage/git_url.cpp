#include "storage/git_url.hpp"

#include <cctype>

#include "core/text.hpp"

namespace ferry::storage::git_detail {

namespace {

using detail::percent_decode;

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

}  // namespace

std::string build_clone_url(const GitOptions& o, const std::string& token) {
  std::string repo = o.repo.value_or("");
  if (o.use_ssh) return "git@" + o.repo_host + ":" + repo + ".git";
  std::string credentials;
  if (!token.empty()) {
    credentials = o.format_access_token ? o.git_token_username.value_or("") + ":" + token : token;
  }
  // A repo_host with a scheme ("http://host:port/prefix") is used as written.
  std::string scheme = "https://";
  std::string host = o.repo_host;
  for (std::string_view s : {"http://", "https://"}) {
    if (starts_with(host, s)) {
      scheme = std::string(s);
      host = host.substr(s.size());
    }
  }
  while (!host.empty() && host.back() == '/') host.pop_back();
  return scheme + credentials + "@" + host + "/" + repo + ".git";
}

std::string display_url(std::string_view url) {
  std::string out(url.substr(0, url.find_first_of("?#")));
  std::size_t scheme = out.find("://");
  if (scheme == std::string::npos) return out;  // scp-style: a user name at most
  std::size_t host_start = scheme + 3;
  std::size_t host_end = out.find('/', host_start);
  std::size_t at = out.rfind('@', host_end == std::string::npos ? out.size() : host_end);
  if (at != std::string::npos && at >= host_start) out.erase(host_start, at + 1 - host_start);
  return out;
}

UrlCredentials split_credentials(std::string_view url) {
  UrlCredentials c;
  c.url = std::string(url);
  if (!is_http_url(url)) return c;
  std::size_t host_start = url.find("://") + 3;
  std::size_t host_end = url.find_first_of("/?#", host_start);
  if (host_end == std::string_view::npos) host_end = url.size();
  std::size_t at = url.rfind('@', host_end - 1);
  if (at == std::string_view::npos || at < host_start) return c;
  std::string_view userinfo = url.substr(host_start, at - host_start);
  c.url = std::string(url.substr(0, host_start)) + std::string(url.substr(at + 1));
  if (userinfo.empty()) return c;  // the reference's bare "https://@host/..."
  std::size_t colon = userinfo.find(':');
  c.user = percent_decode(userinfo.substr(0, colon));
  if (colon != std::string_view::npos) c.password = percent_decode(userinfo.substr(colon + 1));
  c.has_credentials = true;
  return c;
}

bool is_http_url(std::string_view url) {
  return starts_with(url, "http://") || starts_with(url, "https://");
}

bool is_ssh_url(std::string_view url) {
  if (starts_with(url, "ssh://") || starts_with(url, "git+ssh://") ||
      starts_with(url, "ssh+git://"))
    return true;
  if (url.find("://") != std::string_view::npos) return false;
  // scp-style: [user@]host:path, where the part before ':' has no '/'.
  std::size_t colon = url.find(':');
  return colon != std::string_view::npos &&
         url.substr(0, colon).find('/') == std::string_view::npos;
}

std::string shell_quote(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out.push_back(c);
    }
  }
  return out + "'";
}

}  // namespace ferry::storage::git_detail
