// `--param name=value` arguments, typed by the flow's parameter declarations.
#pragma once

#include <string>
#include <vector>

#include "ferry/flow.hpp"

namespace ferry::cli {

// Parses each "name=value" against flow's parameters; ValueError on bad syntax, an
// unknown name, or a value of the wrong type.
Value parse_params(const Flow& flow, const std::vector<std::string>& args);

}  // namespace ferry::cli
