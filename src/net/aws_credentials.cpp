#include "net/aws_credentials.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

#include "agent/secrets.hpp"
#include "core/masking.hpp"
#include "core/text.hpp"
#include "ferry/error.hpp"

namespace ferry::net {

namespace fs = std::filesystem;

namespace {

using Section = std::map<std::string, std::string>;

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

std::string option(const Value& options, const char* key) {
  if (!options.is_object() || !options.contains(key) || !options[key].is_string()) return {};
  return options[key].get<std::string>();
}

fs::path home_file(const char* variable, const char* default_name) {
  if (std::string v = env(variable); !v.empty()) {
    if (v.rfind("~/", 0) == 0) return fs::path(env("HOME")) / v.substr(2);
    return v;
  }
  return fs::path(env("HOME")) / ".aws" / default_name;
}

// One section of an INI file as the AWS tools write it ("key = value", '#' and ';'
// comments); nothing when the file or the section is absent.
std::optional<Section> ini_section(const fs::path& file, const std::string& wanted) {
  std::ifstream in(file);
  if (!in) return std::nullopt;
  std::optional<Section> found;
  bool inside = false;
  std::string line;
  while (std::getline(in, line)) {
    std::string t = detail::trim(line);
    if (t.empty() || t[0] == '#' || t[0] == ';') continue;
    if (t.front() == '[' && t.back() == ']') {
      inside = detail::trim(t.substr(1, t.size() - 2)) == wanted;
      if (inside && !found) found = Section{};
      continue;
    }
    std::size_t eq = t.find('=');
    if (!inside || eq == std::string::npos) continue;
    (*found)[detail::trim(t.substr(0, eq))] = detail::trim(t.substr(eq + 1));
  }
  return found;
}

std::string profile_name(const Value& options) {
  for (std::string p :
       {option(options, "profile_name"), env("AWS_PROFILE"), env("AWS_DEFAULT_PROFILE")}) {
    if (!p.empty()) return p;
  }
  return "default";
}

std::optional<Section> config_profile(const std::string& profile) {
  fs::path config = home_file("AWS_CONFIG_FILE", "config");
  // The config file names profiles "profile NAME", except the default one.
  if (auto s = ini_section(config, profile == "default" ? "default" : "profile " + profile))
    return s;
  return ini_section(config, profile);
}

// A source with a key id and a secret, or neither; a lone half is an error naming it.
std::optional<AwsCredentials> complete(std::string id, std::string secret, std::string token,
                                       const std::string& source, const std::string& names) {
  if (id.empty() && secret.empty()) return std::nullopt;
  if (id.empty() || secret.empty()) {
    throw ValueError("Incomplete AWS credentials in " + source + ": " + names +
                     " must both be set.");
  }
  for (const std::string* v : {&id, &secret, &token}) {
    if (!v->empty()) detail::register_secret_value(*v);
  }
  return AwsCredentials{std::move(id), std::move(secret), std::move(token), source};
}

std::string text_field(const Value& object, const char* key) {
  return object.contains(key) && object[key].is_string() ? object[key].get<std::string>() : "";
}

}  // namespace

AwsCredentials resolve_aws_credentials(const Value& options) {
  if (std::optional<Value> secret = agent::find_secret_value("AWS_CREDENTIALS")) {
    if (!secret->is_object()) {
      throw ValueError(
          "The secret AWS_CREDENTIALS must be a JSON object with ACCESS_KEY and "
          "SECRET_ACCESS_KEY (and optionally SESSION_TOKEN).");
    }
    if (auto c =
            complete(text_field(*secret, "ACCESS_KEY"), text_field(*secret, "SECRET_ACCESS_KEY"),
                     text_field(*secret, "SESSION_TOKEN"), "secret AWS_CREDENTIALS",
                     "ACCESS_KEY and SECRET_ACCESS_KEY"))
      return *c;
    throw ValueError("The secret AWS_CREDENTIALS has no ACCESS_KEY and SECRET_ACCESS_KEY.");
  }
  if (auto c =
          complete(option(options, "aws_access_key_id"), option(options, "aws_secret_access_key"),
                   option(options, "aws_session_token"), "client_options",
                   "aws_access_key_id and aws_secret_access_key"))
    return *c;
  if (auto c =
          complete(env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"), env("AWS_SESSION_TOKEN"),
                   "environment", "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"))
    return *c;
  std::string profile = profile_name(options);
  fs::path credentials_file = home_file("AWS_SHARED_CREDENTIALS_FILE", "credentials");
  for (auto [section, where] :
       {std::pair{ini_section(credentials_file, profile), credentials_file.string()},
        std::pair{config_profile(profile), home_file("AWS_CONFIG_FILE", "config").string()}}) {
    if (!section) continue;
    if (auto c = complete((*section)["aws_access_key_id"], (*section)["aws_secret_access_key"],
                          (*section)["aws_session_token"], "profile '" + profile + "' in " + where,
                          "aws_access_key_id and aws_secret_access_key"))
      return *c;
  }
  throw ValueError(
      "No AWS credentials found. Looked in the secret AWS_CREDENTIALS, client_options "
      "(aws_access_key_id, aws_secret_access_key), the environment (AWS_ACCESS_KEY_ID, "
      "AWS_SECRET_ACCESS_KEY) and profile '" +
      profile + "' in " + credentials_file.string() + " and " +
      home_file("AWS_CONFIG_FILE", "config").string() + ".");
}

std::string resolve_aws_region(const Value& options) {
  for (std::string r :
       {option(options, "region_name"), env("AWS_REGION"), env("AWS_DEFAULT_REGION")}) {
    if (!r.empty()) return r;
  }
  if (auto s = config_profile(profile_name(options))) {
    if (auto it = s->find("region"); it != s->end()) return it->second;
  }
  return {};
}

std::string resolve_aws_endpoint(const Value& options) {
  if (std::string e = option(options, "endpoint_url"); !e.empty()) return e;
  return env("AWS_ENDPOINT_URL");
}

}  // namespace ferry::net
