//! The docs site's files over HTTP (`strata docs serve`): only files inside
//! the site's folder are served.

use std::path::{Component, Path, PathBuf};

/// The answer to a request for `url`: the file it names under `root`, or 404.
pub fn respond(root: &Path, url: &str) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
    match file_for(root, url) {
        Some(path) => match std::fs::read(&path) {
            Ok(body) => tiny_http::Response::from_data(body).with_header(content_type(&path)).with_status_code(200),
            Err(_) => not_found(),
        },
        None => not_found(),
    }
}

/// The file a URL names under `root`; `None` for one outside it.
fn file_for(root: &Path, url: &str) -> Option<PathBuf> {
    let path = url.split(['?', '#']).next().unwrap_or("/");
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8().ok()?;
    let relative = Path::new(decoded.trim_start_matches('/'));
    if relative.components().any(|c| !matches!(c, Component::Normal(_))) {
        return None;
    }
    let path = root.join(relative);
    if path.is_dir() { Some(path.join("index.html")) } else { Some(path) }
}

fn content_type(path: &Path) -> tiny_http::Header {
    let kind = match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("json") => "application/json",
        Some("js") => "text/javascript",
        Some("css") => "text/css",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    };
    tiny_http::Header::from_bytes(&b"Content-Type"[..], kind.as_bytes()).unwrap_or_else(|_| unreachable!("a valid header"))
}

fn not_found() -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
    tiny_http::Response::from_string("not found").with_status_code(404)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_only_files_inside_the_folder() {
        let root = Path::new("/site");
        assert_eq!(file_for(root, "/index.html?x=1"), Some(PathBuf::from("/site/index.html")));
        assert_eq!(file_for(root, "/../secret"), None);
        assert_eq!(file_for(root, "/%2e%2e/secret"), None);
        assert_eq!(file_for(root, "/a/%2E%2E/%2E%2E/x"), None);
    }
}
