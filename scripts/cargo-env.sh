# The build environment cargo-leptos uses (see `cargo leptos build -vv`). Source it before a
# plain `cargo test` or `cargo build`: with it, cargo reuses the crates cargo-leptos compiled,
# and the server binary it relinks still serves the wasm bundle under the name the browser
# tests load. Without it, every dependency is rebuilt.
export LEPTOS_OUTPUT_NAME=hostguard LEPTOS_SITE_ROOT=target/site LEPTOS_SITE_PKG_DIR=pkg \
  LEPTOS_SITE_ADDR=127.0.0.1:3000 LEPTOS_RELOAD_PORT=3001 LEPTOS_LIB_DIR=frontend LEPTOS_BIN_DIR=server \
  LEPTOS_JS_MINIFY=false LEPTOS_HASH_FILES=true LEPTOS_HASH_FILE_NAME=hash.txt RUSTFLAGS="--cfg erase_components"
