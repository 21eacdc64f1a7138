//! Rebuilds the crate when the web UI's built files change, so a release binary
//! embeds the UI built last. The directory is created empty on a fresh clone: a
//! missing path would make cargo rerun this script, and rebuild the crate, every time.

fn main() {
    let dist = std::path::Path::new("../frontend/dist");
    if !dist.exists() {
        // Best effort: without it the UI's "not built" page is served.
        let _ = std::fs::create_dir_all(dist);
    }
    println!("cargo:rerun-if-changed=../frontend/dist");
}
