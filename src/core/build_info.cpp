#include "ferry/version.hpp"

namespace ferry {

BuildInfo library_build() { return detail::this_build(); }

}  // namespace ferry
