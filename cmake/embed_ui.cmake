# Build-time step: turns the web UI's files (ui/: plain HTML, CSS and
# JavaScript) into a C source file of byte arrays, so `sluice ui` serves its
# pages from the binary with nothing to install and no network at run time.
#
#   cmake -DOUT=FILE.c -DDIR=ui -DFILES="index.html;app.js;..." -P embed_ui.cmake
#
# The output defines ui_assets[] and ui_n_assets as src/serve/ui.h declares
# them. It is written to a temporary name and renamed, so an interrupted
# build never leaves half a file that looks complete.
set(body "/* Generated from ui/ by cmake/embed_ui.cmake: do not edit. */\n")
string(APPEND body "#include \"serve/ui.h\"\n\n")
set(table "const ui_asset ui_assets[] = {\n")
set(i 0)
foreach(f ${FILES})
  file(READ ${DIR}/${f} hex HEX)
  string(LENGTH "${hex}" n)
  math(EXPR size "${n} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  # Lines of 16 bytes keep the file readable by editors and diffs.
  string(REGEX REPLACE "((0x..,){16})" "\\1\n" bytes "${bytes}")
  if(f MATCHES "\\.html$")
    set(ctype "text/html; charset=utf-8")
  elseif(f MATCHES "\\.css$")
    set(ctype "text/css; charset=utf-8")
  elseif(f MATCHES "\\.js$")
    set(ctype "text/javascript; charset=utf-8")
  elseif(f MATCHES "\\.svg$")
    set(ctype "image/svg+xml")
  else()
    message(FATAL_ERROR "embed_ui: no content type for ${f}")
  endif()
  string(APPEND body "static const unsigned char asset_${i}[] = {\n${bytes}0};\n")
  string(APPEND table "\t{\"/ui/${f}\", \"${ctype}\", asset_${i}, ${size}},\n")
  math(EXPR i "${i} + 1")
endforeach()
string(APPEND table "};\nconst size_t ui_n_assets = ${i};\n")
file(WRITE ${OUT}.tmp "${body}\n${table}")
file(RENAME ${OUT}.tmp ${OUT})
