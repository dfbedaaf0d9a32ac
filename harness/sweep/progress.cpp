#include "sweep/progress.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

namespace ffnbench {

std::string format_duration(double s) {
  if (s >= 3600) return fmt::format("{}h{:02}m", static_cast<int>(s / 3600), static_cast<int>(s / 60) % 60);
  if (s >= 60) return fmt::format("{}m{:02}s", static_cast<int>(s / 60), static_cast<int>(s) % 60);
  return fmt::format("{:.1f}s", s);
}

Progress::Progress(size_t total)
    : total_(total), tty_(isatty(STDERR_FILENO) != 0), start_(std::chrono::steady_clock::now()) {}

void Progress::start_point(size_t done, const std::string& label) {
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::string eta = done == 0 ? "?" : format_duration(elapsed / done * (total_ - done));
  std::string line = fmt::format("[{}/{}] {} | elapsed {} | ETA {}", done + 1, total_, label,
                                 format_duration(elapsed), eta);
  if (tty_) {
    if (line.size() > 150) line = line.substr(0, 147) + "...";
    std::fprintf(stderr, "\r\033[K%s", line.c_str());
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  std::fflush(stderr);
}

void Progress::finish() {
  if (tty_) std::fprintf(stderr, "\r\033[K");
}

}  // namespace ffnbench
