// The hello flow: one parameter, one task. Run it with
//   ferry run --path examples/hello.cpp --param name=Ada
#include <ferry/ferry.hpp>

std::string greet(const std::string& name) {
  ferry::logger().info("greeting " + name);
  return "Hello, " + name;
}

FERRY_FLOWS(flows) {
  ferry::Flow flow("hello");
  auto name = flow.parameter<std::string>("name", "world");
  flow.task<greet>(name);
  flows.add(std::move(flow));
}
