#pragma once
// The deprecated StoreOptions::jitter (CHANGELOG.md): false keeps the retry
// delays of every worker on the store free of jitter, as it did when the store
// drew the jitter itself. Goes when the member goes.
#include <optional>
#include <vector>

#include "tasker/store.hpp"

namespace tasker::detail {

/// `options.jitter`, read where its deprecation warning would only be noise.
[[nodiscard]] bool store_allows_jitter(const StoreOptions& options);

/// A worker's outcomes and claim with every request for jitter taken out.
class Unjittered {
 public:
  Unjittered(const std::vector<StepOutcome>& outcomes, const ClaimRequest* claim);
  [[nodiscard]] const std::vector<StepOutcome>& outcomes() const { return outcomes_; }
  [[nodiscard]] const ClaimRequest* claim() const { return claim_ ? &*claim_ : nullptr; }

 private:
  std::vector<StepOutcome> outcomes_;
  std::optional<ClaimRequest> claim_;
};

}  // namespace tasker::detail
