// make_harness: the e2e suite's harness on the configured surface.
#include "e2e.hpp"
#include "surface.hpp"

namespace e2e {

std::unique_ptr<Harness> make_harness(bool start_worker, tasker::testing::HarnessOptions options) {
  if (options.template_paths.empty())
    options.template_paths = {source_dir() / "templates", source_dir() / "tests/e2e/templates"};
  if (http_surface()) options.surface = make_http_surface;
  auto h = std::make_unique<Harness>(std::move(options));
  register_handlers(*h);
  if (start_worker) h->start_worker();
  return h;
}

}  // namespace e2e
