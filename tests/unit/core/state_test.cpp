// Run states: names, finality and failure.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ferry/state.hpp"

namespace {

using ferry::State;

struct StateRow {
  State state;
  const char* name;
  bool final;
  bool failure;
};

// The table the header documents: Success, Failed, TimedOut, TriggerFailed, Skipped,
// Cancelled and Lost are final; Failed, TimedOut, TriggerFailed, Cancelled and Lost are
// failures.
const std::vector<StateRow>& rows() {
  static const std::vector<StateRow> table = {
      {State::Scheduled, "Scheduled", false, false},
      {State::Pending, "Pending", false, false},
      {State::Running, "Running", false, false},
      {State::Retrying, "Retrying", false, false},
      {State::Success, "Success", true, false},
      {State::Failed, "Failed", true, true},
      {State::TimedOut, "TimedOut", true, true},
      {State::TriggerFailed, "TriggerFailed", true, true},
      {State::Skipped, "Skipped", true, false},
      {State::Cancelled, "Cancelled", true, true},
      {State::Lost, "Lost", true, true},
  };
  return table;
}

}  // namespace

TEST(State, TableCoversEveryState) {
  // The rows are the enumerators in order, and the value after the last row is not a
  // state: a state added to the enum without a row here fails this test.
  for (std::size_t i = 0; i < rows().size(); ++i) {
    EXPECT_EQ(static_cast<std::size_t>(rows()[i].state), i) << rows()[i].name;
  }
  EXPECT_STREQ(ferry::to_string(static_cast<State>(rows().size())), "Unknown");
}

TEST(State, ToStringNames) {
  for (const StateRow& row : rows()) {
    EXPECT_STREQ(ferry::to_string(row.state), row.name);
  }
}

TEST(State, RoundTripsThroughStrings) {
  for (const StateRow& row : rows()) {
    std::optional<State> back = ferry::state_from_string(ferry::to_string(row.state));
    ASSERT_TRUE(back.has_value()) << row.name;
    EXPECT_EQ(*back, row.state) << row.name;
  }
}

TEST(State, UnknownNamesAreRefused) {
  EXPECT_EQ(ferry::state_from_string(""), std::nullopt);
  EXPECT_EQ(ferry::state_from_string("success"), std::nullopt);  // names are case-sensitive
  EXPECT_EQ(ferry::state_from_string("Unknown"), std::nullopt);
  EXPECT_EQ(ferry::state_from_string("Success "), std::nullopt);
}

TEST(State, OutOfRangeValueIsUnknown) {
  EXPECT_STREQ(ferry::to_string(static_cast<State>(99)), "Unknown");
  EXPECT_FALSE(ferry::is_final(static_cast<State>(99)));
  EXPECT_FALSE(ferry::is_failure(static_cast<State>(99)));
}

TEST(State, IsFinalTable) {
  for (const StateRow& row : rows()) {
    EXPECT_EQ(ferry::is_final(row.state), row.final) << row.name;
  }
}

TEST(State, IsFailureTable) {
  for (const StateRow& row : rows()) {
    EXPECT_EQ(ferry::is_failure(row.state), row.failure) << row.name;
  }
}

TEST(State, EveryFailureIsFinal) {
  for (const StateRow& row : rows()) {
    if (ferry::is_failure(row.state)) {
      EXPECT_TRUE(ferry::is_final(row.state)) << row.name;
    }
  }
}
