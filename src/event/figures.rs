//! The typed figures of every event kind: one struct per [`EventKind`], named after the kind,
//! whose fields are the figure names of the published JSON (`figures`), units in the names.
//!
//! A producer builds an event from its figures ([`NewEvent::new`]), so the kind follows from
//! the type and no figure can be misspelled or left out; a consumer decodes them back
//! ([`Event::figures_as`], [`NewEvent::figures_as`]). The kind table (`kind.rs`) ties each kind
//! to the struct of the same name here ([`Figures::KIND`]): a kind without its struct does not
//! compile.
//!
//! The stored and published form is unchanged: a JSON map with one key per figure (serde field
//! names), a figure that is only sometimes there left out when absent (`skip_serializing_if`),
//! one that is always there but may be unknown written as `null`. Reading is lenient: keys a
//! struct does not know (a newer agent's additions) are ignored, an event of a kind this build
//! does not know keeps its raw map.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

use super::{Event, EventKind, NewEvent};

mod agent;
mod load;
mod mqtt;
mod supervise;
mod watch;

pub use agent::*;
pub use load::*;
pub use mqtt::*;
pub use supervise::*;
pub use watch::*;

/// The figures of one event kind. Implemented by the kind table for the struct named after
/// each kind (and only there).
pub trait Figures: Serialize + DeserializeOwned {
    /// The kind whose figures these are.
    const KIND: EventKind;
}

/// Why figures could not be read as a kind's struct.
#[derive(Debug, thiserror::Error)]
pub enum FiguresError {
    #[error("the event is a {found}, not a {wanted}")]
    Kind { wanted: EventKind, found: EventKind },
    #[error("the figures of a {kind} do not read: {source}")]
    Shape {
        kind: EventKind,
        source: serde_json::Error,
    },
}

/// The JSON map of `figures` (a struct always serializes to a map).
pub(super) fn to_map<F: Figures>(figures: &F) -> Map<String, Value> {
    match serde_json::to_value(figures) {
        Ok(Value::Object(map)) => map,
        // A derived struct of plain fields cannot fail to serialize or be anything else.
        other => {
            tracing::error!(kind = %F::KIND, "figures did not serialize to a map: {other:?}");
            Map::new()
        }
    }
}

/// Reads `map` as the figures of `F`, for an event of `kind`.
pub(super) fn read<F: Figures>(
    kind: &EventKind,
    map: &Map<String, Value>,
) -> Result<F, FiguresError> {
    if *kind != F::KIND {
        return Err(FiguresError::Kind {
            wanted: F::KIND,
            found: kind.clone(),
        });
    }
    F::deserialize(Value::Object(map.clone())).map_err(|source| FiguresError::Shape {
        kind: kind.clone(),
        source,
    })
}

impl Event {
    /// The figures as the struct of this event's kind: an error for another kind or a map
    /// that lacks a figure `F` requires (extra keys are ignored).
    pub fn figures_as<F: Figures>(&self) -> Result<F, FiguresError> {
        read(&self.kind, &self.figures)
    }
}

impl NewEvent {
    /// The figures as the struct of this event's kind (see [`Event::figures_as`]).
    pub fn figures_as<F: Figures>(&self) -> Result<F, FiguresError> {
        read(&self.kind, &self.figures)
    }

    /// Changes the figures of an event of `F`'s kind (one layer adds what another measured);
    /// an event of another kind is returned unchanged.
    pub fn amend<F: Figures>(mut self, change: impl FnOnce(&mut F)) -> NewEvent {
        match self.figures_as::<F>() {
            Ok(mut figures) => {
                change(&mut figures);
                self.figures = to_map(&figures);
            }
            Err(FiguresError::Kind { .. }) => {}
            Err(e) => tracing::error!("figures not amended: {e}"),
        }
        self
    }
}

/// Reads a figure that is either absent (`None`) or present as a value or `null`
/// (`Some(None)`), for `#[serde(deserialize_with)]`: without it a `null` would read as absent.
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}

/// The figure names of `F` (its serde field names, in declaration order), read from what its
/// derived `Deserialize` asks for.
pub fn names<F: Figures>() -> &'static [&'static str] {
    let mut fields = None;
    let _ = F::deserialize(introspect::Fields(&mut fields));
    fields.unwrap_or(&[])
}

mod introspect {
    //! A deserializer that only records the field names a struct asks for.

    use serde::de::{self, Visitor};
    use serde::forward_to_deserialize_any;

    pub struct Fields<'a>(pub &'a mut Option<&'static [&'static str]>);

    impl<'de> de::Deserializer<'de> for Fields<'_> {
        type Error = de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = Some(fields);
            Err(de::Error::custom("fields recorded"))
        }

        forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }
}

#[cfg(test)]
mod tests;
