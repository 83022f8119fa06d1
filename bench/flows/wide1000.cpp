// A 1,000-task flow for the freeze/thaw benchmark (bench/ferry_bench.cpp): one root task
// and 999 tasks taking its result, added in a loop the way a user would write it (default
// task names, so ferry names them "work", "work-2", ..., "work-999").
#include <ferry/ferry.hpp>

int seed() { return 1; }

int work(int x) { return x + 1; }

FERRY_FLOWS(flows) {
  ferry::Flow flow("wide1000");
  auto root = flow.task<seed>();
  for (int i = 1; i < 1000; ++i) flow.task<work>(root);
  flows.add(std::move(flow));
}
