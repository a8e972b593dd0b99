//! The JSON layer under the messages: a strict reader (an object whose every key is known,
//! none twice, each of the expected type) and a canonical writer (keys in a fixed order, no
//! whitespace, minimal escapes).
//!
//! serde_json tokenizes (with its nesting limit of 128); the tree it builds keeps duplicate keys
//! so they can be refused, which `serde_json::Value` cannot do.

use std::collections::BTreeSet;
use std::fmt::{self, Write as _};

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use super::{FrameError, MAX_FRAME};

/// A JSON value with object members in arrival order, duplicates kept.
#[derive(Debug)]
pub(super) enum Node {
    Null,
    Bool,
    Int(i128),
    Float,
    Str(String),
    Array(Vec<Self>),
    Object(Vec<(String, Self)>),
}

impl Node {
    fn kind(&self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Bool => "boolean",
            Self::Int(_) | Self::Float => "number",
            Self::Str(_) => "string",
            Self::Array(_) => "array",
            Self::Object(_) => "object",
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Node, E> {
        Ok(Node::Bool)
    }

    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Int(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Int(v.into()))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Node, E> {
        Ok(Node::Float)
    }

    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Str(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::Str(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut members = Vec::new();
        while let Some(member) = map.next_entry()? {
            members.push(member);
        }
        Ok(Node::Object(members))
    }
}

/// Reads `input` as one JSON object, checking the size and encoding first.
pub(super) fn parse(input: &[u8]) -> Result<Fields, FrameError> {
    if input.len() > MAX_FRAME {
        return Err(FrameError::TooLarge {
            len: input.len(),
            max: MAX_FRAME,
        });
    }
    let text = std::str::from_utf8(input).map_err(|e| FrameError::NotUtf8 {
        valid_up_to: e.valid_up_to(),
    })?;
    let node: Node = serde_json::from_str(text).map_err(|e| FrameError::NotJson {
        line: e.line(),
        column: e.column(),
    })?;
    match node {
        Node::Object(members) => Fields::new(members),
        other => Err(FrameError::NotAnObject {
            found: other.kind(),
        }),
    }
}

/// The members of one object, taken out one by one; [`Fields::finish`] refuses what is left.
pub(super) struct Fields {
    members: Vec<(String, Node)>,
}

impl Fields {
    fn new(members: Vec<(String, Node)>) -> Result<Self, FrameError> {
        let mut seen = BTreeSet::new();
        if let Some((key, _)) = members.iter().find(|(key, _)| !seen.insert(key.as_str())) {
            return Err(FrameError::DuplicateField {
                field: shorten(key),
            });
        }
        Ok(Self { members })
    }

    fn take(&mut self, field: &'static str) -> Option<Node> {
        let at = self.members.iter().position(|(key, _)| key == field)?;
        Some(self.members.swap_remove(at).1)
    }

    /// The value of an integer member, left in place.
    pub(super) fn peek_int(&self, field: &str) -> Option<i128> {
        self.members.iter().find_map(|(key, node)| match node {
            Node::Int(value) if key == field => Some(*value),
            _ => None,
        })
    }

    fn required(&mut self, field: &'static str) -> Result<Node, FrameError> {
        self.take(field).ok_or(FrameError::MissingField { field })
    }

    /// A required string, checked by `rule`.
    pub(super) fn text(&mut self, field: &'static str, rule: Text) -> Result<String, FrameError> {
        let node = self.required(field)?;
        as_text(field, node, rule)
    }

    /// An optional string: absent is `None`; `null` is a type error (the canonical form omits
    /// the member).
    pub(super) fn optional_text(
        &mut self,
        field: &'static str,
        rule: Text,
    ) -> Result<Option<String>, FrameError> {
        self.take(field)
            .map(|node| as_text(field, node, rule))
            .transpose()
    }

    /// A required integer in `min..=max`.
    pub(super) fn number<T>(&mut self, field: &'static str, min: T, max: T) -> Result<T, FrameError>
    where
        T: TryFrom<i128> + Into<i128> + Copy,
    {
        match self.required(field)? {
            Node::Int(value) => {
                let (min, max) = (min.into(), max.into());
                match T::try_from(value) {
                    Ok(number) if (min..=max).contains(&value) => Ok(number),
                    _ => Err(FrameError::OutOfRange {
                        field,
                        value,
                        min,
                        max,
                    }),
                }
            }
            other => Err(wrong_type(field, "integer", &other)),
        }
    }

    /// A required nested object.
    pub(super) fn object(&mut self, field: &'static str) -> Result<Self, FrameError> {
        let node = self.required(field)?;
        as_object(field, node)
    }

    /// An optional nested object.
    pub(super) fn optional_object(
        &mut self,
        field: &'static str,
    ) -> Result<Option<Self>, FrameError> {
        self.take(field)
            .map(|node| as_object(field, node))
            .transpose()
    }

    /// An optional array of objects (absent reads as empty), each read by `read`; errors
    /// inside an item say which.
    pub(super) fn list<T>(
        &mut self,
        field: &'static str,
        max: usize,
        mut read: impl FnMut(Self) -> Result<T, FrameError>,
    ) -> Result<Vec<T>, FrameError> {
        let items = match self.take(field) {
            None => return Ok(Vec::new()),
            Some(Node::Array(items)) => items,
            Some(other) => return Err(wrong_type(field, "array", &other)),
        };
        if items.len() > max {
            return Err(FrameError::TooMany {
                field,
                len: items.len(),
                max,
            });
        }
        items
            .into_iter()
            .enumerate()
            .map(|(index, node)| {
                as_object(field, node)
                    .and_then(&mut read)
                    .map_err(|e| FrameError::Item {
                        field,
                        index,
                        source: Box::new(e),
                    })
            })
            .collect()
    }

    /// Refuses any member not taken.
    pub(super) fn finish(self) -> Result<(), FrameError> {
        match self.members.first() {
            Some((key, _)) => Err(FrameError::UnknownField {
                field: shorten(key),
            }),
            None => Ok(()),
        }
    }
}

/// What a string field may hold.
#[derive(Clone, Copy, Debug)]
pub(super) struct Text {
    /// Whether the empty string is allowed.
    pub(super) empty: bool,
    /// The most bytes.
    pub(super) max: usize,
    /// Which characters are allowed.
    pub(super) chars: Chars,
}

/// A character class for [`Text`].
#[derive(Clone, Copy, Debug)]
pub(super) enum Chars {
    /// Anything.
    Any,
    /// No control characters.
    Printable,
    /// Printable with no whitespace (URLs, tickets, identifiers).
    Token,
    /// ASCII letters, digits, `_` and `-` (module names: they become URL path segments).
    Name,
}

impl Chars {
    fn allows(self, c: char) -> bool {
        match self {
            Self::Any => true,
            Self::Printable => !c.is_control(),
            Self::Token => !c.is_control() && !c.is_whitespace(),
            Self::Name => c.is_ascii_alphanumeric() || matches!(c, '_' | '-'),
        }
    }
}

impl Text {
    /// Checks `value` against the rule.
    pub(super) fn check(self, field: &'static str, value: &str) -> Result<(), FrameError> {
        if value.is_empty() && !self.empty {
            return Err(FrameError::Empty { field });
        }
        if value.len() > self.max {
            return Err(FrameError::TooLong {
                field,
                len: value.len(),
                max: self.max,
            });
        }
        match value.chars().find(|&c| !self.chars.allows(c)) {
            Some(character) => Err(FrameError::InvalidCharacter { field, character }),
            None => Ok(()),
        }
    }
}

fn as_text(field: &'static str, node: Node, rule: Text) -> Result<String, FrameError> {
    match node {
        Node::Str(value) => {
            rule.check(field, &value)?;
            Ok(value)
        }
        other => Err(wrong_type(field, "string", &other)),
    }
}

fn as_object(field: &'static str, node: Node) -> Result<Fields, FrameError> {
    match node {
        Node::Object(members) => Fields::new(members),
        other => Err(wrong_type(field, "object", &other)),
    }
}

fn wrong_type(field: &'static str, expected: &'static str, found: &Node) -> FrameError {
    FrameError::WrongType {
        field,
        expected,
        found: found.kind(),
    }
}

/// A peer's key, cut to 64 characters for an error message.
fn shorten(key: &str) -> String {
    key.chars().take(64).collect()
}

/// Writes one JSON object, members in call order.
pub(super) struct ObjectWriter {
    out: String,
}

impl ObjectWriter {
    pub(super) fn new() -> Self {
        Self {
            out: String::from("{"),
        }
    }

    fn key(&mut self, key: &str) {
        if self.out.len() > 1 {
            self.out.push(',');
        }
        write_string(&mut self.out, key);
        self.out.push(':');
    }

    pub(super) fn text(mut self, key: &str, value: &str) -> Self {
        self.key(key);
        write_string(&mut self.out, value);
        self
    }

    pub(super) fn optional_text(self, key: &str, value: Option<&str>) -> Self {
        match value {
            Some(value) => self.text(key, value),
            None => self,
        }
    }

    pub(super) fn int(mut self, key: &str, value: impl Into<i128>) -> Self {
        self.key(key);
        // Writing to a String cannot fail.
        let _ = write!(self.out, "{}", value.into());
        self
    }

    /// A member whose value is already JSON (a nested object).
    pub(super) fn raw(mut self, key: &str, json: &str) -> Self {
        self.key(key);
        self.out.push_str(json);
        self
    }

    /// An array of already-written JSON values; omitted when empty (the reader reads an
    /// absent list as empty).
    pub(super) fn list(mut self, key: &str, items: impl IntoIterator<Item = String>) -> Self {
        let mut items = items.into_iter().peekable();
        if items.peek().is_none() {
            return self;
        }
        self.key(key);
        self.out.push('[');
        for (i, item) in items.enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            self.out.push_str(&item);
        }
        self.out.push(']');
        self
    }

    pub(super) fn finish(mut self) -> String {
        self.out.push('}');
        self.out
    }
}

/// A JSON string with the minimal escapes: `"` `\` and control characters (RFC 8259 §7),
/// using the short forms where JSON has them.
fn write_string(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}
