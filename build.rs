//! Links the server binary as a position-dependent executable on Linux, and tells the tests
//! whether nginx is required.
//!
//! A position-independent Rust binary of this size carries ~23,000 relative relocations
//! (550 KB of `.rela.dyn`) that the loader reads and applies at every start, dirtying ~390 KB
//! of `.data.rel.ro`; together about a tenth of the idle server's resident memory. Linked at
//! a fixed address they are resolved by the linker instead. Only the `seedream-mcp` binary is
//! affected (not tests, examples or the library), and only on Linux with glibc, where `-no-pie`
//! is understood by both GCC and Clang drivers.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    require_nginx();
    // Not on musl: Rust links its static binaries as static PIEs that relocate themselves with
    // their own start files, and `-no-pie` on top gives a binary that crashes at start.
    let linux = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    let musl = std::env::var("CARGO_CFG_TARGET_ENV").is_ok_and(|env| env == "musl");
    if linux && !musl {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}

/// `cfg(require_nginx)` when `SEEDREAM_REQUIRE_NGINX=1` (CI, which installs nginx): the test that
/// needs nginx then runs, and fails if nginx is missing. Without it that test is ignored with a
/// reason, so a machine without nginx shows it as ignored instead of passing it unrun. An
/// attribute can only be chosen at build time, hence this.
fn require_nginx() {
    println!("cargo:rerun-if-env-changed=SEEDREAM_REQUIRE_NGINX");
    println!("cargo:rustc-check-cfg=cfg(require_nginx)");
    if std::env::var("SEEDREAM_REQUIRE_NGINX").is_ok_and(|v| v == "1") {
        println!("cargo:rustc-cfg=require_nginx");
    }
}
