// The secret store: $FERRY_HOME/secrets.json, 0600, refused when others can read it, atomic
// and locked writes.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "ferry/codec.hpp"
#include "ferry/error.hpp"
#include "secrets/secret_store.hpp"
#include "support/test_support.hpp"

namespace {

namespace fs = std::filesystem;
using ferry::secrets::SecretStore;
using ferry::test::read_text;
using ferry::test::ScopedFerryHome;
using ferry::test::write_text;

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const ferry::ValueError& e) {
    return e.what();
  }
  return "(no ValueError)";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST(SecretStore, LivesInFerryHome) {
  ScopedFerryHome home;
  EXPECT_EQ(SecretStore::default_path(), home.path() / "secrets.json");
  EXPECT_EQ(SecretStore().path(), home.path() / "secrets.json");
}

TEST(SecretStore, MissingFileIsEmpty) {
  ScopedFerryHome home;
  SecretStore store;
  EXPECT_TRUE(store.load().empty());
  EXPECT_EQ(store.get("A"), std::nullopt);
  EXPECT_FALSE(fs::exists(store.path())) << "reading must not create the store";
}

TEST(SecretStore, CreatedWithMode0600EvenWithAPermissiveUmask) {
  ScopedFerryHome home;
  mode_t old = ::umask(0);
  SecretStore store;
  store.set("API_TOKEN", "value-one");
  ::umask(old);
  EXPECT_EQ(mode_of(store.path()), 0600u);
  // Rewriting keeps it 0600, and no temporary file is left behind.
  store.set("OTHER", "value-two");
  EXPECT_EQ(mode_of(store.path()), 0600u);
  for (const auto& e : fs::directory_iterator(home.path())) {
    EXPECT_FALSE(contains(e.path().filename().string(), ".tmp.")) << e.path();
  }
  EXPECT_EQ(store.get("API_TOKEN"), "value-one");
  EXPECT_EQ(store.get("OTHER"), "value-two");
  // The file is a JSON object name -> value.
  EXPECT_EQ(ferry::Value::parse(read_text(store.path())),
            (ferry::Value{{"API_TOKEN", "value-one"}, {"OTHER", "value-two"}}));
}

TEST(SecretStore, RefusesAStoreOthersCanRead) {
  ScopedFerryHome home;
  SecretStore store;
  store.set("API_TOKEN", "do-not-print-me");
  const std::string file = store.path().string();
  for (mode_t mode : {0644, 0640, 0604, 0620, 0602, 0660, 0666}) {
    ASSERT_EQ(::chmod(file.c_str(), mode), 0);
    std::string err = error_of([&] { store.load(); });
    EXPECT_TRUE(contains(err, "Refusing to read the secret store '" + file + "'")) << err;
    EXPECT_TRUE(contains(err, "chmod 600 " + file)) << err;
    EXPECT_FALSE(contains(err, "do-not-print-me")) << err;
    EXPECT_TRUE(contains(error_of([&] { store.get("API_TOKEN"); }), "chmod 600 " + file));
    // Writes read the store first, so they are refused too (and change nothing).
    EXPECT_TRUE(contains(error_of([&] { store.set("B", "x"); }), "chmod 600 " + file));
    EXPECT_EQ(mode_of(file), static_cast<unsigned>(mode));
  }
  char octal[8];
  std::snprintf(octal, sizeof octal, "%04o", 0644);
  ASSERT_EQ(::chmod(file.c_str(), 0644), 0);
  EXPECT_TRUE(contains(error_of([&] { store.load(); }), std::string("permissions are ") + octal));
  // The owner alone (even read-only) is fine.
  ASSERT_EQ(::chmod(file.c_str(), 0400), 0);
  EXPECT_EQ(store.get("API_TOKEN"), "do-not-print-me");
  ASSERT_EQ(::chmod(file.c_str(), 0600), 0);
  EXPECT_EQ(store.get("API_TOKEN"), "do-not-print-me");
}

TEST(SecretStore, InvalidStoreErrorsNeverQuoteItsContent) {
  ScopedFerryHome home;
  SecretStore store;
  for (const std::string& text :
       {std::string("{\"A\": \"hunter22-secret"), std::string("[\"hunter22-secret\"]"),
        std::string("{\"A\": [\"hunter22-secret\"]}")}) {
    write_text(store.path(), text);
    ASSERT_EQ(::chmod(store.path().c_str(), 0600), 0);
    std::string err = error_of([&] { store.load(); });
    EXPECT_TRUE(contains(err, "is not valid")) << err;
    EXPECT_FALSE(contains(err, "hunter22")) << err;
  }
}

TEST(SecretStore, ValuesAreKeptVerbatim) {
  ScopedFerryHome home;
  SecretStore store;
  const std::string odd = "line one\nline \"two\" \\ tab\t ünïcode {\"x\": 1}";
  store.set("ODD", odd);
  store.set("NUM", "123");
  EXPECT_EQ(SecretStore().get("ODD"), odd);
  EXPECT_EQ(SecretStore().get("NUM"), "123");
  store.set("NUM", "456");  // replaces
  EXPECT_EQ(SecretStore().get("NUM"), "456");
  EXPECT_EQ(store.names(), (std::vector<std::string>{"NUM", "ODD"}));
}

TEST(SecretStore, Remove) {
  ScopedFerryHome home;
  SecretStore store;
  store.set("A", "aaaa");
  store.set("B", "bbbb");
  EXPECT_TRUE(store.remove("A"));
  EXPECT_EQ(store.get("A"), std::nullopt);
  EXPECT_EQ(store.get("B"), "bbbb");
  EXPECT_FALSE(store.remove("A"));
  EXPECT_FALSE(store.remove("NEVER"));
  EXPECT_EQ(mode_of(store.path()), 0600u);
  EXPECT_EQ(store.names(), (std::vector<std::string>{"B"}));
}

TEST(SecretStore, Names) {
  for (const char* good : {"A", "api_token", "AWS_CREDENTIALS", "_x9", "123"}) {
    EXPECT_NO_THROW(ferry::secrets::check_secret_name(good)) << good;
  }
  for (const char* bad : {"", "a-b", "a b", "a.b", "a/b", "ü", "A=B", "$A"}) {
    std::string err = error_of([&] { ferry::secrets::check_secret_name(bad); });
    EXPECT_TRUE(contains(err, "Bad secret name '" + std::string(bad) + "'")) << bad << ": " << err;
  }
  ScopedFerryHome home;
  EXPECT_THROW(SecretStore().set("a-b", "x"), ferry::ValueError);
  EXPECT_FALSE(fs::exists(SecretStore().path()));
}

// Several processes setting keys at once, each a read-modify-write of the whole file: the
// lock makes every one of them land.
TEST(SecretStore, ConcurrentSetsFromSeveralProcessesLoseNothing) {
  ScopedFerryHome home;
  constexpr int kProcs = 8;
  constexpr int kKeys = 12;
  std::vector<pid_t> children;
  for (int p = 0; p < kProcs; ++p) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int code = 0;
      try {
        SecretStore store;
        for (int k = 0; k < kKeys; ++k) {
          store.set("K_" + std::to_string(p) + "_" + std::to_string(k),
                    "value-" + std::to_string(p * 1000 + k));
        }
      } catch (...) {
        code = 3;
      }
      ::_exit(code);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  }
  std::map<std::string, std::string> all = SecretStore().load();
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kProcs * kKeys));
  for (int p = 0; p < kProcs; ++p) {
    for (int k = 0; k < kKeys; ++k) {
      std::string name = "K_" + std::to_string(p) + "_" + std::to_string(k);
      EXPECT_EQ(all[name], "value-" + std::to_string(p * 1000 + k)) << name;
    }
  }
  EXPECT_EQ(mode_of(SecretStore().path()), 0600u);
}
