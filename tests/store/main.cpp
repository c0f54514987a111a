// The PostgreSQL-only store tests (differential, compatibility): doctest's own main.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
