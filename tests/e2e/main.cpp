// The e2e suite's entry point. `--surface=library|http`, `--backend=sqlite|postgres`
// and `--handlers=cpp|command|persistent` select what every scenario runs against (ctest
// registers the suite once per combination), `--database-url-options=k=v&...`
// adds options to the PostgreSQL URL; everything else goes to doctest.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--backend=", 0) == 0) setenv("TASKER_TEST_BACKEND", arg.substr(10).c_str(), 1);
    if (arg.rfind("--handlers=", 0) == 0) setenv("TASKER_TEST_HANDLERS", arg.substr(11).c_str(), 1);
    if (arg.rfind("--surface=", 0) == 0) setenv("TASKER_TEST_SURFACE", arg.substr(10).c_str(), 1);
    if (arg.rfind("--database-url-options=", 0) == 0)
      setenv("TASKER_TEST_DATABASE_URL_OPTIONS", arg.substr(23).c_str(), 1);
  }
  // The persistent kind's handlers import the tasker package from the source tree.
  const std::string python_path = std::string(TASKER_SOURCE_DIR) + "/clients/python/src";
  const char* old_path = std::getenv("PYTHONPATH");
  setenv("PYTHONPATH", old_path && *old_path ? (python_path + ":" + old_path).c_str() : python_path.c_str(), 1);
  // Handlers (in this process or as commands) leave marker files here.
  char pattern[] = "/tmp/tasker-e2e-XXXXXX";
  const char* dir = mkdtemp(pattern);
  if (dir) setenv("TASKER_E2E_MARKER_DIR", dir, 1);
  doctest::Context context;
  context.applyCommandLine(argc, argv);
  int rc = context.run();
  if (dir) std::filesystem::remove_all(dir);
  return rc;
}
