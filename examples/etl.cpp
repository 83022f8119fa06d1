// An extract -> transform -> load flow. Run it with
//   ferry run --path examples/etl.cpp --param day=2024-06-02
//
// extract is flaky on purpose (it fails its first attempt) to show retries; the transform
// fans out over three regions; load writes one JSON file; report always runs last.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <ferry/ferry.hpp>

using namespace std::chrono_literals;

// Values cross task edges as JSON, so user types need to_json/from_json. The nlohmann
// macro writes both for a plain struct...
struct Sale {
  std::string region;
  int units = 0;
  double unit_price = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Sale, region, units, unit_price)

// ...or write them by hand (next to the type, so argument-dependent lookup finds them).
struct Summary {
  std::string region;
  int orders = 0;
  int units = 0;
  double revenue = 0;
};
void to_json(ferry::Value& j, const Summary& s) {
  j = {{"region", s.region}, {"orders", s.orders}, {"units", s.units}, {"revenue", s.revenue}};
}
void from_json(const ferry::Value& j, Summary& s) {
  j.at("region").get_to(s.region);
  j.at("orders").get_to(s.orders);
  j.at("units").get_to(s.units);
  j.at("revenue").get_to(s.revenue);
}

std::filesystem::path output_path(const std::string& day) {
  return std::filesystem::temp_directory_path() / "ferry-etl" / ("sales-" + day + ".json");
}

std::vector<Sale> extract(const std::string& day) {
  // Stands in for a source that is sometimes unavailable; failing exactly once keeps the
  // example deterministic while still exercising max_retries and retry_delay.
  if (ferry::context().attempt == 1) {
    throw std::runtime_error("sales source not ready for " + day + " (simulated)");
  }
  return {{"north", 3, 9.5},
          {"south", 5, 4.0},
          {"north", 1, 20.0},
          {"west", 2, 12.25},
          {"south", 4, 4.0}};
}

Summary summarize(const std::vector<Sale>& sales, const std::string& region) {
  Summary s{region};
  for (const Sale& sale : sales) {
    if (sale.region != region) continue;
    s.orders += 1;
    s.units += sale.units;
    s.revenue += sale.units * sale.unit_price;
  }
  return s;
}

// Returns nothing, so load cannot take its result: load depends on it through an
// order-only edge instead.
void prepare_target(const std::string& day) {
  std::filesystem::create_directories(output_path(day).parent_path());
  std::filesystem::remove(output_path(day));  // a rerun of the same day starts clean
}

Summary load(const std::string& day, const Summary& a, const Summary& b, const Summary& c) {
  Summary total{"all"};
  ferry::Value rows = ferry::Value::array();
  for (const Summary& s : {a, b, c}) {
    rows.push_back(s);
    total.orders += s.orders;
    total.units += s.units;
    total.revenue += s.revenue;
  }
  std::ofstream(output_path(day)) << rows.dump(2) << "\n";
  ferry::logger().info("wrote " + output_path(day).string());
  return total;
}

// Runs whatever happened upstream (Trigger::all_finished). A failed upstream task passes
// null, which only a std::optional argument can take.
std::string report(const std::string& day, const std::optional<Summary>& total) {
  if (!total) return day + ": load did not finish; nothing was written";
  char revenue[32];
  std::snprintf(revenue, sizeof revenue, "%.2f", total->revenue);
  return day + ": " + std::to_string(total->orders) + " orders, " + std::to_string(total->units) +
         " units, revenue " + revenue + " -> " + output_path(day).string();
}

FERRY_FLOWS(flows) {
  ferry::Flow flow("etl");
  auto day = flow.parameter<std::string>("day", "2024-06-01");

  auto sales = flow.task<extract>({.max_retries = 2, .retry_delay = 200ms}, day);

  // The flow's shape is fixed when this block runs, so the fan-out list is too. A task
  // takes a fixed number of arguments, so the fan-in names each branch.
  std::vector<ferry::Task<Summary>> parts;
  for (std::string region : {"north", "south", "west"}) {
    parts.push_back(flow.task<summarize>({.name = "summarize-" + region}, sales, region));
  }

  auto target = flow.task<prepare_target>(day);
  auto total = flow.task<load>({.after = {target}}, day, parts[0], parts[1], parts[2]);

  flow.task<report>({.trigger = ferry::Trigger::all_finished}, day, total);
  flows.add(std::move(flow));
}
