//! Links the server binary as a position-dependent executable on Linux, and tells the tests
//! whether nginx and Redis are required.
//!
//! A position-independent Rust binary of this size carries ~23,000 relative relocations
//! (550 KB of `.rela.dyn`) that the loader reads and applies at every start, dirtying ~390 KB
//! of `.data.rel.ro`; together about a tenth of the idle server's resident memory. Linked at
//! a fixed address they are resolved by the linker instead. Only the `seedream-mcp` binary is
//! affected (not tests, examples or the library), and only on Linux with glibc, where `-no-pie`
//! is understood by both GCC and Clang drivers.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    require("SEEDREAM_REQUIRE_NGINX", "require_nginx");
    require("SEEDREAM_REQUIRE_REDIS", "require_redis");
    // Not on musl: Rust links its static binaries as static PIEs that relocate themselves with
    // their own start files, and `-no-pie` on top gives a binary that crashes at start.
    let linux = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    let musl = std::env::var("CARGO_CFG_TARGET_ENV").is_ok_and(|env| env == "musl");
    if linux && !musl {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}

/// `cfg(require_nginx)` when `SEEDREAM_REQUIRE_NGINX=1` (CI, which installs nginx), and
/// `cfg(require_redis)` when `SEEDREAM_REQUIRE_REDIS=1` (CI installs redis-server): the tests
/// that need them then run, and fail if they are missing. Without it those tests are ignored with
/// a reason, so a machine without them shows them as ignored instead of passing them unrun. An
/// attribute can only be chosen at build time, hence this.
fn require(var: &str, cfg: &str) {
    println!("cargo:rerun-if-env-changed={var}");
    println!("cargo:rustc-check-cfg=cfg({cfg})");
    if std::env::var(var).is_ok_and(|v| v == "1") {
        println!("cargo:rustc-cfg={cfg}");
    }
}
