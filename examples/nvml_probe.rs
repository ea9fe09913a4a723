//! Prints what jetgate's NVML source reads, as one JSON document, so it can be run on a GPU
//! machine (discrete GPU, Thor, or an Orin to see what is unsupported there):
//!
//! ```text
//! cargo run --example nvml_probe
//! ```

use jetgate::sources::nvml::NvmlSource;

fn main() {
    let source = NvmlSource::new();
    let doc = match source.read() {
        Ok(reading) => serde_json::json!({ "supported": true, "reading": reading }),
        Err(e) => serde_json::json!({ "supported": false, "error": e, "message": e.to_string() }),
    };
    let doc = serde_json::json!({ "nvml": doc, "init_attempts": source.init_attempts() });
    match serde_json::to_string_pretty(&doc) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("nvml_probe: cannot print the reading: {e}"),
    }
}
