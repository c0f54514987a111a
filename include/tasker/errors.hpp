#pragma once
// The one exception hierarchy of tasker. Every error carries what a person
// needs to act on it; whether an operation may be retried is part of the type.
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "tasker/diagnostics.hpp"
#include "tasker/json.hpp"

namespace tasker {

/// Base of everything tasker throws.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A template (or set of templates) failed to load or validate. `diagnostics()`
/// holds every problem found, not just the first.
class TemplateError : public Error {
 public:
  explicit TemplateError(std::vector<Diagnostic> diagnostics);
  TemplateError(const std::string& message, std::vector<Diagnostic> diagnostics);
  [[nodiscard]] const std::vector<Diagnostic>& diagnostics() const { return diagnostics_; }

 private:
  std::vector<Diagnostic> diagnostics_;
};

/// A configuration value is missing or invalid; names the key and where it came from.
class ConfigurationError : public Error {
 public:
  ConfigurationError(std::string key, std::string source, const std::string& problem);
  [[nodiscard]] const std::string& key() const { return key_; }
  [[nodiscard]] const std::string& source() const { return source_; }

 private:
  std::string key_;
  std::string source_;
};

/// No handler is registered under a callable name.
class HandlerNotFoundError : public Error {
 public:
  explicit HandlerNotFoundError(std::string callable, const std::vector<std::string>& known = {});
  [[nodiscard]] const std::string& callable() const { return callable_; }

 private:
  std::string callable_;
};

/// A submission matched an existing task's identity; names that task.
class DuplicateTaskError : public Error {
 public:
  DuplicateTaskError(std::string existing_task_uuid, std::string identity_hash);
  [[nodiscard]] const std::string& existing_task_uuid() const { return existing_task_uuid_; }
  [[nodiscard]] const std::string& identity_hash() const { return identity_hash_; }

 private:
  std::string existing_task_uuid_;
  std::string identity_hash_;
};

/// A task, step or template that does not exist.
class NotFoundError : public Error {
 public:
  NotFoundError(std::string kind, std::string id, const std::string& hint = {});
  [[nodiscard]] const std::string& kind() const { return kind_; }
  [[nodiscard]] const std::string& id() const { return id_; }

 private:
  std::string kind_;
  std::string id_;
};

/// A request that can never succeed as written (unknown bypass step, priority
/// out of range, an operation not allowed in the current state, ...).
class InvalidRequestError : public Error {
 public:
  using Error::Error;
};

/// A request the current state refuses, which may succeed in another (a
/// signal to a task that has finished): HTTP 409, CLI exit 4.
class ConflictError : public InvalidRequestError {
 public:
  using InvalidRequestError::InvalidRequestError;
};

/// Input beyond one of tasker's limits (limits.hpp, docs/limits.md). The
/// message names the input, the value found, the limit and how to raise it.
class LimitError : public InvalidRequestError {
 public:
  LimitError(const std::string& message, std::string limit, std::size_t actual, std::size_t allowed)
      : InvalidRequestError(message), limit_(std::move(limit)), actual_(actual), allowed_(allowed) {}
  /// The limit's configuration key, e.g. `limits.json_max_depth`.
  [[nodiscard]] const std::string& limit() const { return limit_; }
  /// The value found (for a parse stopped early: the first value over the limit).
  [[nodiscard]] std::size_t actual() const { return actual_; }
  [[nodiscard]] std::size_t allowed() const { return allowed_; }

 private:
  std::string limit_;
  std::size_t actual_;
  std::size_t allowed_;
};

/// The database failed, and repeating the operation as it is will not help (a value it refuses, a
/// schema newer than this build, a file that is not a database). Base of the storage errors: whether
/// an operation may be repeated is told by the type alone.
class StorageError : public Error {
 public:
  using Error::Error;
};

/// The database failed transiently and the transaction certainly did not commit (busy, deadlock,
/// serialization failure, a connection broken before commit): repeating the whole operation is safe.
class TransientStorageError : public StorageError {
 public:
  using StorageError::StorageError;
};

/// The connection broke while committing: the transaction may or may not have
/// committed. Never retried blindly; callers decide (fencing makes result
/// recording safe to repeat, task creation is not).
class StorageInDoubtError : public StorageError {
 public:
  using StorageError::StorageError;
};

/// Base of the errors a step handler throws to fail its step.
class StepError : public Error {
 public:
  StepError(const std::string& message, json context) : Error(message), context_(std::move(context)) {}
  [[nodiscard]] const json& context() const { return context_; }
  /// The step's recorded error_type; empty means permanent_error / retryable_error.
  [[nodiscard]] const std::string& error_type() const { return error_type_; }
  void set_error_type(std::string type) { error_type_ = std::move(type); }

 private:
  json context_;
  std::string error_type_;
};

/// The step failed and must not be retried (invalid input, card declined, ...).
class PermanentError : public StepError {
 public:
  explicit PermanentError(const std::string& message, json context = json::object())
      : StepError(message, std::move(context)) {}
};

/// The step failed transiently; it is retried while the policy allows.
/// `retry_after`, when given, replaces the policy's backoff for this retry.
class RetryableError : public StepError {
 public:
  explicit RetryableError(const std::string& message,
                          std::optional<std::chrono::milliseconds> retry_after = std::nullopt,
                          json context = json::object())
      : StepError(message, std::move(context)), retry_after_(retry_after) {}
  [[nodiscard]] std::optional<std::chrono::milliseconds> retry_after() const { return retry_after_; }

 private:
  std::optional<std::chrono::milliseconds> retry_after_;
};

}  // namespace tasker
