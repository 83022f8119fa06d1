// libcurl, loaded on the first HTTP request instead of linked: libcurl pulls in some thirty
// shared libraries (TLS, LDAP, SSH, ...), and loading them cost every ferry process, most of
// which never send a request, about 10 ms at start-up.
#pragma once

#include <curl/curl.h>

namespace ferry::net {

// The libcurl functions ferry uses (types from curl/curl.h, nothing linked).
struct CurlApi {
  decltype(&::curl_easy_init) easy_init;
  decltype(&::curl_easy_setopt) easy_setopt;
  decltype(&::curl_easy_perform) easy_perform;
  decltype(&::curl_easy_getinfo) easy_getinfo;
  decltype(&::curl_easy_cleanup) easy_cleanup;
  decltype(&::curl_easy_strerror) easy_strerror;
  decltype(&::curl_slist_append) slist_append;
  decltype(&::curl_slist_free_all) slist_free_all;
};

// Loads libcurl.so.4 and runs curl_global_init, once per process (thread-safe). Throws
// net::HttpError (status 0) naming the library and the Debian package when it is missing.
const CurlApi& curl_api();

}  // namespace ferry::net
