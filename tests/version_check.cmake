# One version everywhere: the OpenAPI document's info.version is the project's
# version (CMakeLists.txt), and CHANGELOG.md has a section for it. Arguments:
# VERSION, SOURCE_DIR.
file(READ ${SOURCE_DIR}/lib/server/openapi.json document)
string(JSON documented GET "${document}" info version)
if(NOT documented STREQUAL VERSION)
  message(FATAL_ERROR "lib/server/openapi.json says info.version ${documented}, but CMakeLists.txt's project "
                      "version is ${VERSION}: set info.version to ${VERSION}")
endif()
file(STRINGS ${SOURCE_DIR}/CHANGELOG.md sections REGEX "^## ")
string(REPLACE "." "\\." escaped ${VERSION})
if(NOT sections MATCHES "## ${escaped}( |;|$)")
  message(FATAL_ERROR "CHANGELOG.md has no section `## ${VERSION}` for the project's version: when you change "
                      "the version, rename `## Unreleased` to it (and start a new Unreleased section)")
endif()
message(STATUS "version ${VERSION}: openapi.json and CHANGELOG.md agree")
