#include <gtest/gtest.h>

#include "ferry/ferry.hpp"

namespace {
int add(int a, int b) { return a + b; }
}  // namespace

TEST(Smoke, RunsTwoTasks) {
  ferry::Flow flow("smoke");
  auto x = flow.parameter<int>("x", 1);
  auto a = flow.task<add>(x, 2);
  auto b = flow.task<add>(a, a);
  auto c = flow.task([](int v) { return v * 10; }, b);
  (void)c;
  ferry::RunResult r = flow.run({{"x", 5}});
  ASSERT_EQ(r.state, ferry::State::Success) << r.message;
  EXPECT_EQ(r.result, 140);
  EXPECT_EQ(r.tasks[1].name, "add-2");
  EXPECT_EQ(r.tasks[2].name, "lambda");
}
