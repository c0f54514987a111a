# Writes OUT, a C++ file defining `${SYMBOL}` (in namespace ${NAMESPACE}): an
# array of {path, text} for each of FILES (paths relative to DIR, separated
# by `|`), and `${SYMBOL}_count`, so a folder of files (the SQL migrations and
# server functions) ships inside the library. The type is declared by the
# header that reads it: `struct EmbeddedFile { const char* path; const char* text; };`.
string(REPLACE "|" ";" files "${FILES}")
set(body "")
set(count 0)
foreach(f IN LISTS files)
  file(READ "${DIR}/${f}" content)
  string(APPEND body "    {\"${f}\", R\"EMBEDDED(${content})EMBEDDED\"},\n")
  math(EXPR count "${count} + 1")
endforeach()
file(WRITE "${OUT}" "// Generated from ${DIR} by cmake/embed_files.cmake; edit those files.\n#include <cstddef>\nnamespace ${NAMESPACE} {\nstruct EmbeddedFile {\n  const char* path;\n  const char* text;\n};\nextern const EmbeddedFile ${SYMBOL}[];\nextern const std::size_t ${SYMBOL}_count;\nconst EmbeddedFile ${SYMBOL}[] = {\n${body}};\nconst std::size_t ${SYMBOL}_count = ${count};\n}  // namespace ${NAMESPACE}\n")
