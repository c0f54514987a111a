// Migrations as frozen SQL files: a database records the checksum of each
// migration it applied, and a build whose migration differs is refused,
// naming it; a database newer than the build is refused too.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "storage/backends.hpp"
#include "storage/sql/schema.hpp"
#include "tasker/errors.hpp"
#include "tasker/store.hpp"
#include "tasker/task.hpp"

namespace {

struct TempDb {
  std::filesystem::path file = std::filesystem::temp_directory_path() / ("tasker-schema-" + tasker::new_uuid() + ".db");
  ~TempDb() {
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(file.string() + suffix, ec);
  }
  [[nodiscard]] std::string url() const { return "sqlite://" + file.string(); }
  /// Run `sql` on the file behind tasker's back.
  void tamper(const std::string& sql) const {
    auto backend = tasker::detail::make_sqlite_backend(*tasker::detail::sqlite::parse_url(url()), {});
    backend->connect()->execute_script(sql);
  }
};

}  // namespace

TEST_CASE("schema: every applied migration's checksum is recorded, and a different one is refused, naming it") {
  TempDb db;
  const auto& migrations = tasker::detail::sql::migrations();
  { (void)tasker::open_store(db.url()); }
  { CHECK_NOTHROW((void)tasker::open_store(db.url())); }  // reopening a current database checks and passes

  db.tamper("UPDATE tasker_schema_migrations SET checksum = 'edited' WHERE version = 3");
  try {
    (void)tasker::open_store(db.url());
    FAIL("a database whose migration 3 differs from this build's was opened");
  } catch (const tasker::StorageError& e) {
    const std::string message = e.what();
    CHECK(message.find("applied migration 3 (" + migrations.at(2).description + ")") != std::string::npos);
    CHECK(message.find("SHA-256 is edited") != std::string::npos);
    CHECK(message.find(migrations.at(2).checksum) != std::string::npos);
  }
}

TEST_CASE("schema: checksums of migrations applied before they were recorded are recorded at the upgrade") {
  TempDb db;
  { (void)tasker::open_store(db.url()); }
  // As a database migrated by 0.1.0 looks after the upgrade: no checksum for 1 to 5.
  db.tamper("UPDATE tasker_schema_migrations SET checksum = NULL WHERE version < 6");
  CHECK_NOTHROW((void)tasker::open_store(db.url()));
  db.tamper("UPDATE tasker_schema_migrations SET checksum = 'edited' WHERE version = 1");
  CHECK_THROWS_AS((void)tasker::open_store(db.url()), tasker::StorageError);
}

TEST_CASE("schema: a database newer than this build is refused") {
  TempDb db;
  { (void)tasker::open_store(db.url()); }
  db.tamper("INSERT INTO tasker_schema_migrations (version, description, applied_at) VALUES (999, 'future', 0)");
  CHECK_THROWS_WITH_AS((void)tasker::open_store(db.url()), doctest::Contains("newer than this tasker build knows"),
                       tasker::StorageError);
}
