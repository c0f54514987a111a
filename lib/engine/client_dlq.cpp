// Client's dead-letter functions (docs/triage.md): the checks of what an
// operator sends, then the store.
#include <fmt/format.h>

#include "tasker/client.hpp"
#include "tasker/errors.hpp"
#include "tasker/limits.hpp"

namespace tasker {

namespace {

constexpr int kMaxLimit = 1000;

void check_limit(int limit) {
  if (limit < 1 || limit > kMaxLimit)
    throw InvalidRequestError(fmt::format("limit {} is outside 1..{}", limit, kMaxLimit));
}

void check_uuid(const std::string& uuid, std::string_view what) {
  if (!is_uuid(uuid))
    throw InvalidRequestError(fmt::format(
        "`{}` is not a {} uuid (expected 36 characters like 3f2b8c1e-4d5a-4e6f-8a9b-0c1d2e3f4a5b)", uuid, what));
}

void check_text(const std::optional<std::string>& text, std::size_t most, std::string_view what) {
  if (!text) return;
  if (text->size() > most)
    throw InvalidRequestError(fmt::format("{} is {} bytes; at most {} are kept", what, text->size(), most));
  if (const auto at = invalid_utf8_offset(*text); at != std::string::npos)
    throw InvalidRequestError(fmt::format("{} is not UTF-8 (byte {})", what, at));
}

}  // namespace

std::vector<DlqEntry> Client::list_dlq(const DlqFilter& filter) {
  check_limit(filter.limit);
  if (filter.offset < 0) throw InvalidRequestError(fmt::format("offset {} is negative", filter.offset));
  return store_->list_dlq(filter);
}

DlqEntry Client::get_dlq_entry(const std::string& task_uuid) {
  check_uuid(task_uuid, "task");
  auto entry = store_->find_dlq_entry(task_uuid);
  if (!entry)
    throw NotFoundError("dead-letter entry for task", task_uuid,
                        "a task has one when it ended in error or was found stale (tasker dlq list)");
  return std::move(*entry);
}

DlqEntry Client::update_dlq_entry(const std::string& dlq_entry_uuid, const DlqUpdate& update) {
  check_uuid(dlq_entry_uuid, "dead-letter entry");
  if (!update.resolution_status && !update.resolution_notes && !update.resolved_by && !update.metadata)
    throw InvalidRequestError("nothing to update: give a resolution_status, resolution_notes, resolved_by or metadata");
  check_text(update.resolution_notes, kMaxDlqNotesBytes, "resolution_notes");
  check_text(update.resolved_by, kMaxDlqResolvedByBytes, "resolved_by");
  if (update.metadata) check_json(*update.metadata, options_.limits, "the entry's metadata");
  auto updated = store_->update_dlq_entry(dlq_entry_uuid, update, options_.clock->now());
  if (!updated) throw NotFoundError("dead-letter entry", dlq_entry_uuid, "list the entries with tasker dlq list");
  return std::move(*updated);
}

std::vector<DlqStats> Client::dlq_stats() { return store_->dlq_stats(); }

std::vector<DlqQueueEntry> Client::dlq_investigation_queue(int limit) {
  check_limit(limit);
  return store_->dlq_investigation_queue(limit, options_.clock->now());
}

std::vector<StalenessEntry> Client::staleness(int limit) {
  check_limit(limit);
  return store_->staleness(options_.staleness, limit, options_.clock->now());
}

DeadLetterResult Client::record_dead_letters() {
  DeadLetterSweep sweep;
  sweep.staleness = options_.staleness;
  DeadLetterResult total;
  constexpr int kMostPasses = 1000;  // 200 entries of each kind a pass: far beyond any outage's backlog
  for (int i = 0; i < kMostPasses; ++i) {
    const DeadLetterResult r = store_->record_dead_letters(sweep, options_.clock->now());
    total.errored += r.errored;
    total.stale += r.stale;
    total.latest_error = r.latest_error ? r.latest_error : total.latest_error;
    if (r.errored < static_cast<std::size_t>(sweep.limit) && r.stale < static_cast<std::size_t>(sweep.limit)) break;
  }
  return total;
}

}  // namespace tasker
