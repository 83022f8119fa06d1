#include "net/sigv4.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <map>

#include "core/digest.hpp"
#include "core/text.hpp"
#include "ferry/error.hpp"

namespace ferry::net::sigv4 {

namespace {

const char kAlgorithm[] = "AWS4-HMAC-SHA256";

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

using detail::percent_decode;

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    std::size_t at = text.find(sep, start);
    parts.push_back(text.substr(start, at == text.npos ? text.npos : at - start));
    if (at == text.npos) return parts;
    start = at + 1;
  }
}

// Trimmed, with runs of spaces inside made one (AWS's header value rule).
std::string canonical_value(std::string_view value) {
  std::string t = detail::trim(value);
  std::string out;
  for (char c : t) {
    if (c == ' ' && !out.empty() && out.back() == ' ') continue;
    out.push_back(c);
  }
  return out;
}

std::string header_value(const Fields& headers, std::string_view name) {
  for (const auto& [n, v] : headers) {
    if (detail::iequals(n, name)) return v;
  }
  return {};
}

void remove_header(Fields& headers, std::string_view name) {
  headers.erase(std::remove_if(headers.begin(), headers.end(),
                               [&](const auto& h) { return detail::iequals(h.first, name); }),
                headers.end());
}

void set_header(Fields& headers, const std::string& name, const std::string& value) {
  remove_header(headers, name);
  headers.emplace_back(name, value);
}

}  // namespace

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &size);
  return std::string(reinterpret_cast<char*>(out), size);
}

std::string hex(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

std::string amz_date(std::chrono::system_clock::time_point time) {
  std::time_t t = std::chrono::system_clock::to_time_t(time);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[20];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::string canonical_uri(std::string_view path, bool s3) {
  if (path.empty()) return "/";
  std::vector<std::string> segments;
  for (std::string_view seg : split(path.substr(path[0] == '/' ? 1 : 0), '/')) {
    if (s3) {
      segments.push_back(url_encode(percent_decode(seg)));
    } else if (seg == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (!seg.empty() && seg != ".") {
      segments.push_back(url_encode(seg));  // encoded again, as the service computes it
    }
  }
  std::string out;
  for (const std::string& s : segments) out += "/" + s;
  bool trailing = path.back() == '/' || (!s3 && (path.ends_with("/.") || path.ends_with("/..")));
  if (out.empty() || (trailing && !s3 && out != "/")) out += "/";
  return out;
}

std::string canonical_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> pairs;
  for (std::string_view part : split(query, '&')) {
    if (part.empty()) continue;
    std::size_t eq = part.find('=');
    std::string_view name = part.substr(0, eq);
    std::string_view value = eq == part.npos ? std::string_view() : part.substr(eq + 1);
    pairs.emplace_back(url_encode(percent_decode(name)), url_encode(percent_decode(value)));
  }
  std::sort(pairs.begin(), pairs.end());
  std::string out;
  for (const auto& [n, v] : pairs) out += (out.empty() ? "" : "&") + n + "=" + v;
  return out;
}

Signature sign_message(const Message& m, const AwsCredentials& credentials,
                       const Options& options) {
  // Names lowercased and sorted; repeated headers joined in the order given.
  std::map<std::string, std::string> headers;
  for (const auto& [name, value] : m.headers) {
    std::string key = lower(detail::trim(name));
    auto [it, fresh] = headers.emplace(key, canonical_value(value));
    if (!fresh) it->second += "," + canonical_value(value);
  }
  std::string date = header_value(m.headers, "x-amz-date");
  if (date.empty()) date = amz_date(options.time);
  std::string day = date.substr(0, 8);
  std::string scope = day + "/" + options.region + "/" + options.service + "/aws4_request";

  Signature s;
  std::string canonical_headers;
  for (const auto& [name, value] : headers) {
    canonical_headers += name + ":" + value + "\n";
    s.signed_headers += (s.signed_headers.empty() ? "" : ";") + name;
  }
  std::string payload =
      options.payload_hash.empty() ? detail::sha256_hex(m.body) : options.payload_hash;
  s.canonical_request = m.method + "\n" + canonical_uri(m.path, options.s3) + "\n" +
                        canonical_query(m.query) + "\n" + canonical_headers + "\n" +
                        s.signed_headers + "\n" + payload;
  s.string_to_sign = std::string(kAlgorithm) + "\n" + date + "\n" + scope + "\n" +
                     detail::sha256_hex(s.canonical_request);
  std::string key = hmac_sha256("AWS4" + credentials.secret_access_key, day);
  key = hmac_sha256(key, options.region);
  key = hmac_sha256(key, options.service);
  key = hmac_sha256(key, "aws4_request");
  s.signature = hex(hmac_sha256(key, s.string_to_sign));
  s.authorization = std::string(kAlgorithm) + " Credential=" + credentials.access_key_id + "/" +
                    scope + ", SignedHeaders=" + s.signed_headers + ", Signature=" + s.signature;
  return s;
}

Signature sign_request(Request& request, const AwsCredentials& credentials,
                       const Options& options) {
  // Sign exactly what goes on the wire: the params move into the URL first.
  request.url = url_with_params(request.url, request.params);
  request.params.clear();
  std::string_view url = request.url;
  std::size_t scheme_end = url.find("://");
  if (scheme_end == url.npos)
    throw ValueError("Cannot sign a request to '" + redact_url(url) + "'");
  std::string scheme = lower(url.substr(0, scheme_end));
  std::size_t authority_start = scheme_end + 3;
  std::size_t path_start = url.find_first_of("/?#", authority_start);
  std::string_view authority =
      url.substr(authority_start, path_start == url.npos ? url.npos : path_start - authority_start);
  if (std::size_t at = authority.rfind('@'); at != authority.npos) authority.remove_prefix(at + 1);
  std::string host(authority);
  if ((scheme == "https" && host.ends_with(":443")) || (scheme == "http" && host.ends_with(":80")))
    host.erase(host.rfind(':'));
  Message m;
  m.method = request.method;
  if (path_start != url.npos) {
    std::string_view rest = url.substr(path_start);
    rest = rest.substr(0, rest.find('#'));
    std::size_t q = rest.find('?');
    m.path = std::string(rest.substr(0, q));
    if (q != rest.npos) m.query = std::string(rest.substr(q + 1));
  }
  if (m.path.empty()) m.path = "/";
  m.body = request.body;

  std::string payload =
      options.payload_hash.empty() ? detail::sha256_hex(request.body) : options.payload_hash;
  set_header(request.headers, "Host", host);
  set_header(request.headers, "X-Amz-Date", amz_date(options.time));
  if (!credentials.session_token.empty())
    set_header(request.headers, "X-Amz-Security-Token", credentials.session_token);
  if (options.s3) set_header(request.headers, "X-Amz-Content-Sha256", payload);
  remove_header(request.headers, "Authorization");  // not signed itself
  m.headers = request.headers;
  Options o = options;
  o.payload_hash = payload;
  Signature s = sign_message(m, credentials, o);
  request.headers.emplace_back("Authorization", s.authorization);
  return s;
}

std::optional<Authorization> parse_authorization(std::string_view header) {
  std::string prefix = std::string(kAlgorithm) + " ";
  if (!header.starts_with(prefix)) return std::nullopt;
  Authorization a;
  for (std::string_view part : split(header.substr(prefix.size()), ',')) {
    std::string p = detail::trim(part);
    std::size_t eq = p.find('=');
    if (eq == std::string::npos) return std::nullopt;
    std::string name = p.substr(0, eq), value = p.substr(eq + 1);
    if (name == "Credential") {
      std::vector<std::string_view> c = split(value, '/');
      if (c.size() != 5 || c[4] != "aws4_request") return std::nullopt;
      a.access_key_id = c[0];
      a.date = c[1];
      a.region = c[2];
      a.service = c[3];
    } else if (name == "SignedHeaders") {
      for (std::string_view h : split(value, ';')) a.signed_headers.emplace_back(h);
    } else if (name == "Signature") {
      a.signature = value;
    }
  }
  if (a.access_key_id.empty() || a.signature.empty() || a.signed_headers.empty())
    return std::nullopt;
  return a;
}

}  // namespace ferry::net::sigv4
