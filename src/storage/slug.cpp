// The reference's slugs (python-slugify defaults) and generated locations.
#include <cstdio>
#include <ctime>
#include <unordered_map>

#include "ferry/storage/storage.hpp"

namespace ferry::storage {

namespace {

// ASCII for the Latin letters people put in flow names; other characters are dropped.
const std::unordered_map<char32_t, const char*>& transliterations() {
  static const std::unordered_map<char32_t, const char*> table = [] {
    std::unordered_map<char32_t, const char*> t;
    const char* latin1[] = {
        "A", "A", "A", "A", "A", "A", "AE", "C",     "E", "E", "E", "E", "I", "I", "I",  "I",
        "D", "N", "O", "O", "O", "O", "O",  nullptr, "O", "U", "U", "U", "U", "Y", "TH", "ss",
        "a", "a", "a", "a", "a", "a", "ae", "c",     "e", "e", "e", "e", "i", "i", "i",  "i",
        "d", "n", "o", "o", "o", "o", "o",  nullptr, "o", "u", "u", "u", "u", "y", "th", "y"};
    for (char32_t c = 0xC0; c <= 0xFF; ++c) {
      if (latin1[c - 0xC0]) t[c] = latin1[c - 0xC0];
    }
    // Latin Extended-A (U+0100..U+017F): the base letter of each; IJ and OE are fixed below.
    static constexpr char ext_a[] =
        "AaAaAaCcCcCcCcDd"
        "DdEeEeEeEeEeGgGg"
        "GgGgHhHhIiIiIiIi"
        "IiIiJjKkkLlLlLlL"
        "lLlNnNnNnnNnOoOo"
        "OoOoRrRrRrSsSsSs"
        "SsTtTtTtUuUuUuUu"
        "UuUuWwYyYZzZzZzs";
    static_assert(sizeof ext_a == 129);
    static std::string pieces[128];
    for (char32_t c = 0x100; c <= 0x17F; ++c) {
      pieces[c - 0x100] = std::string(1, ext_a[c - 0x100]);
      t[c] = pieces[c - 0x100].c_str();
    }
    t[0x132] = "IJ";
    t[0x133] = "ij";
    t[0x152] = "OE";
    t[0x153] = "oe";
    return t;
  }();
  return table;
}

// Decodes one UTF-8 sequence at s[i]; advances i. Invalid bytes decode as U+FFFD.
char32_t next_code_point(std::string_view s, std::size_t& i) {
  unsigned char c = static_cast<unsigned char>(s[i++]);
  if (c < 0x80) return c;
  int extra = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : -1;
  if (extra < 0) return 0xFFFD;
  char32_t cp = c & (0x3F >> extra);
  for (int k = 0; k < extra; ++k) {
    if (i >= s.size() || (static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) return 0xFFFD;
    cp = (cp << 6) | (static_cast<unsigned char>(s[i++]) & 0x3F);
  }
  return cp;
}

}  // namespace

std::string slugify(std::string_view text) {
  std::string ascii;
  for (std::size_t i = 0; i < text.size();) {
    char32_t cp = next_code_point(text, i);
    if (cp < 0x80) {
      ascii.push_back(static_cast<char>(cp));
    } else if (auto it = transliterations().find(cp); it != transliterations().end()) {
      ascii += it->second;
    } else {
      ascii.push_back(' ');
    }
  }
  std::string out;
  bool pending_dash = false;
  for (char c : ascii) {
    char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    if ((lower >= 'a' && lower <= 'z') || (lower >= '0' && lower <= '9')) {
      if (pending_dash && !out.empty()) out.push_back('-');
      pending_dash = false;
      out.push_back(lower);
    } else {
      pending_dash = true;
    }
  }
  return out;
}

std::string timestamp_slug(std::chrono::system_clock::time_point time) {
  using namespace std::chrono;
  auto micros = duration_cast<microseconds>(time.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(micros / 1000000);
  long frac = static_cast<long>(micros % 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char iso[64];
  int n = std::snprintf(iso, sizeof iso, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  if (frac != 0) n += std::snprintf(iso + n, sizeof iso - n, ".%06ld", frac);
  std::snprintf(iso + n, sizeof iso - n, "+00:00");
  return slugify(iso);
}

std::string generated_location(std::string_view flow_name) {
  // A name with nothing left to slug (all emoji, say) still gets a folder of its own.
  std::string slug = slugify(flow_name);
  return (slug.empty() ? "flow" : slug) + "/" + timestamp_slug(std::chrono::system_clock::now());
}

}  // namespace ferry::storage
