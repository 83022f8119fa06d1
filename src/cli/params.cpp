#include "cli/params.hpp"

#include "core/graph.hpp"
#include "ferry/error.hpp"

namespace ferry::cli {

Value parse_params(const Flow& flow, const std::vector<std::string>& args) {
  Value out = Value::object();
  for (const std::string& arg : args) {
    std::size_t eq = arg.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw ValueError("Bad --param '" + arg + "': write it as name=value.");
    }
    std::string name = arg.substr(0, eq);
    const detail::ParamSpec* spec = detail::find_param(*flow.graph(), name);
    if (!spec) {
      std::string known;
      for (const auto& p : flow.graph()->params) known += (known.empty() ? "" : ", ") + p.name;
      throw ValueError("Flow '" + flow.name() + "' has no parameter '" + name + "'" +
                       (known.empty() ? std::string(" (it takes none).")
                                      : ". Its parameters are: " + known + "."));
    }
    out[name] = parse_param_text(name, spec->type, std::string_view(arg).substr(eq + 1));
  }
  return out;
}

}  // namespace ferry::cli
