// SecretBox (AES-256-GCM sealing of the server's secrets) and API key making/hashing.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "ferry/error.hpp"
#include "server/api_keys.hpp"
#include "server/secret_box.hpp"
#include "storage/repo_file.hpp"

namespace {

using ferry::server::SecretBox;

const std::string kHexKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

TEST(SecretBox, SealsAndOpens) {
  SecretBox box(kHexKey);
  for (std::string value : {std::string(), std::string("hunter2"), std::string(100000, 'x'),
                            std::string("\0bin\xff", 5)}) {
    std::string sealed = box.seal(value, "db-password");
    EXPECT_EQ(sealed.rfind("v1:", 0), 0u);
    EXPECT_EQ(sealed.find(value.empty() ? "\x01" : value), std::string::npos);
    // nonce (12) + ciphertext + tag (16)
    EXPECT_EQ(ferry::storage::repo::base64_decode(sealed.substr(3)).size(), value.size() + 28);
    EXPECT_EQ(box.open(sealed, "db-password"), value);
  }
}

TEST(SecretBox, EverySealUsesAFreshNonce) {
  SecretBox box(kHexKey);
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) seen.insert(box.seal("same", "n"));
  EXPECT_EQ(seen.size(), 50u);
}

TEST(SecretBox, AcceptsBase64KeyOfThe32Bytes) {
  std::string raw;
  for (int i = 0; i < 32; ++i) raw.push_back(static_cast<char>(i * 7));
  SecretBox b64(ferry::storage::repo::base64_encode(raw));
  std::string hex;
  for (unsigned char c : raw) {
    static const char* digits = "0123456789abcdef";
    hex += digits[c >> 4];
    hex += digits[c & 15];
  }
  SecretBox hexbox(hex);
  EXPECT_EQ(hexbox.open(b64.seal("v", "n"), "n"), "v");
  // Upper-case hex and surrounding whitespace from a copy and paste are fine.
  std::string upper = kHexKey;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  SecretBox up(" " + upper + "\n");
  EXPECT_EQ(SecretBox(kHexKey).open(up.seal("v"), ""), "v");
}

TEST(SecretBox, RejectsBadKeysWithoutEchoingThem) {
  for (std::string bad :
       {std::string(""), std::string("short-secret-key"), kHexKey.substr(2), kHexKey + "00",
        std::string(64, 'g'), ferry::storage::repo::base64_encode(std::string(31, 'k'))}) {
    try {
      SecretBox box(bad);
      ADD_FAILURE() << "accepted a bad key of " << bad.size() << " characters";
    } catch (const ferry::ValueError& e) {
      std::string msg = e.what();
      EXPECT_NE(msg.find("64 hex digits"), std::string::npos) << msg;
      if (bad.size() > 4) EXPECT_EQ(msg.find(bad), std::string::npos) << msg;
    }
  }
}

TEST(SecretBox, TamperedWrongKeyOrOtherNameDoNotOpen) {
  SecretBox box(kHexKey);
  std::string sealed = box.seal("top secret", "a");
  auto expect_refused = [&](const SecretBox& b, const std::string& text, const std::string& name) {
    try {
      b.open(text, name);
      ADD_FAILURE() << "opened " << text;
    } catch (const ferry::ValueError&) {
      ADD_FAILURE() << "a ValueError, not an Error";
    } catch (const ferry::Error& e) {
      EXPECT_NE(
          std::string(e.what()).find("could not be decrypted (wrong FERRY_SERVER_SECRET_KEY?"),
          std::string::npos)
          << e.what();
    }
  };
  // Every byte of the payload (nonce, ciphertext, tag) is covered.
  std::string bytes = ferry::storage::repo::base64_decode(sealed.substr(3));
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    std::string flipped = bytes;
    flipped[i] = static_cast<char>(flipped[i] ^ 0x01);
    expect_refused(box, "v1:" + ferry::storage::repo::base64_encode(flipped), "a");
  }
  expect_refused(box, sealed, "b");
  expect_refused(SecretBox(std::string(64, 'f')), sealed, "a");
  expect_refused(box, "v2:" + sealed.substr(3), "a");
  expect_refused(box, "top secret", "a");
  expect_refused(box, "v1:!!!", "a");
  expect_refused(box, "v1:" + ferry::storage::repo::base64_encode("short"), "a");
  EXPECT_EQ(box.open(sealed, "a"), "top secret");
}

TEST(ApiKeys, NewKeysAreRandomAndWellFormed) {
  std::set<std::string> keys;
  for (int i = 0; i < 100; ++i) {
    std::string k = ferry::server::new_api_key();
    ASSERT_EQ(k.size(), 46u);
    EXPECT_EQ(k.rfind("ferry_", 0), 0u);
    for (char c : k.substr(6)) EXPECT_TRUE(std::isxdigit(c) && !std::isupper(c)) << k;
    keys.insert(k);
  }
  EXPECT_EQ(keys.size(), 100u);
}

TEST(ApiKeys, HashIsSha256Hex) {
  EXPECT_EQ(ferry::server::hash_api_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_NE(ferry::server::hash_api_key("ferry_a"), ferry::server::hash_api_key("ferry_b"));
}

}  // namespace
