//! A strict pre-pass over a JSON text: every object, at any depth, names each key once.
//!
//! `serde_json::Value` keeps the last of two equal keys, so `{"cmd":"status","cmd":"unload",...}`
//! would act on whichever came last, while the MQTT command decoder (derived structs) refuses it.
//! The control socket runs this check before it builds a `Value`, so both front doors refuse the
//! same requests. Depth is bounded by `serde_json`'s own recursion limit.

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// Walks a JSON value, failing on the first object that repeats a key.
struct UniqueKeys;

impl<'de> Deserialize<'de> for UniqueKeys {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<UniqueKeys, D::Error> {
        d.deserialize_any(UniqueKeysVisitor)
    }
}

struct UniqueKeysVisitor;

impl<'de> Visitor<'de> for UniqueKeysVisitor {
    type Value = UniqueKeys;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UniqueKeys, A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            map.next_value::<UniqueKeys>()?;
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format!("duplicate key {key:?}")));
            }
        }
        Ok(UniqueKeys)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<UniqueKeys, A::Error> {
        while seq.next_element::<UniqueKeys>()?.is_some() {}
        Ok(UniqueKeys)
    }

    fn visit_bool<E>(self, _: bool) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_i64<E>(self, _: i64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_u64<E>(self, _: u64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_f64<E>(self, _: f64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_str<E>(self, _: &str) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_unit<E>(self) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
}

/// `Err` with the parser's message (naming the repeated key and where) when some object in
/// `text` repeats a key, or when `text` is not JSON at all.
pub fn check(text: &str) -> Result<(), String> {
    serde_json::from_str::<UniqueKeys>(text)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_repeated_key_at_any_depth_is_named() {
        assert!(check(r#"{"v":1,"cmd":"status"}"#).is_ok());
        let e = check(r#"{"v":1,"cmd":"status","cmd":"unload","name":"llm"}"#).unwrap_err();
        assert!(e.contains(r#"duplicate key "cmd""#), "{e}");
        let e = check(r#"{"a":[{"x":1},{"y":2,"y":3}]}"#).unwrap_err();
        assert!(e.contains(r#"duplicate key "y""#), "{e}");
        // Escapes that spell the same key are the same key.
        assert!(check(r#"{"cmd":1,"c\u006dd":2}"#).is_err());
        assert!(
            check(r#"{"a":{"k":1},"b":{"k":1}}"#).is_ok(),
            "same key, two objects"
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = "[".repeat(100_000) + &"]".repeat(100_000);
        assert!(check(&deep).is_err());
    }

    proptest! {
        #[test]
        fn never_panics(s in "(?s).{0,200}") {
            let _ = check(&s);
        }

        #[test]
        fn agrees_with_serde_json_on_what_is_json(s in r#"[\[\]{}:,"a-c0-9 ]{0,40}"#) {
            if check(&s).is_ok() {
                prop_assert!(serde_json::from_str::<serde_json::Value>(&s).is_ok());
            }
        }
    }
}
