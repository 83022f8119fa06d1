// libFuzzer target for the Webhook template renderer (src/storage/template.cpp).
// Properties checked on every input: rendering either succeeds or throws ferry::ValueError
// (never anything else, never a crash); text without '$' renders to itself; "$$" escapes
// round-trip; and the object form renders every string in nested objects the same way.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "ferry/error.hpp"
#include "storage/template.hpp"

namespace {

std::optional<std::string> lookup(const std::string& name) {
  if (name == "EMPTY") return std::string();
  if (name == "DOLLAR") return std::string("$$ ${X}");  // values are not re-rendered
  if (name.size() % 3 == 0) return std::nullopt;        // some names are unknown
  return "<" + name + ">";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  std::string rendered;
  bool ok = true;
  try {
    rendered = ferry::storage::render_template(text, lookup);
  } catch (const ferry::ValueError&) {
    ok = false;
  }
  if (text.find('$') == std::string::npos && (!ok || rendered != text)) std::abort();

  // Escaping every '$' gives back the input exactly.
  std::string escaped;
  for (char c : text) escaped += c == '$' ? std::string("$$") : std::string(1, c);
  if (ferry::storage::render_template(escaped, lookup) != text) std::abort();

  // The nested form agrees with the string form (strings only; valid UTF-8 is not required
  // by the renderer, but nlohmann::json would refuse to dump invalid UTF-8, so no dump).
  ferry::Value value = {{"a", text}, {"b", {{"c", text}, {"n", 1}}}, {"l", {text}}};
  try {
    ferry::Value out = ferry::storage::render_templates(value, lookup);
    if (!ok || out["a"] != rendered || out["b"]["c"] != rendered || out["l"][0] != text ||
        out["b"]["n"] != 1)
      std::abort();
  } catch (const ferry::ValueError&) {
    if (ok) std::abort();
  }
  return 0;
}
