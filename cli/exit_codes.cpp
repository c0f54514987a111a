#include "exit_codes.hpp"

#include <fmt/format.h>

#include <cstdio>

#include "tasker/errors.hpp"

namespace tasker::cli {

int report_current_exception() {
  auto print = [](const char* message) { fmt::print(stderr, "tasker: error: {}\n", message); };
  try {
    throw;
  } catch (const TemplateError& e) {
    for (const auto& d : e.diagnostics()) fmt::print(stderr, "{}\n", d.to_string());
    if (e.diagnostics().empty()) print(e.what());
    return kInvalid;
  } catch (const NotFoundError& e) {
    print(e.what());
    return kNotFound;
  } catch (const HandlerNotFoundError& e) {
    print(e.what());
    return kInvalid;
  } catch (const ConfigurationError& e) {
    print(e.what());
    return kInvalid;
  } catch (const DuplicateTaskError& e) {
    print(e.what());
    return kInvalid;
  } catch (const InvalidRequestError& e) {
    print(e.what());
    return kInvalid;
  } catch (const std::exception& e) {
    print(e.what());
    return kFailure;
  }
}

}  // namespace tasker::cli
