//! The control-socket protocol: newline-delimited JSON, one request a line, one response a line.
//!
//! Every message carries the protocol version `v`; a request with another version is refused
//! with a clear error instead of being half understood. Decoding is strict: unknown fields,
//! a key given twice, unknown commands and wrong types are errors, and a line longer than [`MAX_REQUEST_BYTES`] is
//! refused before it is parsed.
//!
//! ```text
//! → {"v":1,"cmd":"load","name":"llm","wait":true}
//! ← {"v":1,"ok":true,"data":{"name":"llm","state":"queued","reason":"waiting: load of det in flight"}}
//! → {"v":1,"cmd":"frobnicate"}
//! ← {"v":1,"ok":false,"error":{"code":"bad_request","message":"unknown variant `frobnicate`, ..."}}
//! ```

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::event::EventKind;

/// The protocol version this build speaks.
pub const VERSION: u32 = 1;

/// The longest request line the agent reads; longer ones are refused unparsed.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// The most events one `events` request returns (a larger or absent `limit` is cut to it).
pub const MAX_EVENTS_PER_REQUEST: u32 = 10_000;

/// How a `refused` answer to a connection past the server's limit begins; the CLI tells it
/// from other refusals by it.
pub const TOO_MANY_CONNECTIONS: &str = "too many connections";

/// A request from the CLI (or any local client). On the wire it is the [`Cmd`] object with
/// the version `v` beside the `cmd` tag (see the module example).
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub v: u32,
    pub cmd: Cmd,
}

/// What a client may ask. Every variant names only things the configuration already knows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case", deny_unknown_fields)]
pub enum Cmd {
    /// The status document (device, memory, gate, services). (Empty braces rather than a
    /// unit variant: serde checks unknown fields only on struct variants.)
    Status {},
    /// Each model and service with its state.
    Services {},
    /// Ask the gate to load a configured model. With `wait`, the reply comes when the load
    /// ends (ready, denied, aborted or failed) instead of when it is queued.
    Load {
        name: String,
        #[serde(default)]
        wait: bool,
    },
    /// Stop a model or service (or take it off the gate's queue).
    Unload { name: String },
    /// Restart a model or service; revives one that gave up.
    Restart { name: String },
    /// Events from the store, oldest first.
    Events {
        #[serde(default)]
        since_ms: Option<u64>,
        #[serde(default)]
        after_seq: Option<u64>,
        /// A known kind only: another is a `bad_request` listing the kinds, not an empty
        /// answer.
        #[serde(default, deserialize_with = "crate::event::deserialize_known")]
        kind: Option<EventKind>,
        #[serde(default)]
        subject: Option<String>,
        #[serde(default)]
        limit: Option<u32>,
    },
    /// An operator note into the event log; the reply carries the stored event.
    Note { text: String },
    /// The leak trend of one unit, or of every unit without `name`: a services list whose
    /// entries carry their `trend`.
    Trend {
        #[serde(default)]
        name: Option<String>,
    },
}

/// Why a request failed, as a stable code plus a sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not JSON, wrong fields or types, unknown command, too long.
    BadRequest,
    /// A protocol version this agent does not speak.
    Version,
    /// A name the configuration does not have.
    UnknownName,
    /// The request is valid but the agent refuses it now (e.g. already loading).
    Refused,
    /// The agent failed while doing it.
    Internal,
    /// The agent is shutting down.
    ShuttingDown,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
}

/// One response line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Response {
    pub v: u32,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

impl Response {
    /// A success carrying `data` (one of the `crate::status` reply types) as JSON.
    pub fn ok(data: impl Serialize) -> Response {
        match serde_json::to_value(data) {
            Ok(data) => Response {
                v: VERSION,
                ok: true,
                data: Some(data),
                error: None,
            },
            Err(e) => Response::error(ErrorCode::Internal, format!("unserializable reply: {e}")),
        }
    }

    pub fn error(code: ErrorCode, message: impl Into<String>) -> Response {
        Response {
            v: VERSION,
            ok: false,
            data: None,
            error: Some(ErrorBody {
                code,
                message: message.into(),
            }),
        }
    }

    /// The response as one line, newline included.
    pub fn to_line(&self) -> String {
        // Serializing these plain types cannot fail; fall back to a fixed error line anyway.
        let mut line = serde_json::to_string(self).unwrap_or_else(|_| {
            r#"{"v":1,"ok":false,"error":{"code":"internal","message":"unserializable response"}}"#
                .to_string()
        });
        line.push('\n');
        line
    }
}

impl Request {
    pub fn new(cmd: Cmd) -> Request {
        Request { v: VERSION, cmd }
    }

    pub fn to_line(&self) -> String {
        let mut value = serde_json::to_value(&self.cmd).unwrap_or(Value::Null);
        if let Some(object) = value.as_object_mut() {
            object.insert("v".to_string(), Value::from(self.v));
        }
        let mut line = value.to_string();
        line.push('\n');
        line
    }
}

/// Decodes one request line, or says exactly why not (as the error response to send).
pub fn decode_request(line: &[u8]) -> Result<Request, Response> {
    if line.len() > MAX_REQUEST_BYTES {
        return Err(Response::error(
            ErrorCode::BadRequest,
            format!(
                "request of {} bytes is over the {MAX_REQUEST_BYTES}-byte limit",
                line.len()
            ),
        ));
    }
    let text = std::str::from_utf8(line).map_err(|e| {
        Response::error(ErrorCode::BadRequest, format!("request is not UTF-8: {e}"))
    })?;
    let text = text.trim();
    if text.is_empty() {
        return Err(Response::error(ErrorCode::BadRequest, "empty request"));
    }
    // Check the version first, so an old client gets "version" rather than a field error.
    let mut value: Value = serde_json::from_str(text)
        .map_err(|e| Response::error(ErrorCode::BadRequest, format!("request is not JSON: {e}")))?;
    // `Value` keeps the last of two equal keys: refuse them, as the MQTT commands do.
    super::unique_keys::check(text)
        .map_err(|e| Response::error(ErrorCode::BadRequest, format!("invalid request: {e}")))?;
    match value.get("v").and_then(Value::as_u64) {
        Some(v) if v == u64::from(VERSION) => {}
        Some(v) => {
            return Err(Response::error(
                ErrorCode::Version,
                format!("protocol version {v} is not supported; this agent speaks {VERSION}"),
            ))
        }
        None => {
            return Err(Response::error(
                ErrorCode::BadRequest,
                "request has no numeric \"v\" (protocol version) field",
            ))
        }
    }
    if let Some(object) = value.as_object_mut() {
        object.remove("v");
    }
    let cmd = serde_json::from_value(value)
        .map_err(|e| Response::error(ErrorCode::BadRequest, format!("invalid request: {e}")))?;
    Ok(Request { v: VERSION, cmd })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn code(line: &str) -> ErrorCode {
        decode_request(line.as_bytes())
            .unwrap_err()
            .error
            .unwrap()
            .code
    }

    #[test]
    fn decodes_every_command_in_its_wire_form() {
        let r = decode_request(br#"{"v":1,"cmd":"load","name":"llm","wait":true}"#).unwrap();
        assert_eq!(
            r.cmd,
            Cmd::Load {
                name: "llm".into(),
                wait: true
            }
        );
        let r = decode_request(br#"{"v":1,"cmd":"status"}"#).unwrap();
        assert_eq!(r.cmd, Cmd::Status {});
        let r = decode_request(br#"{"v":1,"cmd":"events","kind":"note","limit":5}"#).unwrap();
        assert!(matches!(
            r.cmd,
            Cmd::Events {
                limit: Some(5),
                kind: Some(EventKind::Note),
                ..
            }
        ));
        let r = decode_request(br#"{"v":1,"cmd":"trend","name":"api"}"#).unwrap();
        assert_eq!(
            r.cmd,
            Cmd::Trend {
                name: Some("api".into())
            }
        );
        let r = decode_request(br#"{"v":1,"cmd":"trend"}"#).unwrap();
        assert_eq!(r.cmd, Cmd::Trend { name: None });
    }

    #[test]
    fn an_events_filter_of_an_unknown_kind_is_refused_with_the_kinds() {
        let error = decode_request(br#"{"v":1,"cmd":"events","kind":"load_abortd"}"#)
            .unwrap_err()
            .error
            .unwrap();
        assert_eq!(error.code, ErrorCode::BadRequest);
        assert!(
            error.message.contains("unknown event kind \"load_abortd\"")
                && error.message.contains("load_aborted, load_ready"),
            "{}",
            error.message
        );
    }

    #[test]
    fn round_trips_requests_through_their_line_form() {
        let req = Request::new(Cmd::Note {
            text: "swapped the fan".into(),
        });
        assert_eq!(decode_request(req.to_line().as_bytes()).unwrap(), req);
    }

    #[test]
    fn refuses_unknown_commands_fields_and_types() {
        assert_eq!(
            code(r#"{"v":1,"cmd":"shell","argv":["rm"]}"#),
            ErrorCode::BadRequest
        );
        assert_eq!(
            code(r#"{"v":1,"cmd":"load","name":"x","extra":1}"#),
            ErrorCode::BadRequest
        );
        assert_eq!(
            code(r#"{"v":1,"cmd":"load","name":7}"#),
            ErrorCode::BadRequest
        );
        assert_eq!(
            code(r#"{"v":1,"cmd":"status","x":null}"#),
            ErrorCode::BadRequest
        );
        assert_eq!(
            code(r#"{"v":1,"cmd":"trend","name":"api","window":"1h"}"#),
            ErrorCode::BadRequest
        );
        assert_eq!(
            code(r#"{"v":1,"cmd":"trend","name":["api"]}"#),
            ErrorCode::BadRequest
        );
        assert_eq!(code("not json"), ErrorCode::BadRequest);
        assert_eq!(code(""), ErrorCode::BadRequest);
    }

    #[test]
    fn a_key_given_twice_is_refused_whichever_comes_last() {
        for line in [
            r#"{"v":1,"cmd":"status","cmd":"unload","name":"llm"}"#,
            r#"{"v":1,"cmd":"load","name":"a","name":"b"}"#,
            r#"{"v":1,"v":1,"cmd":"status"}"#,
        ] {
            let err = decode_request(line.as_bytes()).unwrap_err();
            let body = err.error.unwrap();
            assert_eq!(body.code, ErrorCode::BadRequest, "{line}");
            assert!(
                body.message.contains("duplicate key"),
                "{line}: {}",
                body.message
            );
        }
    }

    #[test]
    fn tells_a_version_mismatch_apart_from_garbage() {
        assert_eq!(code(r#"{"v":2,"cmd":"status"}"#), ErrorCode::Version);
        assert_eq!(code(r#"{"cmd":"status"}"#), ErrorCode::BadRequest);
    }

    #[test]
    fn refuses_oversized_and_non_utf8_lines() {
        let big = vec![b' '; MAX_REQUEST_BYTES + 1];
        assert_eq!(
            decode_request(&big).unwrap_err().error.unwrap().code,
            ErrorCode::BadRequest
        );
        assert_eq!(
            decode_request(&[0xff, 0xfe])
                .unwrap_err()
                .error
                .unwrap()
                .code,
            ErrorCode::BadRequest
        );
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode_request(&bytes);
        }
    }
}
