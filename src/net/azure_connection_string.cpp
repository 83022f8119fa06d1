#include "net/azure_connection_string.hpp"

#include <cctype>
#include <map>
#include <optional>

#include "core/masking.hpp"
#include "core/text.hpp"
#include "ferry/error.hpp"

namespace ferry::net {

namespace {

using detail::iequals;
using detail::trim;

// Every message starts the same way and never quotes the string: it holds the key.
ValueError malformed(const std::string& problem) {
  return ValueError("Malformed Azure connection string: " + problem +
                    ". It must be Key=Value pairs separated by ';', as shown under \"Access "
                    "keys\" or \"Shared access signature\" of the storage account in the portal.");
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Lower-cased key -> value. Keys are compared case-insensitively, as the Azure SDKs do.
std::map<std::string, std::string> split_pairs(std::string_view text) {
  std::map<std::string, std::string> pairs;
  int index = 0;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find(';', start);
    if (end == std::string_view::npos) end = text.size();
    std::string part = trim(text.substr(start, end - start));
    start = end + 1;
    if (part.empty()) continue;
    ++index;
    std::size_t eq = part.find('=');
    // Only the position is named: a part without '=' may well be a pasted key.
    if (eq == std::string::npos) throw malformed("part " + std::to_string(index) + " has no '='");
    std::string key = trim(std::string_view(part).substr(0, eq));
    if (key.empty()) throw malformed("part " + std::to_string(index) + " has no name before '='");
    std::string value = trim(std::string_view(part).substr(eq + 1));
    if (!pairs.emplace(lower(key), value).second)
      throw malformed("the key '" + key + "' appears more than once");
  }
  return pairs;
}

std::optional<std::string> take(const std::map<std::string, std::string>& pairs,
                                const std::string& lower_key) {
  auto it = pairs.find(lower_key);
  if (it == pairs.end()) return std::nullopt;
  return it->second;
}

bool starts_with_http(std::string_view url) {
  return url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0;
}

void register_credentials(const AzureConnection& c) {
  detail::register_secret_value(c.account_key);
  detail::register_secret_value(c.sas);
  // The signature on its own too, for text that quotes only that parameter.
  std::size_t sig = c.sas.find("sig=");
  if (sig != std::string::npos) {
    std::string value = c.sas.substr(sig + 4, c.sas.find('&', sig) - (sig + 4));
    detail::register_secret_value(value);
    detail::register_secret_value(detail::percent_decode(value));
  }
}

}  // namespace

AzureConnection parse_azure_connection_string(std::string_view text) {
  std::map<std::string, std::string> pairs = split_pairs(text);
  if (pairs.empty()) throw malformed("it is empty");
  AzureConnection c;

  // Register what is secret before anything else can throw with it in scope.
  c.account_key = take(pairs, "accountkey").value_or("");
  c.sas = take(pairs, "sharedaccesssignature").value_or("");
  if (!c.sas.empty() && c.sas.front() == '?') c.sas.erase(0, 1);
  register_credentials(c);

  std::string protocol = lower(take(pairs, "defaultendpointsprotocol").value_or("https"));
  std::string suffix = take(pairs, "endpointsuffix").value_or("core.windows.net");
  c.account_name = take(pairs, "accountname").value_or("");
  std::string endpoint = take(pairs, "blobendpoint").value_or("");

  if (auto dev = take(pairs, "usedevelopmentstorage")) {
    if (!iequals(*dev, "true")) throw malformed("UseDevelopmentStorage must be 'true' when given");
    // The emulator's fixed account, unless the string names its own parts.
    if (c.account_name.empty()) c.account_name = kDevStorageAccount;
    if (c.account_key.empty() && c.sas.empty()) c.account_key = kDevStorageKey;
    if (endpoint.empty()) endpoint = kDevStorageBlobEndpoint;
    protocol = "http";
  }

  if (protocol != "http" && protocol != "https")
    throw malformed("DefaultEndpointsProtocol must be 'http' or 'https'");
  if (!c.account_key.empty()) {
    if (c.account_name.empty()) throw malformed("AccountKey is given without AccountName");
    if (!detail::base64_decode(c.account_key))
      throw malformed("AccountKey is not base64 (copy it again from the portal)");
    c.sas.clear();  // the key wins, as in the Azure SDKs
  }
  // ferry speaks SharedKey and SAS only. The reference (azure-storage-blob) fell back to
  // DefaultAzureCredential (managed identity, service principal, az CLI) when the string
  // had neither; ferry has no Azure AD client, so it says so instead of failing later.
  if (c.account_key.empty() && c.sas.empty())
    throw ValueError(
        "The Azure connection string has neither AccountKey=... nor SharedAccessSignature=...: "
        "ferry needs a connection string with AccountKey=... or SharedAccessSignature=... "
        "(Azure AD credentials such as DefaultAzureCredential are not supported).");

  if (endpoint.empty()) {
    if (c.account_name.empty())
      throw malformed("it has neither AccountName nor BlobEndpoint, so there is no blob endpoint");
    if (suffix.empty()) throw malformed("EndpointSuffix is empty");
    endpoint = protocol + "://" + c.account_name + ".blob." + suffix;
  } else if (!starts_with_http(endpoint)) {
    throw malformed("BlobEndpoint must start with http:// or https://");
  } else if (endpoint.find_first_of("?#") != std::string::npos) {
    throw malformed("BlobEndpoint must not have a query (put a SAS in SharedAccessSignature)");
  }
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  c.blob_endpoint = endpoint;
  return c;
}

}  // namespace ferry::net
