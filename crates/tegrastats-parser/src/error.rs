//! Errors of [`crate::parse_line`]: the two ways a line can fail as a whole.
//!
//! Everything else a line may carry that the parser does not understand is not an error: it is
//! collected in [`crate::Sample::unrecognized`]. Only `RAM` is required, because it is the one
//! field every tegrastats release prints (`RAM 3168/6851MB (lfb 2x4MB)`).

/// Why a whole line was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The line has no `RAM` token, so it is not tegrastats output (or it is empty).
    #[error("not a tegrastats line: no RAM field")]
    NoRam,
    /// The line has a `RAM` token whose figures do not parse.
    #[error("unparseable RAM field {field:?}: expected `RAM USED/TOTALMB (lfb NxSIZE)`")]
    BadRam {
        /// The text from `RAM` up to the token that failed.
        field: String,
    },
}
