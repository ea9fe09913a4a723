//! Fuzz target: `parse_line` on arbitrary text never panics, a parsed sample always
//! serialises to JSON, and re-parsing the same line gives the same sample.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(sample) = tegrastats_parser::parse_line(line) {
        let json = serde_json::to_string(&sample);
        assert!(json.is_ok(), "a parsed sample must serialise");
        let mut again = tegrastats_parser::Sample::default();
        let reparsed = tegrastats_parser::parse_line_into(line, &mut again);
        assert!(reparsed.is_ok() && again == sample, "parsing must be deterministic");
    }
});
