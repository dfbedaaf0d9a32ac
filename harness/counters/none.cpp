// The `none` backend: counts nothing, and says so.
#include "counters/backend.hpp"
#include "counters/factory.hpp"

namespace ffnbench {
namespace {

class NoneBackend final : public CounterBackend {
 public:
  std::string name() const override { return "none"; }
  BackendStatus probe() override { return {true, "counts nothing; model columns only"}; }
  void configure(const std::vector<std::string>& events, int) override { events_ = events; }
  void start() override {}
  void stop() override {}
  std::vector<CounterValue> read() override { return {}; }
  std::vector<std::pair<std::string, std::string>> unavailable() const override {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& e : events_) out.emplace_back(e, "counter backend 'none' counts nothing");
    return out;
  }

 private:
  std::vector<std::string> events_;
};

const CounterBackendRegistrar registrar{"none", 100, [] { return std::make_unique<NoneBackend>(); }};

}  // namespace
}  // namespace ffnbench
