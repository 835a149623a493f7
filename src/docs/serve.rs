//! `strata docs serve`: the files of `target/docs/` over HTTP on 127.0.0.1,
//! until Ctrl-C. Only files inside that folder are served.

use std::path::{Component, Path, PathBuf};

use crate::commands::Failure;
use crate::core::diagnostic::Diagnostic;

pub fn serve(project: &crate::project::LoadOptions, port: u16) -> Result<i32, Failure> {
    let loaded = crate::project::Project::load(project)?;
    let root = loaded.target_path.join("docs");
    if !root.join("index.html").is_file() {
        return Err(Diagnostic::new(format!("there is no docs site in `{}` yet", root.display())).help("run `strata docs generate` first").into());
    }
    let server = tiny_http::Server::http(("127.0.0.1", port))
        .map_err(|err| Diagnostic::new(format!("could not listen on 127.0.0.1:{port}: {err}")).help("pick another port with `--port`"))?;
    let address = server.server_addr().to_ip().map_or_else(|| format!("127.0.0.1:{port}"), |a| a.to_string());
    println!("Serving the docs of `{}` at http://{address}/ (Ctrl-C to stop)", loaded.name);
    for request in server.incoming_requests() {
        let response = match file_for(&root, request.url()) {
            Some(path) => match std::fs::read(&path) {
                Ok(body) => tiny_http::Response::from_data(body).with_header(content_type(&path)).with_status_code(200),
                Err(_) => not_found(),
            },
            None => not_found(),
        };
        let _ = request.respond(response);
    }
    Ok(0)
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
