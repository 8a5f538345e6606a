# Writes the prelude's text into a C++ source file, so gradc needs no data
# files at run time. Invoked by frontend/CMakeLists.txt.
file(READ "${INPUT}" text)
file(WRITE "${OUTPUT}" "// Generated from frontend/Prelude.grad; do not edit.\n"
  "namespace gradc { extern const char kPreludeSource[] = R\"GRADC_PRELUDE(${text})GRADC_PRELUDE\"; }\n")
