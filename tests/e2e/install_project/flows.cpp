#include <ferry/ferry.hpp>

int answer() { return 42; }

FERRY_FLOWS(flows) {
  ferry::Flow flow("installed");
  flow.task<answer>();
  flows.add(std::move(flow));
}
