# Writes OUT, a C++ file defining `const char* const ${SYMBOL}` (in namespace
# ${NAMESPACE}) as the text of IN, so a document ships inside the library.
file(READ "${IN}" content)
file(WRITE "${OUT}" "// Generated from ${IN} by cmake/embed_text.cmake; edit that file.\nnamespace ${NAMESPACE} {\nextern const char* const ${SYMBOL};\nconst char* const ${SYMBOL} = R\"EMBEDDED(${content})EMBEDDED\";\n}  // namespace ${NAMESPACE}\n")
