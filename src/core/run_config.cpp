#include "ferry/run_config.hpp"

#include "ferry/error.hpp"

namespace ferry::run {

namespace {

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

// A field of the wrong JSON type is refused by name rather than with nlohmann's text, which
// does not say which field of which run config was wrong.
const Value* field(const Value& json, const char* name, Value::value_t want, const char* what) {
  auto it = json.find(name);
  if (it == json.end() || it->is_null()) return nullptr;
  if (it->type() != want) {
    throw ValueError(std::string("Run config field '") + name + "' must be " + what + ", got " +
                     it->dump());
  }
  return &*it;
}

std::string string_field(const Value& json, const char* name) {
  const Value* v = field(json, name, Value::value_t::string, "a string");
  return v ? v->get<std::string>() : std::string();
}

std::vector<std::string> list_field(const Value& json, const char* name) {
  std::vector<std::string> out;
  const Value* v = field(json, name, Value::value_t::array, "an array of strings");
  if (!v) return out;
  for (const Value& item : *v) {
    if (!item.is_string()) {
      throw ValueError(std::string("Run config field '") + name + "' must hold strings only, got " +
                       item.dump());
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

std::map<std::string, std::string> env_field(const Value& json) {
  std::map<std::string, std::string> out;
  const Value* v = field(json, "env", Value::value_t::object, "an object of strings");
  if (!v) return out;
  for (const auto& [name, value] : v->items()) {
    if (!value.is_string()) {
      throw ValueError("Run config env variable '" + name + "' must be a string, got " +
                       value.dump());
    }
    out[name] = value.get<std::string>();
  }
  return out;
}

void check_env(const std::map<std::string, std::string>& env, const std::string& flow) {
  for (const auto& [name, value] : env) {
    if (name.empty() || name.find('=') != std::string::npos) {
      throw ValueError("Run config of flow '" + flow + "': environment variable name '" + name +
                       "' is invalid; a name must be non-empty and must not contain '='.");
    }
  }
}

void check_volume(const std::string& volume, const std::string& flow) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    std::size_t colon = volume.find(':', start);
    parts.push_back(volume.substr(start, colon - start));
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  bool ok = (parts.size() == 2 || (parts.size() == 3 && (parts[2] == "ro" || parts[2] == "rw"))) &&
            !parts[0].empty() && !parts[1].empty() && parts[1].front() == '/';
  if (!ok) {
    throw ValueError("Run config of flow '" + flow + "': Docker volume '" + volume +
                     "' is invalid; write it as HOST:CONTAINER or HOST:CONTAINER:ro (or :rw), "
                     "with CONTAINER an absolute path such as /data.");
  }
}

}  // namespace

RunConfig::RunConfig() = default;
RunConfig::RunConfig(Universal config) : config_(std::move(config)) {}
RunConfig::RunConfig(Local config) : config_(std::move(config)) {}
RunConfig::RunConfig(Docker config) : config_(std::move(config)) {}

std::string RunConfig::type() const {
  return std::visit(
      Overloaded{[](const Universal&) { return "Universal"; }, [](const Local&) { return "Local"; },
                 [](const Docker&) { return "Docker"; }},
      config_);
}

const std::vector<std::string>& RunConfig::labels() const {
  return std::visit([](const auto& c) -> const std::vector<std::string>& { return c.labels; },
                    config_);
}

const Universal* RunConfig::universal() const { return std::get_if<Universal>(&config_); }
const Local* RunConfig::local() const { return std::get_if<Local>(&config_); }
const Docker* RunConfig::docker() const { return std::get_if<Docker>(&config_); }

Value RunConfig::to_json() const {
  return std::visit(Overloaded{[](const Universal& u) -> Value {
                                 return {{"type", "Universal"}, {"labels", u.labels}};
                               },
                               [](const Local& l) -> Value {
                                 return {{"type", "Local"},
                                         {"env", l.env},
                                         {"working_dir", l.working_dir},
                                         {"labels", l.labels}};
                               },
                               [](const Docker& d) -> Value {
                                 return {{"type", "Docker"},
                                         {"image", d.image},
                                         {"env", d.env},
                                         {"labels", d.labels},
                                         {"volumes", d.volumes}};
                               }},
                    config_);
}

RunConfig RunConfig::from_json(const Value& json) {
  if (json.is_null()) return RunConfig();
  if (!json.is_object()) throw ValueError("A run config must be a JSON object, got " + json.dump());
  std::string type = string_field(json, "type");
  if (type.empty() || type == "Universal") return Universal{list_field(json, "labels")};
  if (type == "Local") {
    return Local{env_field(json), string_field(json, "working_dir"), list_field(json, "labels")};
  }
  if (type == "Docker") {
    return Docker{string_field(json, "image"), env_field(json), list_field(json, "labels"),
                  list_field(json, "volumes")};
  }
  throw ValueError("Unknown run config type '" + type +
                   "'; the run config types are Universal, Local and Docker.");
}

void RunConfig::validate(const std::string& flow) const {
  if (const Local* l = local()) {
    check_env(l->env, flow);
    if (!l->working_dir.empty() && l->working_dir.front() != '/') {
      throw ValueError("Run config of flow '" + flow + "': working_dir '" + l->working_dir +
                       "' is not an absolute path; give the full path, such as /srv/flows.");
    }
  }
  if (const Docker* d = docker()) {
    check_env(d->env, flow);
    for (const std::string& v : d->volumes) check_volume(v, flow);
  }
}

}  // namespace ferry::run
