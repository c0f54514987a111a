// Client's retention functions: purging in bounded batches, importing archives.
#include <fmt/format.h>

#include <stdexcept>

#include "engine/purge.hpp"
#include "model/archive_format.hpp"
#include "tasker/client.hpp"
#include "tasker/errors.hpp"

namespace tasker {

PurgeResult Client::purge(const PurgeRequest& request) {
  return detail::run_purge(*store_, request, options_.clock->now());
}

ImportResult Client::import_archive(const std::vector<json>& records) {
  // Every record is checked before the first is written: nothing half-imported.
  for (std::size_t i = 0; i < records.size(); ++i) {
    try {
      detail::check_archive_record(records[i]);
    } catch (const std::invalid_argument& e) {
      throw InvalidRequestError(fmt::format("archive record {} is not one: {}; nothing was imported", i + 1, e.what()));
    }
  }
  constexpr std::size_t kBatch = 200;
  ImportResult total;
  for (std::size_t at = 0; at < records.size(); at += kBatch) {
    const std::vector<json> batch(records.begin() + static_cast<std::ptrdiff_t>(at),
                                  records.begin() + static_cast<std::ptrdiff_t>(std::min(records.size(), at + kBatch)));
    const ImportResult r = store_->import_archived(batch);
    total.imported += r.imported;
    total.skipped += r.skipped;
  }
  return total;
}

}  // namespace tasker
