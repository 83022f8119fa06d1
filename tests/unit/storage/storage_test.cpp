// The Storage base: labels, membership, name conflicts, the descriptor and deserialize.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ferry/ferry.hpp"
#include "unit/storage/storage_test_util.hpp"

namespace {

using ferry::Flow;
using ferry::Value;
using ferry::storage::Storage;
using ferry::storage::StorageImpl;
using ferry::storage_test::error_of;
using ferry::storage_test::has;
using Labels = std::vector<std::string>;

// A storage class with configurable default labels that keeps flows in memory.
class FakeImpl : public StorageImpl {
 public:
  explicit FakeImpl(Labels defaults = {}) : defaults_(std::move(defaults)) {}
  std::string type() const override { return "FakeForTests"; }
  Labels default_labels() const override { return defaults_; }
  int stored = 0;

 protected:
  std::string store_flow(const Flow& flow) override {
    ++stored;
    return "fake://" + flow.name();
  }
  Flow load_flow(const std::string& name, const std::string& location) override {
    Flow f(name + "@" + location);
    return f;
  }
  void serialize_fields(Value& out) const override { out["extra"] = "field"; }

 private:
  Labels defaults_;
};

// Uses the base class's default_labels().
class PlainImpl : public StorageImpl {
 public:
  std::string type() const override { return "PlainForTests"; }

 protected:
  std::string store_flow(const Flow& flow) override { return flow.name(); }
  Flow load_flow(const std::string& name, const std::string&) override { return Flow(name); }
  void serialize_fields(Value&) const override {}
};

std::shared_ptr<FakeImpl> fake(Labels defaults, Labels user, bool add_defaults) {
  auto impl = std::make_shared<FakeImpl>(std::move(defaults));
  impl->user_labels = std::move(user);
  impl->add_default_labels = add_defaults;
  return impl;
}

}  // namespace

TEST(StorageBase, WithoutDefaultLabelsLabelsAreExactlyTheUserList) {
  EXPECT_EQ(fake({"d1", "d2"}, {"l1", "l2"}, false)->labels(), (Labels{"l1", "l2"}));
  // Order and duplicates are kept as given.
  EXPECT_EQ(fake({"d1"}, {"l2", "l1", "l1"}, false)->labels(), (Labels{"l2", "l1", "l1"}));
  EXPECT_EQ(fake({"d1"}, {}, false)->labels(), Labels{});
}

TEST(StorageBase, WithDefaultLabelsLabelsAreTheSortedUnion) {
  EXPECT_EQ(fake({"d1", "d2"}, {"l1", "l2"}, true)->labels(), (Labels{"d1", "d2", "l1", "l2"}));
  EXPECT_EQ(fake({"d2", "d1"}, {"l2", "l1"}, true)->labels(), (Labels{"d1", "d2", "l1", "l2"}));
}

TEST(StorageBase, DefaultAndUserLabelsAreDeduplicated) {
  EXPECT_EQ(fake({"label1"}, {"label1", "label2"}, true)->labels(), (Labels{"label1", "label2"}));
  EXPECT_EQ(fake({}, {"b", "a", "b"}, true)->labels(), (Labels{"a", "b"}));
}

TEST(StorageBase, BaseDefaultLabelsAreEmptyAndBaseDefaultResultIsNone) {
  PlainImpl plain;
  EXPECT_TRUE(plain.default_labels().empty());
  EXPECT_TRUE(plain.labels().empty());
  EXPECT_FALSE(static_cast<bool>(plain.default_result()));
  EXPECT_TRUE(plain.add_default_labels) << "add_default_labels defaults to true";
  EXPECT_FALSE(plain.stored_as_script);
}

TEST(StorageBase, ContainsOnlyNamesOfAddedFlows) {
  Storage s(std::make_shared<FakeImpl>());
  EXPECT_FALSE(s.contains("test"));
  std::string loc = s.add_flow(Flow("test"));
  EXPECT_EQ(loc, "fake://test");
  EXPECT_TRUE(s.contains("test"));
  EXPECT_FALSE(s.contains("other"));
  EXPECT_FALSE(s.contains(""));
  EXPECT_FALSE(s.contains("TEST")) << "names are case sensitive";
  EXPECT_EQ(s.flows(), (std::map<std::string, std::string>{{"test", "fake://test"}}));
}

TEST(StorageBase, NameConflictIsRefusedWithTheReferenceText) {
  auto impl = std::make_shared<FakeImpl>();
  Storage s(impl);
  s.add_flow(Flow("test"));
  std::string err = error_of<ferry::ValueError>([&] { s.add_flow(Flow("test")); });
  EXPECT_EQ(err, "Name conflict: Flow with the name \"test\" is already present in this storage.");
  EXPECT_EQ(impl->stored, 1) << "a refused flow must not be stored";
  EXPECT_EQ(s.flows().at("test"), "fake://test");
}

TEST(StorageBase, GetFlowOfAnUnknownNameIsAValueError) {
  Storage s(std::make_shared<FakeImpl>());
  std::string err = error_of<ferry::ValueError>([&] { s.get_flow("test"); });
  EXPECT_TRUE(has(err, "Flow is not contained in this storage")) << err;
  s.add_flow(Flow("other"));
  err = error_of<ferry::ValueError>([&] { s.get_flow("test"); });
  EXPECT_TRUE(has(err, "Flow is not contained in this storage")) << err;
}

TEST(StorageBase, GetFlowLoadsFromTheRecordedLocation) {
  Storage s(std::make_shared<FakeImpl>());
  s.add_flow(Flow("a"));
  EXPECT_EQ(s.get_flow("a").name(), "a@fake://a");
}

TEST(StorageBase, BuildIsANoOpThatKeepsFlows) {
  Storage s(std::make_shared<FakeImpl>());
  s.build();  // without flows
  s.add_flow(Flow("a"));
  s.add_flow(Flow("b"));
  auto before = s.flows();
  s.build();
  EXPECT_EQ(s.flows(), before);
  EXPECT_EQ(s.get_flow("b").name(), "b@fake://b");
}

TEST(StorageBase, CopiesOfAHandleShareOneStorage) {
  Storage a(std::make_shared<FakeImpl>());
  Storage b = a;
  EXPECT_TRUE(a.same_as(b));
  b.add_flow(Flow("shared"));
  EXPECT_TRUE(a.contains("shared"));
  EXPECT_FALSE(a.same_as(Storage(std::make_shared<FakeImpl>())));
}

TEST(StorageBase, EmptyHandleHasNoTypeAndRefusesUse) {
  Storage empty;
  EXPECT_FALSE(static_cast<bool>(empty));
  EXPECT_EQ(empty.type(), "");
  EXPECT_FALSE(empty.contains("x"));
  EXPECT_THROW(empty.add_flow(Flow("x")), ferry::ValueError);
  EXPECT_THROW(empty.serialize(), ferry::ValueError);
  EXPECT_THROW(empty.get_flow("x"), ferry::ValueError);
}

TEST(StorageBase, SerializeHasTheCommonFieldsAndTheClassFields) {
  auto impl = fake({"d"}, {"u"}, true);
  impl->secrets = {"AUTH", "TOKEN"};
  Storage s(impl);
  s.add_flow(Flow("f"));
  Value d = s.serialize();
  EXPECT_EQ(d["type"], "FakeForTests");
  EXPECT_EQ(d["flows"], (Value{{"f", "fake://f"}}));
  EXPECT_TRUE(d["digests"].is_object());
  EXPECT_EQ(d["secrets"], (Value{"AUTH", "TOKEN"}));
  EXPECT_EQ(d["ferry_version"], FERRY_VERSION);
  EXPECT_EQ(d["extra"], "field");
  // Labels and the result are never part of the descriptor.
  EXPECT_FALSE(d.contains("labels"));
  EXPECT_FALSE(d.contains("user_labels"));
  EXPECT_FALSE(d.contains("add_default_labels"));
  EXPECT_FALSE(d.contains("result"));
}

TEST(StorageDeserialize, RegisteredTypeRoundTripsFlowsDigestsAndSecrets) {
  ferry::storage::register_storage_type("FakeForTests", [](const Value&) {
    return std::shared_ptr<StorageImpl>(std::make_shared<FakeImpl>());
  });
  auto types = ferry::storage::storage_types();
  EXPECT_NE(std::find(types.begin(), types.end(), "FakeForTests"), types.end());

  auto impl = fake({}, {"u"}, true);
  impl->secrets = {"S"};
  impl->digests["f"] = std::string(64, 'a');
  Storage s(impl);
  s.add_flow(Flow("f"));
  Storage r = Storage::deserialize(s.serialize());
  EXPECT_EQ(r.type(), "FakeForTests");
  EXPECT_FALSE(r.same_as(s));
  EXPECT_EQ(r.flows(), s.flows());
  EXPECT_EQ(r.impl()->digests, impl->digests);
  EXPECT_EQ(r.secrets(), (Labels{"S"}));
  EXPECT_TRUE(r.labels().empty()) << "labels are not serialized";
  EXPECT_EQ(r.get_flow("f").name(), "f@fake://f");
}

TEST(StorageDeserialize, UnknownTypeIsAValueErrorListingKnownTypes) {
  // Constructing one of each makes sure both classes are registered.
  ferry::storage::Local local({.validate = false});
  ferry::storage::Module module("m");
  Value d = {{"type", "Nope"}, {"flows", Value::object()}};
  std::string err = error_of<ferry::ValueError>([&] { Storage::deserialize(d); });
  EXPECT_TRUE(has(err, "'Nope'")) << err;
  EXPECT_TRUE(has(err, "Local")) << err;
  EXPECT_TRUE(has(err, "Module")) << err;
}

TEST(StorageDeserialize, MissingOrInvalidTypeIsAValueError) {
  for (const Value& d :
       {Value{{"flows", Value::object()}}, Value{{"type", 5}}, Value{{"type", nullptr}},
        Value::array({"Local"}), Value("Local"), Value()}) {
    std::string err = error_of<ferry::ValueError>([&] { Storage::deserialize(d); });
    EXPECT_TRUE(has(err, "type")) << d.dump() << ": " << err;
  }
}

TEST(StorageDeserialize, MalformedFieldsAreAValueErrorNotAJsonException) {
  ferry::storage::Local local({.validate = false});
  Value d = {{"type", "Local"}, {"directory", "/x"}, {"flows", {{"a", 5}}}};
  std::string err = error_of<ferry::ValueError>([&] { Storage::deserialize(d); });
  EXPECT_TRUE(has(err, "Local")) << err;
  Value m = {{"type", "Module"}, {"flows", Value::object()}};  // no "module"
  EXPECT_THROW(Storage::deserialize(m), ferry::ValueError);
}
