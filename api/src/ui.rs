//! The web UI: the files `frontend/` builds into `frontend/dist`, embedded in the
//! binary at compile time (rust-embed; in debug builds read from disk), or served
//! from `ERRAND_UI_DIR` when set. Every path outside `/api/` that names no file is
//! an app route and gets `index.html`; hashed `/assets/*` are cached for a year.
//! A binary built before the UI serves a page that says how to build it, so a plain
//! `cargo build` works on a fresh clone.

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

use crate::error::ApiError;

#[derive(RustEmbed)]
#[folder = "../frontend/dist"]
#[allow_missing = true]
struct Embedded;

/// Where the UI's files come from.
#[derive(Debug, Clone, Default)]
pub enum UiFiles {
    /// Compiled into the binary.
    #[default]
    Embedded,
    /// A directory on disk (`ERRAND_UI_DIR`), e.g. while developing the UI.
    Directory(PathBuf),
}

const NOT_BUILT: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Errand</title></head>\
<body><h1>Errand</h1><p>The web UI was not built into this binary. Run <code>make build</code> (or <code>make run</code>) \
to build it; the API is at <a href=\"/api/v1/openapi.json\">/api/v1</a>.</p></body></html>";

impl UiFiles {
    async fn read(&self, path: &str) -> Option<Vec<u8>> {
        match self {
            UiFiles::Embedded => Embedded::get(path).map(|file| file.data.into_owned()),
            UiFiles::Directory(root) => {
                // Only plain relative names: nothing can climb out of the directory.
                let relative = Path::new(path);
                if relative.components().any(|c| !matches!(c, std::path::Component::Normal(_))) {
                    return None;
                }
                tokio::fs::read(root.join(relative)).await.ok()
            }
        }
    }

    /// Answers a GET or HEAD outside `/api/`.
    pub async fn serve(&self, method: &Method, uri: &Uri) -> Response {
        if method != Method::GET && method != Method::HEAD {
            return ApiError::MethodNotAllowed.into_response();
        }
        let path = uri.path().trim_start_matches('/');
        if !path.is_empty() {
            if let Some(bytes) = self.read(path).await {
                let immutable = path.starts_with("assets/");
                return file(bytes, content_type(path), immutable);
            }
            // A name with an extension is a file that is not there; anything else is
            // a route of the app.
            if path.rsplit('/').next().is_some_and(|name| name.contains('.')) {
                return ApiError::NotFound("file").into_response();
            }
        }
        match self.read("index.html").await {
            Some(bytes) => file(bytes, "text/html; charset=utf-8", false),
            None => file(NOT_BUILT.as_bytes().to_vec(), "text/html; charset=utf-8", false),
        }
    }
}

fn file(bytes: Vec<u8>, content_type: &'static str, immutable: bool) -> Response {
    let cache = if immutable { "public, max-age=31536000, immutable" } else { "no-cache" };
    let mut response = (StatusCode::OK, Body::from(bytes)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn files_routes_and_the_limits_of_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("assets")).unwrap();
        std::fs::write(dir.path().join("index.html"), "<!doctype html><p>app</p>").unwrap();
        std::fs::write(dir.path().join("assets/app-1a2b.js"), "console.log(1)").unwrap();
        std::fs::write(dir.path().parent().unwrap().join("secret.txt"), "no").unwrap();
        let ui = UiFiles::Directory(dir.path().to_path_buf());
        let get = |path: &str| {
            let uri: Uri = path.parse().unwrap();
            let ui = ui.clone();
            async move { ui.serve(&Method::GET, &uri).await }
        };
        let asset = get("/assets/app-1a2b.js").await;
        assert_eq!(asset.status(), 200);
        assert_eq!(asset.headers()[header::CACHE_CONTROL], "public, max-age=31536000, immutable");
        assert_eq!(asset.headers()[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
        for route in ["/", "/today", "/tasks/01a2-b3", "/settings"] {
            let page = get(route).await;
            assert_eq!(page.status(), 200, "{route}");
            assert_eq!(page.headers()[header::CACHE_CONTROL], "no-cache");
        }
        assert_eq!(get("/assets/missing.js").await.status(), 404);
        assert_eq!(get("/../secret.txt").await.status(), 404);
        assert_eq!(ui.serve(&Method::POST, &"/".parse().unwrap()).await.status(), 405);
    }
}
