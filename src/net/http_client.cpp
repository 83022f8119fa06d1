#include "net/http_client.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>

#include "core/big_buffer.hpp"
#include "core/digest.hpp"
#include "core/text.hpp"
#include "net/curl_api.hpp"

namespace ferry::net {

namespace {

using detail::iequals;
using detail::trim;

struct Capture {
  Response* response;
  detail::Sha256* body_digest;  // null unless the request asked for hash_body
  const std::function<void(std::string_view)>* stream = nullptr;  // Request::on_body, if set
  const CurlApi* api = nullptr;
  CURL* curl = nullptr;
  bool delivered = false;      // some body bytes went to `stream`
  std::exception_ptr error{};  // what `stream` threw (rethrown once libcurl has returned)
};

// Whether the response being received is a 2xx one (libcurl knows its status line by the
// time the body arrives).
bool receiving_success(const Capture& capture) {
  long status = 0;
  capture.api->easy_getinfo(capture.curl, CURLINFO_RESPONSE_CODE, &status);
  return status >= 200 && status < 300;
}

size_t on_body(char* data, size_t size, size_t n, void* user) {
  Capture& capture = *static_cast<Capture*>(user);
  std::string_view chunk(data, size * n);
  if (capture.body_digest) capture.body_digest->update(chunk);
  if (capture.stream && receiving_success(capture)) {
    capture.delivered = true;
    // An exception must not unwind through libcurl's C frames: keep it, abort the transfer
    // (returning less than given), and rethrow it after easy_perform.
    try {
      (*capture.stream)(chunk);
    } catch (...) {
      capture.error = std::current_exception();
      return 0;
    }
    return chunk.size();
  }
  capture.response->body.append(chunk);
  return chunk.size();
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  Capture& capture = *static_cast<Capture*>(user);
  Response& r = *capture.response;
  std::string_view line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {
    r.headers.clear();  // a new response (after a redirect or 100 Continue)
  } else if (std::size_t colon = line.find(':'); colon != std::string_view::npos) {
    r.headers.emplace_back(trim(line.substr(0, colon)), trim(line.substr(colon + 1)));
    // One allocation for the whole body (a 5 MB package grown by appends costs several
    // times the transfer on first-touch page faults), in huge pages when it is big. Capped:
    // the header is the server's.
    if (!capture.stream && iequals(r.headers.back().first, "Content-Length")) {
      std::size_t length = std::strtoull(r.headers.back().second.c_str(), nullptr, 10);
      if (length <= (std::size_t{1} << 30)) detail::reserve_big(r.body, length);
    }
  }
  return size * n;
}

bool retryable_status(long status) { return status == 429 || status == 500 || status == 503; }

bool retryable_code(CURLcode c) {
  switch (c) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
      return true;
    default:
      return false;
  }
}

struct Attempt {
  CURLcode code = CURLE_OK;
  Response response;
  bool delivered = false;  // body bytes went to Request::on_body: no retry
};

Attempt attempt_once(const Request& req) {
  const CurlApi& api = curl_api();
  Attempt a;
  CURL* curl = api.easy_init();
  if (!curl) {
    a.code = CURLE_FAILED_INIT;
    return a;
  }
  std::string url = url_with_params(req.url, req.params);
  curl_slist* headers = nullptr;
  bool has_content_type = false;
  for (const auto& [name, value] : req.headers) {
    if (iequals(name, "Content-Type")) has_content_type = true;
    std::string line = value.empty() ? name + ";" : name + ": " + value;
    headers = api.slist_append(headers, line.c_str());
  }
  // libcurl would add these on its own; a plain client sends neither.
  if (!has_content_type) headers = api.slist_append(headers, "Content-Type:");
  headers = api.slist_append(headers, "Expect:");

  std::optional<detail::Sha256> body_digest;
  if (req.hash_body) body_digest.emplace();
  Capture capture{&a.response, body_digest ? &*body_digest : nullptr};
  if (req.on_body) capture.stream = &req.on_body;
  capture.api = &api;
  capture.curl = curl;
  api.easy_setopt(curl, CURLOPT_URL, url.c_str());
  api.easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  api.easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  api.easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  api.easy_setopt(curl, CURLOPT_WRITEDATA, &capture);
  api.easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  api.easy_setopt(curl, CURLOPT_HEADERDATA, &capture);
  api.easy_setopt(curl, CURLOPT_FOLLOWLOCATION, req.follow_redirects ? 1L : 0L);
  api.easy_setopt(curl, CURLOPT_MAXREDIRS, 10L);
  // Redirects keep the method (as requests does for 307/308), and never go to other
  // protocols than http(s).
  api.easy_setopt(curl, CURLOPT_POSTREDIR, long(CURL_REDIR_POST_ALL));
#if LIBCURL_VERSION_NUM >= 0x075500
  api.easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  api.easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#endif
  api.easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, req.verify_tls ? 1L : 0L);
  api.easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, req.verify_tls ? 2L : 0L);
  if (!req.ca_file.empty()) api.easy_setopt(curl, CURLOPT_CAINFO, req.ca_file.c_str());
  if (!req.cert_file.empty()) api.easy_setopt(curl, CURLOPT_SSLCERT, req.cert_file.c_str());
  if (!req.key_file.empty()) api.easy_setopt(curl, CURLOPT_SSLKEY, req.key_file.c_str());
  if (!req.unix_socket.empty()) {
    api.easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, req.unix_socket.c_str());
  }
  if (req.timeout_seconds > 0) {
    api.easy_setopt(curl, CURLOPT_TIMEOUT_MS, long(req.timeout_seconds * 1000));
  }
  api.easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 30000L);
  if (req.method == "HEAD") {
    // Without NOBODY libcurl waits for the body a HEAD answer's Content-Length announces.
    api.easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (req.send_body || req.method != "GET") {
    api.easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(req.body.size()));
    api.easy_setopt(curl, CURLOPT_POSTFIELDS, req.body.data());
  } else {
    api.easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  }
  api.easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req.method.c_str());

  a.code = api.easy_perform(curl);
  if (a.code == CURLE_OK) {
    api.easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &a.response.status);
    if (body_digest) a.response.body_sha256 = body_digest->hex();
  }
  a.delivered = capture.delivered;
  api.slist_free_all(headers);
  api.easy_cleanup(curl);
  if (capture.error) std::rethrow_exception(capture.error);
  return a;
}

std::chrono::milliseconds retry_after(const Response& r, std::chrono::milliseconds fallback) {
  std::string value = r.header("Retry-After");
  if (value.empty() || !std::all_of(value.begin(), value.end(), ::isdigit) || value.size() > 4)
    return fallback;
  return std::min(std::chrono::milliseconds(std::stol(value) * 1000),
                  std::chrono::milliseconds(10000));
}

std::string display(const Request& r) {
  return r.display_url.empty() ? redact_url(r.url) : r.display_url;
}

}  // namespace

std::string Response::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (iequals(n, name)) return v;
  }
  return {};
}

Response send(const Request& request) {
  curl_api();  // loads libcurl (or says why it cannot) before the first attempt
  std::chrono::milliseconds wait = request.backoff;
  for (int attempt = 1;; ++attempt) {
    Attempt a = attempt_once(request);
    a.response.attempts = attempt;
    bool last = attempt > request.max_retries;
    if (a.code == CURLE_OK) {
      if (last || !retryable_status(a.response.status)) return std::move(a.response);
      std::this_thread::sleep_for(retry_after(a.response, wait));
    } else {
      if (last || !retryable_code(a.code) || a.delivered) {
        // curl's own text names the host and the failure, never userinfo or headers.
        throw HttpError(request.method + " " + display(request) + " failed after " +
                            std::to_string(attempt) + (attempt == 1 ? " attempt" : " attempts") +
                            ": " + curl_api().easy_strerror(a.code),
                        0);
      }
      std::this_thread::sleep_for(wait);
    }
    wait *= 2;
  }
}

void raise_for_status(const Request& request, const Response& response) {
  if (response.ok()) return;
  std::string reason(reason_phrase(response.status));
  throw HttpError("HTTP " + std::to_string(response.status) + (reason.empty() ? "" : " " + reason) +
                      " from " + request.method + " " + display(request),
                  response.status);
}

std::string redact_url(std::string_view url) {
  std::string out(url.substr(0, url.find_first_of("?#")));
  std::size_t scheme = out.find("://");
  std::size_t host_start = scheme == std::string::npos ? 0 : scheme + 3;
  std::size_t host_end = out.find('/', host_start);
  std::size_t at = out.rfind('@', host_end == std::string::npos ? out.size() : host_end);
  if (at != std::string::npos && at >= host_start) out.erase(host_start, at + 1 - host_start);
  return out;
}

std::string url_encode(std::string_view text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

std::string form_encode(const Fields& fields) {
  std::string out;
  for (const auto& [name, value] : fields) {
    if (!out.empty()) out += '&';
    out += url_encode(name);
    out += '=';
    out += url_encode(value);
  }
  return out;
}

std::string url_with_params(std::string_view url, const Fields& params) {
  if (params.empty()) return std::string(url);
  std::size_t hash = url.find('#');
  std::string base(url.substr(0, hash));
  std::string query;
  for (const auto& [k, v] : params) {
    query += (query.empty() ? "" : "&") + url_encode(k) + "=" + url_encode(v);
  }
  std::size_t q = base.find('?');
  if (q == std::string::npos) {
    base += "?";
  } else if (q + 1 < base.size() && base.back() != '&') {
    base += "&";
  }
  return base + query;
}

std::string_view reason_phrase(long status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 413:
      return "Payload Too Large";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "";
  }
}

}  // namespace ferry::net
