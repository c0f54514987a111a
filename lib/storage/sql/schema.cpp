#include "storage/sql/schema.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <array>
#include <charconv>
#include <chrono>
#include <set>
#include <stdexcept>

#include "storage/sql/rows.hpp"
#include "storage/sql/sql_files.hpp"
#include "storage/sql/state_sql.hpp"
#include "tasker/clock.hpp"
#include "tasker/errors.hpp"

namespace tasker::detail::sql {

namespace {

constexpr std::string_view kFolder = "migrations/";
constexpr std::string_view kHeader = "-- tasker migration ";

std::string sha256_hex(std::string_view text) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  EVP_Digest(text.data(), text.size(), digest.data(), &size, EVP_sha256(), nullptr);
  std::string hex;
  for (unsigned int i = 0; i < size; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

/// `{{include:PATH}}` lines replaced by the embedded file, then the state
/// machine's and the rows' placeholders filled.
std::string render_file(std::string_view path) {
  std::string text(sql_file(path));
  constexpr std::string_view kInclude = "{{include:";
  for (auto at = text.find(kInclude); at != std::string::npos; at = text.find(kInclude, at)) {
    const auto end = text.find("}}", at);
    const std::string included(text.substr(at + kInclude.size(), end - at - kInclude.size()));
    const std::string_view body = sql_file(included);
    text.replace(at, end + 2 - at, body);
    at += body.size();
  }
  try {
    return render_sql(text, row_fragment);
  } catch (const std::invalid_argument& e) {
    throw std::logic_error(fmt::format("{}: {}", path, e.what()));
  }
}

/// The migrations of the embedded files: migrations/NNNN_name.sql and NNNN_name.DIALECT.sql.
std::vector<Migration> load_migrations() {
  std::map<int, Migration> by_version;
  for (const SqlFile& f : sql_files()) {
    if (f.path.substr(0, kFolder.size()) != kFolder) continue;
    const std::string_view name = f.path.substr(kFolder.size());
    int version = 0;
    auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), version);
    if (ec != std::errc{} || *end != '_')
      throw std::logic_error(fmt::format("{}: a migration's file name starts with its number (0007_name.sql)", f.path));
    Migration& m = by_version[version];
    m.version = version;
    const std::string_view stem = name.substr(0, name.size() - 4);  // without ".sql"
    const auto dot = stem.find('.');
    std::string sql = render_file(f.path);
    if (dot == std::string_view::npos)
      m.sql = std::move(sql);
    else
      m.dialect_sql[std::string(stem.substr(dot + 1))] = std::move(sql);
    const std::string prefix = fmt::format("{}{}: ", kHeader, version);
    if (f.text.substr(0, prefix.size()) != prefix)
      throw std::logic_error(fmt::format("{}: the first line says `{}DESCRIPTION`", f.path, prefix));
    const std::string_view rest = f.text.substr(prefix.size());
    if (m.description.empty() || dot == std::string_view::npos) m.description = rest.substr(0, rest.find('\n'));
  }
  // Numbers may have gaps: branches developed side by side take numbers ahead
  // of one another, and migrate() applies every one a database lacks.
  std::vector<Migration> out;
  for (auto& [version, m] : by_version) {
    std::string all = m.sql;
    for (const auto& [dialect, sql] : m.dialect_sql) all += fmt::format("\n-- {}\n{}", dialect, sql);
    m.checksum = sha256_hex(all);
    out.push_back(std::move(m));
  }
  return out;
}

std::string render_dialect(const std::string& sql, const Dialect& dialect) {
  std::string out = sql;
  for (auto [placeholder, value] : {std::pair<std::string, std::string>{"{id}", dialect.id_column},
                                    std::pair<std::string, std::string>{"{json}", dialect.json_type}}) {
    for (auto pos = out.find(placeholder); pos != std::string::npos; pos = out.find(placeholder, pos + value.size()))
      out.replace(pos, placeholder.size(), value);
  }
  return out;
}

const char* kMigrationsTable =
    "CREATE TABLE IF NOT EXISTS tasker_schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL, "
    "applied_at BIGINT NOT NULL)";

void apply(Backend& backend, Connection& connection, const Migration& m) {
  connection.begin();
  try {
    // Re-read inside the transaction: another process may have applied it meanwhile.
    Param version{static_cast<std::int64_t>(m.version)};
    if (connection.query("SELECT 1 FROM tasker_schema_migrations WHERE version = $1", {&version, 1}).empty()) {
      const Dialect& dialect = backend.dialect();
      if (!m.sql.empty()) connection.execute_script(render_dialect(m.sql, dialect));
      if (auto it = m.dialect_sql.find(dialect.name); it != m.dialect_sql.end())
        connection.execute_script(render_dialect(it->second, dialect));
      std::vector<Param> params{static_cast<std::int64_t>(m.version), m.description,
                                static_cast<std::int64_t>(to_epoch_ms(SystemClock::instance().now()))};
      if (m.version >= kChecksumsVersion) {
        params.emplace_back(m.checksum);
        connection.query(
            "INSERT INTO tasker_schema_migrations (version, description, applied_at, checksum) VALUES ($1, $2, $3, $4)",
            params);
      } else {
        connection.query("INSERT INTO tasker_schema_migrations (version, description, applied_at) VALUES ($1, $2, $3)",
                         params);
      }
    }
    connection.commit();
  } catch (...) {
    connection.rollback();
    throw;
  }
}

const Migration* find_migration(int version) {
  for (const Migration& m : migrations())
    if (m.version == version) return &m;
  return nullptr;
}

/// Compare the checksums the database recorded with this build's. Migrations
/// applied before checksums were recorded get this build's, once: a current
/// database is read, not written (readers open it while a writer holds SQLite's lock).
void verify_checksums(Backend& backend, Connection& connection) {
  const std::string read = "SELECT version, description, checksum FROM tasker_schema_migrations ORDER BY version";
  Rows r = connection.query(read);
  bool unrecorded = false;
  for (std::size_t i = 0; i < r.size(); ++i) unrecorded = unrecorded || r.is_null(i, 2);
  if (unrecorded) {
    connection.begin();
    try {
      for (const Migration& m : migrations()) {
        std::vector<Param> p{static_cast<std::int64_t>(m.version), m.checksum};
        connection.query("UPDATE tasker_schema_migrations SET checksum = $2 WHERE version = $1 AND checksum IS NULL",
                         p);
      }
      connection.commit();
    } catch (...) {
      connection.rollback();
      throw;
    }
    r = connection.query(read);
  }
  for (std::size_t i = 0; i < r.size(); ++i) {
    const auto version = static_cast<int>(r.integer(i, 0));
    const Migration* m = find_migration(version);
    if (!m)
      throw StorageError(fmt::format(
          "the database {} applied migration {} ({}), which this tasker build does not have: it was migrated by a "
          "different build of tasker. Use that build, or one that has every migration it applied",
          backend.describe(), version, r.text(i, 1)));
    if (r.text_or(i, 2, "") == m->checksum) continue;
    throw StorageError(fmt::format(
        "the database {} applied migration {} ({}) with SQL whose SHA-256 is {}, but this tasker build's migration {} "
        "is {}: the migration was changed after it was released, or the database was migrated by a different build "
        "of tasker. Use the build that migrated it; a released migration is never edited (docs/deployment.md, "
        "\"Migrations\")",
        backend.describe(), version, r.text(i, 1), r.text_or(i, 2, "(none)"), version, m->checksum));
  }
}

}  // namespace

const std::vector<Migration>& migrations() {
  static const std::vector<Migration> list = load_migrations();
  return list;
}

int schema_version(Connection& connection) {
  Rows rows = connection.query("SELECT COALESCE(MAX(version), 0) FROM tasker_schema_migrations");
  return static_cast<int>(rows.integer(0, 0));
}

void migrate(Backend& backend, Connection& connection) {
  backend.lock_migrations(connection);
  struct Unlock {
    Backend& backend;
    Connection& connection;
    ~Unlock() { backend.unlock_migrations(connection); }
  } unlock{backend, connection};

  connection.execute_script(kMigrationsTable);
  const int known = migrations().back().version;
  const int current = schema_version(connection);
  if (current > known)
    throw StorageError(
        fmt::format("the database {} has schema version {}, newer than this tasker build knows ({}); "
                    "upgrade tasker before using this database",
                    backend.describe(), current, known));
  // Migrations are applied in order; one numbered below the newest applied is
  // applied too when missing (numbers taken ahead by a build merged first).
  // Opening a current database takes no write lock (readers open it while a
  // writer holds SQLite's lock) unless checksums are still to be recorded.
  std::set<int> applied;
  Rows versions = connection.query("SELECT version FROM tasker_schema_migrations");
  for (std::size_t i = 0; i < versions.size(); ++i) applied.insert(static_cast<int>(versions.integer(i, 0)));
  for (const auto& m : migrations())
    if (!applied.count(m.version)) apply(backend, connection, m);
  verify_checksums(backend, connection);
}

}  // namespace tasker::detail::sql
