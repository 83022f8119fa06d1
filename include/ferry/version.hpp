// ferry version and the build identity a flow module carries.
#pragma once

#define FERRY_VERSION "0.1.0"
// Bumped whenever the contract between libferry and a compiled flow module changes
// (task thunk signature, ModuleInfo layout, graph format).
#define FERRY_MODULE_ABI 1

#define FERRY_STR_(x) #x
#define FERRY_STR(x) FERRY_STR_(x)

#if defined(__clang__)
#define FERRY_COMPILER_ID "clang " __clang_version__
#elif defined(__GNUC__)
#define FERRY_COMPILER_ID "gcc " __VERSION__
#else
#define FERRY_COMPILER_ID "unknown"
#endif

#include <cstddef>  // defines the standard library's version macros
#if defined(_LIBCPP_VERSION)
#define FERRY_STDLIB_ID "libc++ " FERRY_STR(_LIBCPP_VERSION)
#elif defined(__GLIBCXX__)
#define FERRY_STDLIB_ID "libstdc++ " FERRY_STR(_GLIBCXX_RELEASE) "." FERRY_STR(__GLIBCXX__)
#else
#define FERRY_STDLIB_ID "unknown"
#endif

#if defined(__x86_64__)
#define FERRY_ARCH_ID "x86_64"
#elif defined(__aarch64__)
#define FERRY_ARCH_ID "aarch64"
#else
#define FERRY_ARCH_ID "unknown"
#endif

namespace ferry {

inline constexpr const char* kVersion = FERRY_VERSION;

// What a binary (libferry or a flow module) was built with. A frozen flow records the
// module's BuildInfo; loading compares it field by field with the running library's.
struct BuildInfo {
  const char* ferry_version;
  int module_abi;
  const char* compiler;
  const char* stdlib;
  const char* arch;
};

namespace detail {
// Evaluated in whichever binary includes this header, so a module reports its own build.
inline constexpr BuildInfo this_build() {
  return {FERRY_VERSION, FERRY_MODULE_ABI, FERRY_COMPILER_ID, FERRY_STDLIB_ID, FERRY_ARCH_ID};
}
}  // namespace detail

// The running library's build.
BuildInfo library_build();

}  // namespace ferry
