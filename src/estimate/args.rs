//! The parts of a llama-server command line that change its memory: context size, parallel
//! slots, the KV cache's types, batch sizes and flash attention. As llama.cpp's argument
//! parser does, an option's environment variable is read first and the command line overrides
//! it; `--long_name` is `--long-name`.
//!
//! ```text
//! -c 8192 | --ctx-size 8192 | --ctx-size=8192 | LLAMA_ARG_CTX_SIZE=8192
//! -np 2 | --parallel 2        -kvu | --kv-unified | -no-kvu | --no-kv-unified
//! -ctk q8_0 | --cache-type-k q8_0     -ctv ... | --cache-type-v ...
//! -b 2048 | --batch-size      -ub 512 | --ubatch-size      -fa on|off|auto
//! ```
//!
//! (The vendored llama-server refuses `--ctx-size=8192`; it is read here all the same, since
//! a launcher that accepts it means the same thing.) Everything else on the line is ignored.

use std::collections::BTreeMap;

use serde::Serialize;

use super::ggml::{self, GgmlType};

/// The cache types llama.cpp accepts for `-ctk`/`-ctv` (its `kv_cache_types`).
pub const CACHE_TYPES: [&str; 9] = [
    "f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "iq4_nl", "q5_0", "q5_1",
];

/// Why the command line could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgsError {
    #[error("{option} needs a value")]
    Missing { option: String },
    #[error("{option} {value:?} is not a whole number")]
    Number { option: String, value: String },
    #[error("{option} {value:?} is not a cache type llama.cpp accepts ({})", CACHE_TYPES.join(", "))]
    CacheType { option: String, value: String },
    #[error("{option} {value:?} is not on, off or auto")]
    Switch { option: String, value: String },
}

/// Where a value came from, for the estimate's basis (`ctx 4096 from --ctx-size`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Given<T> {
    pub value: T,
    /// The option or environment variable as written: `-c`, `--ctx-size`, `LLAMA_ARG_CTX_SIZE`.
    pub from: String,
}

/// Flash attention: `-fa on|off|auto` (default auto).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlashAttn {
    On,
    Off,
    Auto,
}

/// What the command line (and environment) set; `None`: llama-server's default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerArgs {
    pub ctx: Option<Given<u64>>,
    pub parallel: Option<Given<i64>>,
    pub kv_unified: Option<Given<bool>>,
    pub per_slot: Option<Given<u64>>,
    pub cache_type_k: Option<Given<GgmlType>>,
    pub cache_type_v: Option<Given<GgmlType>>,
    pub batch: Option<Given<u64>>,
    pub ubatch: Option<Given<u64>>,
    pub flash_attn: Option<Given<FlashAttn>>,
}

/// One option: its spellings, its environment variable, and how it sets [`ServerArgs`].
struct Opt {
    names: &'static [&'static str],
    env: &'static str,
    set: fn(&mut ServerArgs, &str, String) -> Result<(), ArgsError>,
}

fn number<T: std::str::FromStr>(option: &str, value: &str) -> Result<T, ArgsError> {
    value.trim().parse().map_err(|_| ArgsError::Number {
        option: option.to_string(),
        value: value.to_string(),
    })
}

fn cache_type(option: &str, value: &str) -> Result<GgmlType, ArgsError> {
    CACHE_TYPES
        .contains(&value)
        .then(|| ggml::by_name(value))
        .flatten()
        .ok_or_else(|| ArgsError::CacheType {
            option: option.to_string(),
            value: value.to_string(),
        })
}

fn switch(option: &str, value: &str) -> Result<FlashAttn, ArgsError> {
    match value {
        "on" | "enabled" | "true" | "1" => Ok(FlashAttn::On),
        "off" | "disabled" | "false" | "0" => Ok(FlashAttn::Off),
        "auto" => Ok(FlashAttn::Auto),
        _ => Err(ArgsError::Switch {
            option: option.to_string(),
            value: value.to_string(),
        }),
    }
}

fn given<T>(value: T, from: String) -> Option<Given<T>> {
    Some(Given { value, from })
}

const OPTS: [Opt; 8] = [
    Opt {
        names: &["-c", "--ctx-size"],
        env: "LLAMA_ARG_CTX_SIZE",
        set: |a, v, from| {
            a.ctx = given(number(&from, v)?, from);
            Ok(())
        },
    },
    Opt {
        names: &["-np", "--parallel"],
        env: "LLAMA_ARG_N_PARALLEL",
        set: |a, v, from| {
            a.parallel = given(number(&from, v)?, from);
            Ok(())
        },
    },
    Opt {
        names: &["--kv-unified-per-slot"],
        env: "",
        set: |a, v, from| {
            a.per_slot = given(number(&from, v)?, from);
            Ok(())
        },
    },
    Opt {
        names: &["-ctk", "--cache-type-k"],
        env: "LLAMA_ARG_CACHE_TYPE_K",
        set: |a, v, from| {
            a.cache_type_k = given(cache_type(&from, v)?, from);
            Ok(())
        },
    },
    Opt {
        names: &["-ctv", "--cache-type-v"],
        env: "LLAMA_ARG_CACHE_TYPE_V",
        set: |a, v, from| {
            a.cache_type_v = given(cache_type(&from, v)?, from);
            Ok(())
        },
    },
    Opt {
        names: &["-b", "--batch-size"],
        env: "LLAMA_ARG_BATCH",
        set: |a, v, from| {
            a.batch = given(number(&from, v)?, from);
            Ok(())
        },
    },
    Opt {
        names: &["-ub", "--ubatch-size"],
        env: "LLAMA_ARG_UBATCH",
        set: |a, v, from| {
            a.ubatch = given(number(&from, v)?, from);
            Ok(())
        },
    },
    Opt {
        names: &["-fa", "--flash-attn"],
        env: "LLAMA_ARG_FLASH_ATTN",
        set: |a, v, from| {
            a.flash_attn = given(switch(&from, v)?, from);
            Ok(())
        },
    },
];

/// `-kvu`/`--kv-unified` and `-no-kvu`/`--no-kv-unified` take no value.
fn unified_flag(arg: &str) -> Option<bool> {
    match arg {
        "-kvu" | "--kv-unified" => Some(true),
        "-no-kvu" | "--no-kv-unified" => Some(false),
        _ => None,
    }
}

/// Reads `args` (the server's arguments, without the program) over `env`.
pub fn parse(args: &[String], env: &BTreeMap<String, String>) -> Result<ServerArgs, ArgsError> {
    let mut out = ServerArgs::default();
    for opt in &OPTS {
        if let Some(value) = env.get(opt.env).filter(|_| !opt.env.is_empty()) {
            (opt.set)(&mut out, value, opt.env.to_string())?;
        }
    }
    if let Some(value) = env.get("LLAMA_ARG_KV_UNIFIED") {
        let on = matches!(value.as_str(), "on" | "enabled" | "true" | "1");
        out.kv_unified = given(on, "LLAMA_ARG_KV_UNIFIED".into());
    }
    let mut i = 0;
    while i < args.len() {
        let raw = &args[i];
        i += 1;
        let arg = match raw.strip_prefix("--") {
            Some(long) => format!("--{}", long.replace('_', "-")),
            None => raw.clone(),
        };
        if let Some(on) = unified_flag(&arg) {
            out.kv_unified = given(on, arg);
            continue;
        }
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let Some(opt) = OPTS.iter().find(|o| o.names.contains(&name.as_str())) else {
            continue;
        };
        let value = match inline {
            Some(v) => v,
            None => {
                let v = args.get(i).ok_or_else(|| ArgsError::Missing {
                    option: name.clone(),
                })?;
                i += 1;
                v.clone()
            }
        };
        (opt.set)(&mut out, &value, name)?;
    }
    Ok(out)
}
