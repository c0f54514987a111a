#include "storage/store_jitter.hpp"

namespace tasker::detail {

bool store_allows_jitter(const StoreOptions& options) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  return options.jitter;
#pragma GCC diagnostic pop
}

Unjittered::Unjittered(const std::vector<StepOutcome>& outcomes, const ClaimRequest* claim) : outcomes_(outcomes) {
  for (auto& o : outcomes_) o.jitter_unit.reset();
  if (claim) {
    claim_ = *claim;
    claim_->jitter = false;
  }
}

}  // namespace tasker::detail
