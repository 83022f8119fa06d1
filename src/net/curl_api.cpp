#include "net/curl_api.hpp"

#include <dlfcn.h>

#include <mutex>
#include <string>

#include "net/http_client.hpp"

namespace ferry::net {

namespace {

template <class F>
void bind(void* lib, const char* name, F& out, std::string& missing) {
  out = reinterpret_cast<F>(::dlsym(lib, name));
  if (!out) missing += std::string(missing.empty() ? "" : ", ") + name;
}

}  // namespace

const CurlApi& curl_api() {
  static CurlApi api{};
  static std::string error;
  static std::once_flag once;
  std::call_once(once, [] {
    void* lib = ::dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      const char* why = ::dlerror();
      error = std::string("libcurl could not be loaded (") + (why ? why : "libcurl.so.4") +
              "); install it with: apt-get install libcurl4";
      return;
    }
    std::string missing;
    bind(lib, "curl_easy_init", api.easy_init, missing);
    bind(lib, "curl_easy_setopt", api.easy_setopt, missing);
    bind(lib, "curl_easy_perform", api.easy_perform, missing);
    bind(lib, "curl_easy_getinfo", api.easy_getinfo, missing);
    bind(lib, "curl_easy_cleanup", api.easy_cleanup, missing);
    bind(lib, "curl_easy_strerror", api.easy_strerror, missing);
    bind(lib, "curl_slist_append", api.slist_append, missing);
    bind(lib, "curl_slist_free_all", api.slist_free_all, missing);
    auto global_init =
        reinterpret_cast<decltype(&::curl_global_init)>(::dlsym(lib, "curl_global_init"));
    if (!global_init) missing += std::string(missing.empty() ? "" : ", ") + "curl_global_init";
    if (!missing.empty()) {
      error = "libcurl.so.4 lacks " + missing + "; install a libcurl of version 7.85 or later";
      return;
    }
    global_init(CURL_GLOBAL_DEFAULT);
  });
  if (!error.empty()) throw HttpError(error, 0);
  return api;
}

}  // namespace ferry::net
