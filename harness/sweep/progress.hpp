// The progress line on stderr: position, current point, elapsed and ETA.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace ffnbench {

class Progress {
 public:
  explicit Progress(size_t total);
  void start_point(size_t done, const std::string& label);
  void finish();

 private:
  size_t total_;
  bool tty_;
  std::chrono::steady_clock::time_point start_;
};

std::string format_duration(double seconds);  // "1h02m", "3m05s", "12.3s"

}  // namespace ffnbench
