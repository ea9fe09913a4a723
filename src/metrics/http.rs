//! The endpoint's HTTP, pure: a request head (bytes up to the blank line) to a [`Route`], and
//! a response's bytes. Strict and small: HTTP/1.0 or 1.1, CRLF line ends, `GET` or `HEAD` of
//! `/metrics` (a query string is ignored); every response closes the connection.
//!
//! ```text
//! GET /metrics HTTP/1.1\r\n                         → 200, OpenMetrics (asked for) or text 0.0.4
//! Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5\r\n\r\n
//! GET /other HTTP/1.1 …                             → 404
//! POST /metrics HTTP/1.1 …                          → 405, Allow: GET, HEAD
//! anything else (no version, bad header, not ASCII) → 400
//! ```

use super::Format;

/// The largest request head accepted; a longer one is answered 400 unread.
pub const MAX_HEAD_BYTES: usize = 8 * 1024;

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The metrics, in `format`; `head_only` for `HEAD`.
    Metrics {
        format: Format,
        head_only: bool,
    },
    NotFound,
    MethodNotAllowed,
    /// Not a request this endpoint understands; the reason goes in the body.
    BadRequest(&'static str),
}

/// The length of the head in `buf` (up to and including the blank line), once complete.
pub fn head_len(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// The route of a complete request head (as [`head_len`] found it).
pub fn route(head: &[u8]) -> Route {
    let Ok(text) = std::str::from_utf8(head) else {
        return Route::BadRequest("the request is not ASCII text");
    };
    if !text.is_ascii() {
        return Route::BadRequest("the request is not ASCII text");
    }
    let mut lines = text.trim_end_matches("\r\n").split("\r\n");
    let Some((method, target)) = lines.next().and_then(request_line) else {
        return Route::BadRequest("the request line is not METHOD /path HTTP/1.x");
    };
    let mut accept = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Route::BadRequest("a header line has no colon");
        };
        if name.is_empty() || !name.bytes().all(is_token) {
            return Route::BadRequest("a header name is not a token");
        }
        if name.eq_ignore_ascii_case("accept") {
            accept = Some(value.trim());
        }
    }
    let path = target.split_once('?').map_or(target, |(p, _)| p);
    if path != "/metrics" {
        return Route::NotFound;
    }
    match method {
        "GET" | "HEAD" => Route::Metrics {
            format: negotiate(accept),
            head_only: method == "HEAD",
        },
        _ => Route::MethodNotAllowed,
    }
}

/// `(method, target)` of `METHOD SP /target SP HTTP/1.x`.
fn request_line(line: &str) -> Option<(&str, &str)> {
    let mut parts = line.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    let ok = parts.next().is_none()
        && !method.is_empty()
        && method.bytes().all(|b| b.is_ascii_uppercase())
        && target.starts_with('/')
        && !target.bytes().any(|b| b.is_ascii_control())
        && matches!(version, "HTTP/1.0" | "HTTP/1.1");
    ok.then_some((method, target))
}

fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// OpenMetrics when the `Accept` header offers it (with a q above 0), else text 0.0.4.
pub fn negotiate(accept: Option<&str>) -> Format {
    let offered = accept.unwrap_or("").split(',').any(|range| {
        let mut params = range.split(';').map(str::trim);
        let media = params.next().unwrap_or("");
        let refused = params.any(|p| {
            p.strip_prefix("q=")
                .and_then(|q| q.parse::<f64>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        media.eq_ignore_ascii_case("application/openmetrics-text") && !refused
    });
    if offered {
        Format::OpenMetrics
    } else {
        Format::Text
    }
}

/// A complete response that closes the connection; `body` is left out for `HEAD` (its length
/// still said).
pub fn response(status: &str, content_type: &str, body: &[u8], head_only: bool) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n",
        body.len()
    );
    if status.starts_with("405") {
        out.push_str("Allow: GET, HEAD\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    let mut bytes = out.into_bytes();
    if !head_only {
        bytes.extend_from_slice(body);
    }
    bytes
}

/// The status line and plain-text body of a route other than the metrics.
pub fn refusal(route: Route) -> (&'static str, String) {
    match route {
        Route::NotFound => ("404 Not Found", "only /metrics is served here\n".into()),
        Route::MethodNotAllowed => (
            "405 Method Not Allowed",
            "only GET and HEAD of /metrics\n".into(),
        ),
        Route::BadRequest(why) => ("400 Bad Request", format!("{why}\n")),
        Route::Metrics { .. } => ("200 OK", String::new()),
    }
}
