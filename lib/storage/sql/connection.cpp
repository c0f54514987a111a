#include "storage/sql/connection.hpp"

#include <fmt/format.h>

#include <charconv>

#include "tasker/errors.hpp"

namespace tasker::detail::sql {

const std::string& Rows::text(std::size_t row, std::size_t col) const {
  const auto& v = rows.at(row).at(col);
  if (!v) throw StorageError(fmt::format("unexpected NULL in result column {}", col));
  return *v;
}

std::string Rows::text_or(std::size_t row, std::size_t col, const std::string& fallback) const {
  const auto& v = rows.at(row).at(col);
  return v ? *v : fallback;
}

std::int64_t Rows::integer(std::size_t row, std::size_t col) const {
  const std::string& s = text(row, col);
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc{}) throw StorageError(fmt::format("expected an integer in result column {}, got `{}`", col, s));
  return value;
}

std::optional<std::int64_t> Rows::optional_integer(std::size_t row, std::size_t col) const {
  if (is_null(row, col)) return std::nullopt;
  return integer(row, col);
}

Rows Connection::call(const std::string& sql, std::span<const Param> params) {
  begin();
  try {
    Rows rows = query(sql, params);
    commit();
    return rows;
  } catch (...) {
    if (healthy()) rollback();
    throw;
  }
}

void throw_storage_error(const std::string& message, bool transient) {
  if (transient) throw TransientStorageError(message);
  throw StorageError(message);
}

}  // namespace tasker::detail::sql
