//! Captures how this extension was compiled so Python can report it (`trocadero_rt.BUILD_INFO`):
//! a debug build of the output thread in production is a bug worth spotting in logs.

fn main() {
    for var in ["PROFILE", "OPT_LEVEL", "TARGET"] {
        let value = std::env::var(var).unwrap_or_else(|_| "unknown".to_owned());
        println!("cargo:rustc-env=TROCADERO_BUILD_{var}={value}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
