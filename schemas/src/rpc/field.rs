//! How each argument type is read from and written to an element.
//!
//! Reading is lenient in the ways TR-069 peers need: children are matched on local name in any
//! order and namespace, unknown children are skipped, missing ones keep their default, and list
//! `arrayType` counts are ignored. Writing is canonical: schema order, unqualified argument
//! names, `soap-enc:arrayType` on every array with the true count.

use std::borrow::Cow;
use std::str::FromStr;

use crate::soap::SoapError;
use crate::soap::namespace::Ns;
use crate::soap::reader::{Element, Reader};
use crate::soap::writer::Writer;
use crate::value::{DateTime, parse_bool};

/// A type that is one element's content.
pub(crate) trait Field: Sized {
    /// Reads the content of `el`, just handed out by the reader. `max` is the XSD `maxLength`
    /// of a string (for a list, of each string in it).
    fn read(r: &mut Reader<'_>, el: &Element<'_>, max: Option<usize>) -> Result<Self, SoapError>;

    /// Writes `self` as element `name`.
    fn write(&self, w: &mut Writer, name: &str);
}

/// A type that appears as the items of a SOAP-encoded array (`soap-enc:arrayType`).
pub(crate) trait ArrayItem: Field {
    /// The item element's name, e.g. `ParameterValueStruct`.
    const ELEMENT: &'static str;
    /// The `arrayType` item type, e.g. `cwmp:ParameterValueStruct`.
    const ARRAY_TYPE: &'static str;
    /// The XSD's `maxOccurs`, when it is bounded.
    const MAX_OCCURS: Option<usize> = None;
}

/// Reads the text of `el`, bounded by its XSD length and the reader's tolerance.
pub(crate) fn read_text<'a>(
    r: &mut Reader<'a>,
    el: &Element<'_>,
    max: Option<usize>,
) -> Result<Cow<'a, str>, SoapError> {
    let cap = r.limits().string_cap(max);
    r.text(el.local(), cap)
}

fn read_parsed<T: FromStr>(
    r: &mut Reader<'_>,
    el: &Element<'_>,
    expected: &'static str,
) -> Result<T, SoapError> {
    let text = read_text(r, el, Some(64))?;
    text.trim()
        .parse()
        .map_err(|_| SoapError::invalid(el.local(), &text, expected))
}

/// Appends `item` to a list, refusing to grow it past `max` entries.
pub(crate) fn push_bounded<T>(
    list: &mut Vec<T>,
    item: T,
    max: usize,
    element: &str,
) -> Result<(), SoapError> {
    if list.len() >= max {
        return Err(SoapError::TooMany {
            element: element.to_owned(),
            max,
        });
    }
    list.push(item);
    Ok(())
}

macro_rules! parsed_field {
    ($($ty:ty => $expected:literal),* $(,)?) => {$(
        impl Field for $ty {
            fn read(r: &mut Reader<'_>, el: &Element<'_>, _: Option<usize>) -> Result<Self, SoapError> {
                read_parsed(r, el, $expected)
            }

            fn write(&self, w: &mut Writer, name: &str) {
                w.leaf(name, &[], &self.to_string());
            }
        }
    )*};
}

parsed_field!(u32 => "unsignedInt", i32 => "int");

impl Field for bool {
    fn read(r: &mut Reader<'_>, el: &Element<'_>, _: Option<usize>) -> Result<Self, SoapError> {
        let text = read_text(r, el, Some(64))?;
        parse_bool(text.trim()).ok_or_else(|| SoapError::invalid(el.local(), &text, "boolean"))
    }

    fn write(&self, w: &mut Writer, name: &str) {
        w.leaf(name, &[], if *self { "true" } else { "false" });
    }
}

impl Field for String {
    fn read(r: &mut Reader<'_>, el: &Element<'_>, max: Option<usize>) -> Result<Self, SoapError> {
        read_text(r, el, max).map(Cow::into_owned)
    }

    fn write(&self, w: &mut Writer, name: &str) {
        w.leaf(name, &[], self);
    }
}

impl ArrayItem for String {
    const ELEMENT: &'static str = "string";
    const ARRAY_TYPE: &'static str = "xsd:string";
}

impl Field for DateTime {
    /// Reads leniently: text that is not a dateTime (e.g. `2019-03-05T11:54::14`, seen from a
    /// real CPE) reads as the Unknown Time, which is what TR-069 has a CPE send when it does
    /// not know the time.
    fn read(r: &mut Reader<'_>, el: &Element<'_>, _: Option<usize>) -> Result<Self, SoapError> {
        Ok(read_text(r, el, Some(64))?.parse().unwrap_or(Self::UNKNOWN))
    }

    fn write(&self, w: &mut Writer, name: &str) {
        w.leaf(name, &[], &self.to_string());
    }
}

impl<T: Field> Field for Option<T> {
    fn read(r: &mut Reader<'_>, el: &Element<'_>, max: Option<usize>) -> Result<Self, SoapError> {
        T::read(r, el, max).map(Some)
    }

    fn write(&self, w: &mut Writer, name: &str) {
        if let Some(v) = self {
            v.write(w, name);
        }
    }
}

impl<T: ArrayItem> Field for Vec<T> {
    fn read(r: &mut Reader<'_>, el: &Element<'_>, max: Option<usize>) -> Result<Self, SoapError> {
        let limit = r.limits().max_list_len;
        let cap = T::MAX_OCCURS.map_or(limit, |m| m.min(limit));
        // `arrayType="cwmp:ParameterValueStruct[200]"` announces the count. It is only a hint
        // (real devices get it wrong): it sizes the list up front, bounded by what the rest of
        // the input could hold at 32 bytes an item, so a false count cannot inflate memory.
        let announced = r
            .attribute(el, Ns::SoapEnc, "arrayType")?
            .and_then(|t| {
                t.rsplit_once('[')?
                    .1
                    .strip_suffix(']')?
                    .parse::<usize>()
                    .ok()
            })
            .unwrap_or(0);
        let mut out = Self::with_capacity(announced.min(cap).min(r.remaining() / 32));
        while let Some(child) = r.next_child()? {
            let item = T::read(r, &child, max)?;
            push_bounded(&mut out, item, cap, el.local())?;
        }
        Ok(out)
    }

    fn write(&self, w: &mut Writer, name: &str) {
        let array_type = format!("{}[{}]", T::ARRAY_TYPE, self.len());
        w.start(name, &[("soap-enc:arrayType", &array_type)]);
        for item in self {
            item.write(w, T::ELEMENT);
        }
        w.end(name);
    }
}

/// Declares a CWMP struct or message: the Rust struct (all fields public, `Default` for what a
/// lenient read leaves missing) and its [`Field`] implementation, from one list of
/// `field: Type = "Element"` entries in schema order. `max N` gives a string's XSD
/// `maxLength`; `each` marks an element that repeats without an array wrapper.
macro_rules! cwmp_struct {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                $field:ident : $ty:ty = $($each:ident)? $xml:literal $(max $max:literal)?
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Default, PartialEq)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        impl $name {
            /// Reads `child` into its field; `false` if no field has that name.
            #[allow(unused_variables)]
            pub(crate) fn read_child(
                &mut self,
                r: &mut $crate::soap::reader::Reader<'_>,
                child: &$crate::soap::reader::Element<'_>,
            ) -> Result<bool, $crate::soap::SoapError> {
                let known = match child.local() {
                    $( $xml => {
                        cwmp_struct!(@read $($each)? self, $field, r, child,
                            cwmp_struct!(@max $($max)?));
                        true
                    } )*
                    _ => false,
                };
                Ok(known)
            }

            /// Writes the fields, in schema order.
            #[allow(unused_variables)]
            pub(crate) fn write_fields(&self, w: &mut $crate::soap::writer::Writer) {
                $( cwmp_struct!(@write $($each)? self, $field, w, $xml); )*
            }
        }

        impl $crate::rpc::field::Field for $name {
            fn read(
                r: &mut $crate::soap::reader::Reader<'_>,
                _: &$crate::soap::reader::Element<'_>,
                _: Option<usize>,
            ) -> Result<Self, $crate::soap::SoapError> {
                let mut out = Self::default();
                while let Some(child) = r.next_child()? {
                    if !out.read_child(r, &child)? {
                        r.skip()?;
                    }
                }
                Ok(out)
            }

            fn write(&self, w: &mut $crate::soap::writer::Writer, name: &str) {
                w.start(name, &[]);
                self.write_fields(w);
                w.end(name);
            }
        }
    };
    (@max) => { None };
    (@max $max:literal) => { Some($max) };
    (@read $self:ident, $field:ident, $r:ident, $child:ident, $max:expr) => {
        $self.$field = $crate::rpc::field::Field::read($r, $child, $max)?
    };
    (@read each $self:ident, $field:ident, $r:ident, $child:ident, $max:expr) => {{
        let item = $crate::rpc::field::Field::read($r, $child, $max)?;
        let cap = $r.limits().max_list_len;
        $crate::rpc::field::push_bounded(&mut $self.$field, item, cap, $child.local())?;
    }};
    (@write $self:ident, $field:ident, $w:ident, $xml:literal) => {
        $crate::rpc::field::Field::write(&$self.$field, $w, $xml)
    };
    (@write each $self:ident, $field:ident, $w:ident, $xml:literal) => {
        for item in &$self.$field {
            $crate::rpc::field::Field::write(item, $w, $xml);
        }
    };
}

/// Declares that a [`cwmp_struct!`] type is the item of SOAP-encoded arrays.
macro_rules! array_item {
    ($ty:ty, $max:expr) => {
        impl $crate::rpc::field::ArrayItem for $ty {
            const ELEMENT: &'static str = stringify!($ty);
            const ARRAY_TYPE: &'static str = concat!("cwmp:", stringify!($ty));
            const MAX_OCCURS: Option<usize> = $max;
        }
    };
}

pub(crate) use {array_item, cwmp_struct};

macro_rules! key_field {
    ($($ty:ty),*) => {$(
        impl Field for $ty {
            fn read(r: &mut Reader<'_>, el: &Element<'_>, _: Option<usize>) -> Result<Self, SoapError> {
                let text = read_text(r, el, Some(crate::rpc::key::MAX_KEY_LEN))?;
                Ok(Self::from_wire(text.into_owned()))
            }

            fn write(&self, w: &mut Writer, name: &str) {
                w.leaf(name, &[], self.as_str());
            }
        }
    )*};
}

key_field!(crate::rpc::CommandKey, crate::rpc::ParameterKey);

impl Field for crate::rpc::EventCode {
    fn read(r: &mut Reader<'_>, el: &Element<'_>, _: Option<usize>) -> Result<Self, SoapError> {
        let text = read_text(r, el, Some(crate::rpc::event::MAX_EVENT_CODE_LEN))?;
        Ok(Self::lenient(&text))
    }

    fn write(&self, w: &mut Writer, name: &str) {
        w.leaf(name, &[], &self.as_str());
    }
}

impl Field for crate::value::Value {
    /// Reads `<Value xsi:type="...">`. The type QName is resolved through the bindings in
    /// scope; a prefix bound to nothing known (a common slip: `xsd:` used but never declared)
    /// falls back to the local name. No `xsi:type` reads as a string.
    fn read(r: &mut Reader<'_>, el: &Element<'_>, _: Option<usize>) -> Result<Self, SoapError> {
        use crate::value::XsdType;

        /// What `xsi:type` declared.
        enum Declared {
            Known(XsdType),
            OtherXsd(String),
            Untyped,
        }
        // The type must be resolved before the text: reading to the end tag ends the element's
        // namespace scope.
        let declared = match r.attribute(el, Ns::Xsi, "type")? {
            None => Declared::Untyped,
            Some(qname) => match r.resolve_qname(&qname) {
                (ns @ (Ns::Xsd | Ns::SoapEnc | Ns::Other | Ns::None), local) => {
                    match XsdType::from_name(local) {
                        Some(ty) => Declared::Known(ty),
                        None if ns == Ns::Xsd => Declared::OtherXsd(local.to_owned()),
                        None => Declared::Untyped,
                    }
                }
                _ => Declared::Untyped,
            },
        };
        let cap = r.limits().max_value_len;
        let text = r.text(el.local(), cap)?;
        Ok(match declared {
            Declared::Known(ty) => Self::parse(ty, &text),
            Declared::OtherXsd(type_name) => Self::Other {
                type_name,
                text: text.into_owned(),
            },
            Declared::Untyped => Self::String(text.into_owned()),
        })
    }

    /// Writes `<Value xsi:type="xsd:T">`. An [`Invalid`](Self::Invalid) value is written as the
    /// string it is, so the output still validates.
    fn write(&self, w: &mut Writer, name: &str) {
        let type_name = match self {
            Self::Invalid { .. } => "string",
            other => other.type_name(),
        };
        let xsi_type = format!("xsd:{type_name}");
        w.leaf(name, &[("xsi:type", &xsi_type)], &self.lexical());
    }
}
