// The CLI suite's entry point. `--backend=sqlite|postgres` selects the database
// every test's sandbox uses (ctest registers the suite once per backend);
// everything else goes to doctest.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <stdlib.h>

#include <string>

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--backend=", 0) == 0) setenv("TASKER_TEST_BACKEND", arg.substr(10).c_str(), 1);
  }
  doctest::Context context;
  context.applyCommandLine(argc, argv);
  return context.run();
}
