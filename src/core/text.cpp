#include "core/text.hpp"

#include <algorithm>
#include <cctype>

namespace ferry::detail {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n";
  std::size_t b = s.find_first_not_of(kSpace);
  if (b == std::string_view::npos) return "";
  std::size_t e = s.find_last_not_of(kSpace);
  return std::string(s.substr(b, e - b + 1));
}

}  // namespace ferry::detail
