//! The server's command line: every spelling of the options that change memory, the
//! environment under it, and bad values refused with the option named.

use std::collections::BTreeMap;

use super::super::args::{parse, ArgsError, FlashAttn};

fn argv(line: &str) -> Vec<String> {
    line.split_whitespace().map(String::from).collect()
}

fn ctx(line: &str) -> Option<(u64, String)> {
    parse(&argv(line), &BTreeMap::new())
        .unwrap()
        .ctx
        .map(|g| (g.value, g.from))
}

#[test]
fn every_spelling_of_the_context_size_is_read() {
    assert_eq!(ctx("-m x.gguf -c 8192"), Some((8192, "-c".into())));
    assert_eq!(
        ctx("--ctx-size 4096 --port 8080"),
        Some((4096, "--ctx-size".into()))
    );
    assert_eq!(ctx("--ctx-size=2048"), Some((2048, "--ctx-size".into())));
    assert_eq!(ctx("--ctx_size 1024"), Some((1024, "--ctx-size".into())));
    assert_eq!(ctx("-m x.gguf"), None);
    // The last one wins, as in llama.cpp.
    assert_eq!(ctx("-c 1 -c 2"), Some((2, "-c".into())));
}

#[test]
fn the_command_line_overrides_the_environment() {
    let env: BTreeMap<String, String> = [
        ("LLAMA_ARG_CTX_SIZE", "16384"),
        ("LLAMA_ARG_N_PARALLEL", "2"),
        ("LLAMA_ARG_CACHE_TYPE_K", "q8_0"),
        ("LLAMA_ARG_KV_UNIFIED", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let a = parse(&argv("-np 3"), &env).unwrap();
    let c = a.ctx.unwrap();
    assert_eq!((c.value, c.from.as_str()), (16384, "LLAMA_ARG_CTX_SIZE"));
    assert_eq!(a.parallel.unwrap().value, 3);
    assert_eq!(a.cache_type_k.unwrap().value.name, "q8_0");
    assert!(a.kv_unified.unwrap().value);
    let a = parse(&argv("-c 512 -no-kvu"), &env).unwrap();
    assert_eq!(a.ctx.unwrap().value, 512);
    assert!(!a.kv_unified.unwrap().value);
}

#[test]
fn the_other_memory_options_are_read() {
    let a = parse(
        &argv("-ctv q4_0 --cache-type-k f32 -b 1024 --ubatch-size 128 -fa off --kv-unified"),
        &BTreeMap::new(),
    )
    .unwrap();
    assert_eq!(a.cache_type_v.unwrap().value.name, "q4_0");
    assert_eq!(a.cache_type_k.unwrap().value.name, "f32");
    assert_eq!(a.batch.unwrap().value, 1024);
    assert_eq!(a.ubatch.unwrap().value, 128);
    assert_eq!(a.flash_attn.unwrap().value, FlashAttn::Off);
    assert!(a.kv_unified.unwrap().value);
}

#[test]
fn bad_values_are_refused_with_the_option_named() {
    let err = parse(&argv("-c lots"), &BTreeMap::new()).unwrap_err();
    assert_eq!(
        err,
        ArgsError::Number {
            option: "-c".into(),
            value: "lots".into()
        }
    );
    let err = parse(&argv("--ctx-size"), &BTreeMap::new()).unwrap_err();
    assert_eq!(
        err,
        ArgsError::Missing {
            option: "--ctx-size".into()
        }
    );
    // q4_K is a ggml type but not a cache type llama.cpp accepts.
    let err = parse(&argv("-ctk q4_K"), &BTreeMap::new()).unwrap_err();
    assert!(err.to_string().contains("q8_0"), "{err}");
    let err = parse(&argv("-fa maybe"), &BTreeMap::new()).unwrap_err();
    assert!(matches!(err, ArgsError::Switch { .. }), "{err}");
}
