// catalog-server: parses options, starts the server, and on SIGTERM/SIGINT
// stops accepting calls, lets in-flight calls finish and exits 0.
#include <malloc.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "service/config.h"
#include "absl/strings/str_cat.h"
#include "service/server.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  // `catalog-server migrate [--option=value ...]`: the schema migration
  // step, with the same options (or topology file) as serving and an
  // account that may create tables; exits when done.
  const bool migrate = !args.empty() && args.front() == "migrate";
  if (migrate) args.erase(args.begin());
  for (const std::string& arg : args) {
    if (arg == "--help" || arg == "-h") {
      std::printf(
          "usage: catalog-server [--option=value ...]     serve\n"
          "       catalog-server migrate [--option=value ...]  create the MySQL tables as migrate_mysql_user\n\n"
          "Every option may also come from the environment as CATALOG_<OPTION> (e.g. CATALOG_MYSQL_PASSWORD).\n\n%s",
          catalog::service::ConfigHelp().c_str());
      return 0;
    }
  }
  absl::StatusOr<catalog::service::Config> config =
      catalog::service::ParseConfig(args, [](const std::string& name) -> std::optional<std::string> {
        const char* value = std::getenv(name.c_str());
        return value == nullptr ? std::nullopt : std::optional<std::string>(value);
      });
  if (!config.ok()) {
    std::fprintf(stderr, "catalog-server: %s\n", std::string(config.status().message()).c_str());
    return 2;
  }
  if (migrate) {
    absl::StatusOr<std::string> report = catalog::service::CatalogServer::Migrate(*config);
    if (!report.ok()) {
      std::fprintf(stderr, "catalog-server migrate: %s\n", std::string(report.status().message()).c_str());
      return 1;
    }
    std::printf("%s", report->c_str());
    return 0;
  }

  // glibc would hand heap back to the kernel after most freed ~60 KB
  // response buffers and fetch it again for the next call (issue 7 measured
  // 7-14 us a call). Keep up to 4 MiB of free heap at the top of each arena
  // instead. Not more: the top of a thread's arena is only returned when a
  // free leaves more than this above it (malloc_trim does not trim those
  // tops), so each of up to 8 arenas per core may keep this much after a
  // burst; at 16 MiB a burst of refused 52 MB requests left 20-70 MiB
  // (e2e test "twenty 52 MB requests"), at 4 MiB 3-18 MiB.
  // Setting it also fixes the mmap threshold at its 128 KiB default (no
  // dynamic raise), so large buffers (a rejected 52 MB request) are mapped
  // and unmapped on their own, and the maintenance thread's malloc_trim
  // returns idle memory of the main arena and the free chunks of all.
  // A 4 MiB mmap threshold measured no better within the noise and kept
  // ~70 MiB after the burst.
  mallopt(M_TRIM_THRESHOLD, 4 << 20);

  // Debian's abseil checks every mutex acquisition for lock-order cycles
  // (~1% of a loaded server's CPU). Lock order here is flat and reviewed.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  // Block the stop signals in every thread (gRPC's included), then wait for
  // them here.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  absl::StatusOr<std::unique_ptr<catalog::service::CatalogServer>> server =
      catalog::service::CatalogServer::Start(*config);
  if (!server.ok()) {
    std::fprintf(stderr, "catalog-server: %s\n", std::string(server.status().message()).c_str());
    return 1;
  }
  const std::string redis =
      config->redis_sentinels.empty()
          ? config->redis_host + ":" + std::to_string(config->redis_port)
          : "master '" + config->redis_master_name + "' via sentinels " + config->redis_sentinels;
  (*server)->Log(
      catalog::service::LogLevel::kInfo,
      absl::StrCat("listening on ", config->listen_address, " (port ", (*server)->port(), "), admin plane ",
                   config->admin_listen_address.empty()
                       ? "off"
                       : absl::StrCat(config->admin_listen_address, " (port ", (*server)->admin_port(), ")",
                                      config->admin_token_file.empty() ? "" : ", bearer token required"),
                   ", redis ", redis, ", mysql ", config->mysql_host, ":", config->mysql_port));

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  // Drain: NOT_SERVING first, calls still served while balancers notice,
  // then stop accepting and let in-flight calls finish.
  (*server)->BeginDrain();
  if (config->drain_delay_ms > 0) {
    (*server)->Log(catalog::service::LogLevel::kInfo,
                   absl::StrCat("signal ", signal_number, ", NOT_SERVING, draining for ", config->drain_delay_ms, " ms"));
    absl::SleepFor(absl::Milliseconds(config->drain_delay_ms));
  }
  (*server)->Log(catalog::service::LogLevel::kInfo,
                 absl::StrCat("signal ", signal_number, ", finishing in-flight calls"));
  (*server)->Shutdown(absl::Milliseconds(config->shutdown_grace_ms));
  (*server)->Log(catalog::service::LogLevel::kInfo, "stopped");
  return 0;
}
