//! The conversion behind `gen-tr181`: the BBF TR-181 "full" CWMP data-model XML in, the
//! compact table that `schemas::model` embeds out. Shared with `tests/model.rs`, which checks
//! that the committed table is exactly what this produces.
//!
//! What is read (cwmp-datamodel 1.x schema; names below are its elements and attributes):
//!
//! - the top-level `<dataType name=..>` definitions, with `base=` chains resolved, so that a
//!   `<dataType ref="IPAddress"/>` syntax is a `string` of at most 45 characters;
//! - the one `<model name="Device:2.x">`: its `<object name=..>` children and their
//!   `<parameter name=..>` children (profiles, which only refer to these, are passed over);
//! - per parameter: `access`, `forcedInform`, `activeNotify`, `status` and its `<syntax>`
//!   (`hidden`/`secured`, base type, `<list>`, `<size maxLength>`, `<range>`,
//!   `<enumeration value>`, `<default type="object"|"factory" value>`).
//!
//! Items with `status="deleted"` (objects, parameters, enumeration values) are left out;
//! deprecated and obsoleted ones stay, as devices still use them.
//!
//! # Output
//!
//! UTF-8 text, one record a line, fields separated by tabs; lines starting with `#` are
//! comments. Records, in this order:
//!
//! - `E` + values: an enumeration; the n-th `E` line (from 0) is enumeration `n`.
//! - `O` name flags: an object, in model order; flag `w` = AddObject/DeleteObject allowed.
//! - `P` name type flags min max maxLength enumeration default: a parameter, after its
//!   object. `type` is the model's base type (`string`, `int`, `unsignedInt`, `long`,
//!   `unsignedLong`, `boolean`, `dateTime`, `base64`, `hexBinary`, `decimal`); flags: `w`
//!   writable, `f` forced inform, `h` hidden, `l` list (a comma-separated string; range and
//!   enumeration then bound each item, maxLength the whole value), `E`/`D`/`C` activeNotify
//!   forceEnabled/forceDefaultEnabled/canDeny. `min`/`max`: the inclusive range, both or
//!   neither (a missing bound is the type's, an `unsignedLong` maximum is capped at
//!   `i64::MAX`). `enumeration`: an `E` index or empty. `default`: empty for none, else `=`
//!   followed by the value (so `=` alone is an empty default).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::fmt::Write as _;
use std::str::FromStr;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

/// Why the XML could not be converted.
#[derive(Debug)]
pub(crate) struct ConvertError {
    /// Byte offset in the XML near the problem.
    pub(crate) position: u64,
    /// What is wrong.
    pub(crate) message: String,
}

impl fmt::Display for ConvertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}: {}", self.position, self.message)
    }
}

impl std::error::Error for ConvertError {}

/// What the conversion found, besides the table, for the generator to print.
#[derive(Debug, Default)]
pub(crate) struct Summary {
    /// The model converted, e.g. `Device:2.17`.
    pub(crate) model: String,
    /// Objects written.
    pub(crate) objects: usize,
    /// Parameters written.
    pub(crate) parameters: usize,
    /// Distinct enumerations written.
    pub(crate) enumerations: usize,
    /// Objects and parameters left out as `status="deleted"` (an object's parameters not
    /// counted).
    pub(crate) deleted: usize,
}

/// Converts the full data-model XML `xml` into the table text.
pub(crate) fn convert(xml: &str) -> Result<(String, Summary), ConvertError> {
    let document = Document::read(xml)?;
    let model = document.model.as_ref().ok_or_else(|| ConvertError {
        position: 0,
        message: "no <model name=\"Device:2.x\"> element".to_owned(),
    })?;
    write_table(&document, model)
}

/// A base type of the data-model schema.
const BASE_TYPES: [&str; 10] = [
    "string",
    "int",
    "unsignedInt",
    "long",
    "unsignedLong",
    "boolean",
    "dateTime",
    "base64",
    "hexBinary",
    "decimal",
];

/// The `<syntax>` of a parameter or the body of a `<dataType name=..>`, as written (before
/// `ref`/`base` resolution).
#[derive(Clone, Debug, Default)]
struct Syntax {
    /// `<dataType ref=..>` in a parameter, `base=` on a data type.
    base: Option<String>,
    /// The base-type element (`string`, `unsignedInt`, ...).
    ty: Option<&'static str>,
    /// A `<list>` element is present.
    list: bool,
    /// `<size>` facets under `<list>`: their `maxLength`, `None` for an unbounded one.
    list_sizes: Vec<Option<u64>>,
    /// `<size>` facets of the value (or of each list item).
    sizes: Vec<Option<u64>>,
    /// `<range>` facets: `minInclusive`, `maxInclusive`.
    ranges: Vec<(Option<i64>, Option<i64>)>,
    /// `<enumeration>` values, without deleted ones.
    enumeration: Vec<String>,
    /// `<default type="object"|"factory">`.
    default: Option<String>,
    /// `hidden="true"` or `secured="true"` on `<syntax>`.
    hidden: bool,
}

#[derive(Debug)]
struct Object {
    name: String,
    writable: bool,
    parameters: Vec<Parameter>,
}

#[derive(Debug)]
struct Parameter {
    name: String,
    writable: bool,
    forced_inform: bool,
    active_notify: Option<char>,
    syntax: Syntax,
    /// Byte offset of the element, for messages.
    position: u64,
}

#[derive(Debug)]
struct Model {
    name: String,
    objects: Vec<Object>,
}

#[derive(Debug, Default)]
struct Document {
    data_types: HashMap<String, Syntax>,
    model: Option<Model>,
    deleted: usize,
}

/// Where the reader is: what the open element at each depth is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Frame {
    /// Anything not looked into.
    Other,
    Document,
    Model,
    Object,
    Parameter,
    /// `<syntax>` of a parameter, or a top-level `<dataType name=..>`.
    Syntax,
    /// `<list>` directly in a syntax.
    List,
    /// A base-type element or `<dataType ref=..>` directly in a syntax.
    Type,
    /// Something deleted, or outside the model: everything inside is skipped.
    Skip,
}

impl Document {
    fn read(xml: &str) -> Result<Self, ConvertError> {
        let mut reader = Reader::from_str(xml);
        reader.config_mut().expand_empty_elements = true;
        let mut doc = Self::default();
        let mut stack: Vec<Frame> = Vec::new();
        // The syntax being read and, for a data type, its name.
        let mut syntax: Option<(Option<String>, Syntax)> = None;
        loop {
            let position = reader.buffer_position();
            let event = reader.read_event().map_err(|e| ConvertError {
                position: reader.error_position(),
                message: e.to_string(),
            })?;
            match event {
                Event::Start(el) => {
                    let at = Context { position, el: &el };
                    let parent = stack.last().copied();
                    let frame = doc.open(&at, parent, &mut syntax)?;
                    stack.push(frame);
                }
                Event::End(_) => {
                    let frame = stack.pop();
                    if frame == Some(Frame::Syntax) {
                        doc.close_syntax(syntax.take(), position)?;
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        Ok(doc)
    }

    /// Handles an opening tag under `parent`; returns the frame it opens.
    fn open(
        &mut self,
        at: &Context<'_, '_>,
        parent: Option<Frame>,
        syntax: &mut Option<(Option<String>, Syntax)>,
    ) -> Result<Frame, ConvertError> {
        let tag = at.el.local_name();
        let tag = tag.as_ref();
        let deleted = at.attr("status")?.as_deref() == Some("deleted");
        Ok(match (parent, tag) {
            (None, "document") => Frame::Document,
            (None, _) => return Err(at.error(format!("unexpected root element <{tag}>"))),
            (Some(Frame::Document), "dataType") => {
                let name = at.required("name")?;
                let s = Syntax {
                    base: at.attr("base")?,
                    ..Syntax::default()
                };
                *syntax = Some((Some(name), s));
                Frame::Syntax
            }
            (Some(Frame::Document), "model") => {
                let name = at.required("name")?;
                if !name.starts_with("Device:2.") {
                    return Ok(Frame::Skip);
                }
                if let Some(other) = &self.model {
                    return Err(at.error(format!("two Device:2 models, {} and {name}", other.name)));
                }
                self.model = Some(Model {
                    name,
                    objects: Vec::new(),
                });
                Frame::Model
            }
            (Some(Frame::Model), "object") => {
                // Profile objects (`<object ref=..>`) are inside <profile>, not here.
                let name = at.required("name")?;
                if deleted || !name.starts_with("Device.") {
                    self.deleted += usize::from(deleted);
                    return Ok(Frame::Skip);
                }
                let writable = at.access()?;
                let model = self
                    .model
                    .as_mut()
                    .ok_or_else(|| at.error("object outside a model"))?;
                model.objects.push(Object {
                    name,
                    writable,
                    parameters: Vec::new(),
                });
                Frame::Object
            }
            (Some(Frame::Object), "parameter") => {
                let name = at.required("name")?;
                if deleted {
                    self.deleted += 1;
                    return Ok(Frame::Skip);
                }
                let active_notify = match at.attr("activeNotify")?.as_deref() {
                    None | Some("normal") => None,
                    Some("forceEnabled") => Some('E'),
                    Some("forceDefaultEnabled") => Some('D'),
                    Some("canDeny") => Some('C'),
                    Some(other) => return Err(at.error(format!("activeNotify=\"{other}\""))),
                };
                let parameter = Parameter {
                    name,
                    writable: at.access()?,
                    forced_inform: at.flag("forcedInform")?,
                    active_notify,
                    syntax: Syntax::default(),
                    position: at.position,
                };
                self.current_object(at)?.parameters.push(parameter);
                Frame::Parameter
            }
            (Some(Frame::Parameter), "syntax") => {
                let s = Syntax {
                    hidden: at.flag("hidden")? || at.flag("secured")?,
                    ..Syntax::default()
                };
                *syntax = Some((None, s));
                Frame::Syntax
            }
            (Some(Frame::Syntax), _) => {
                let s = building(syntax, at)?;
                Self::open_in_syntax(at, tag, s)?
            }
            (Some(Frame::Type), _) => {
                let s = building(syntax, at)?;
                Self::facet(at, tag, s, false)?;
                Frame::Other
            }
            (Some(Frame::List), "size") => {
                let s = building(syntax, at)?;
                s.list_sizes.push(at.number("maxLength")?);
                Frame::Other
            }
            (Some(Frame::Skip), _) => Frame::Skip,
            (Some(_), _) => Frame::Other,
        })
    }

    /// A direct child of `<syntax>` or of a top-level `<dataType>`.
    fn open_in_syntax(
        at: &Context<'_, '_>,
        tag: &str,
        s: &mut Syntax,
    ) -> Result<Frame, ConvertError> {
        if let Some(ty) = BASE_TYPES.iter().find(|t| **t == tag) {
            if s.ty.is_some() || s.base.is_some() {
                return Err(at.error("two types in one syntax"));
            }
            s.ty = Some(ty);
            return Ok(Frame::Type);
        }
        match tag {
            "dataType" => {
                if s.ty.is_some() || s.base.is_some() {
                    return Err(at.error("two types in one syntax"));
                }
                // `<dataType ref=..>`, or an anonymous restriction `<dataType base=..>`.
                let named = match at.attr("ref")? {
                    Some(name) => name,
                    None => at.required("base")?,
                };
                s.base = Some(named);
                Ok(Frame::Type)
            }
            "list" => {
                s.list = true;
                Ok(Frame::List)
            }
            "default" => {
                match at.required("type")?.as_str() {
                    "object" | "factory" => s.default = Some(at.required("value")?),
                    // "implementation": a value the CPE might use, not a model default.
                    _ => {}
                }
                Ok(Frame::Other)
            }
            // Facets directly in a derived `<dataType name=.. base=..>`.
            _ => {
                Self::facet(at, tag, s, true)?;
                Ok(Frame::Other)
            }
        }
    }

    /// A facet element (`size`, `range`, `enumeration`; others are ignored).
    fn facet(
        at: &Context<'_, '_>,
        tag: &str,
        s: &mut Syntax,
        derived: bool,
    ) -> Result<(), ConvertError> {
        match tag {
            "size" => s.sizes.push(at.number("maxLength")?),
            "range" => s
                .ranges
                .push((at.number("minInclusive")?, at.number("maxInclusive")?)),
            "enumeration" => {
                if at.attr("status")?.as_deref() != Some("deleted") {
                    s.enumeration.push(at.required("value")?);
                }
            }
            "description" | "pattern" | "units" | "pathRef" | "enumerationRef" => {}
            _ if derived => {}
            _ => return Err(at.error(format!("unexpected <{tag}> in a type"))),
        }
        Ok(())
    }

    fn current_object(&mut self, at: &Context<'_, '_>) -> Result<&mut Object, ConvertError> {
        self.model
            .as_mut()
            .and_then(|m| m.objects.last_mut())
            .ok_or_else(|| at.error("parameter outside an object"))
    }

    fn close_syntax(
        &mut self,
        syntax: Option<(Option<String>, Syntax)>,
        position: u64,
    ) -> Result<(), ConvertError> {
        let lost = || ConvertError {
            position,
            message: "syntax state lost".to_owned(),
        };
        match syntax.ok_or_else(lost)? {
            (Some(data_type), s) => {
                if self.data_types.insert(data_type.clone(), s).is_some() {
                    return Err(ConvertError {
                        position,
                        message: format!("data type {data_type} defined twice"),
                    });
                }
            }
            (None, s) => {
                let parameter = self
                    .model
                    .as_mut()
                    .and_then(|m| m.objects.last_mut())
                    .and_then(|o| o.parameters.last_mut())
                    .ok_or_else(lost)?;
                parameter.syntax = s;
            }
        }
        Ok(())
    }
}

/// The syntax being read, which an element inside `<syntax>` or `<dataType>` adds to.
fn building<'s>(
    syntax: &'s mut Option<(Option<String>, Syntax)>,
    at: &Context<'_, '_>,
) -> Result<&'s mut Syntax, ConvertError> {
    match syntax {
        Some((_, s)) => Ok(s),
        None => Err(at.error("syntax state lost")),
    }
}

/// An opening tag and where it is.
struct Context<'a, 'x> {
    position: u64,
    el: &'a BytesStart<'x>,
}

impl Context<'_, '_> {
    fn error(&self, message: impl Into<String>) -> ConvertError {
        ConvertError {
            position: self.position,
            message: message.into(),
        }
    }

    /// Attribute `name`, entities resolved.
    fn attr(&self, name: &str) -> Result<Option<String>, ConvertError> {
        let attr = self
            .el
            .try_get_attribute(name)
            .map_err(|e| self.error(e.to_string()))?;
        attr.map(|a| {
            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map(|v| v.into_owned())
                .map_err(|e| self.error(e.to_string()))
        })
        .transpose()
    }

    fn required(&self, name: &str) -> Result<String, ConvertError> {
        self.attr(name)?.ok_or_else(|| {
            let tag = self.el.local_name();
            self.error(format!("<{}> without {name}=", tag.as_ref()))
        })
    }

    fn flag(&self, name: &str) -> Result<bool, ConvertError> {
        match self.attr(name)?.as_deref() {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(other) => Err(self.error(format!("{name}=\"{other}\""))),
        }
    }

    fn number<T: FromStr>(&self, name: &str) -> Result<Option<T>, ConvertError> {
        self.attr(name)?
            .map(|v| {
                v.trim()
                    .parse()
                    .map_err(|_| self.error(format!("{name}=\"{v}\"")))
            })
            .transpose()
    }

    /// `access`: whether it is writable (`readWrite`; `writeOnceReadOnly` too, as the ACS may
    /// set it once).
    /// Missing (as on two `MUConfig`/`MUStats` objects of 2.17): `readOnly`.
    fn access(&self) -> Result<bool, ConvertError> {
        match self.attr("access")?.as_deref().unwrap_or("readOnly") {
            "readOnly" => Ok(false),
            "readWrite" | "writeOnceReadOnly" => Ok(true),
            other => Err(self.error(format!("access=\"{other}\""))),
        }
    }
}

/// A syntax with its data-type chain folded in.
#[derive(Debug, Default)]
struct Resolved {
    ty: Option<&'static str>,
    list: bool,
    list_sizes: Vec<Option<u64>>,
    sizes: Vec<Option<u64>>,
    ranges: Vec<(Option<i64>, Option<i64>)>,
    enumeration: Vec<String>,
    default: Option<String>,
}

/// Folds `s` over the data type it names: each facet kind given at a level replaces the one
/// inherited (the data-model schema's restriction rule).
fn resolve(s: &Syntax, types: &HashMap<String, Syntax>, depth: usize) -> Result<Resolved, String> {
    let mut r = match &s.base {
        None => Resolved::default(),
        Some(_) if depth > 16 => return Err("data type chain too deep".to_owned()),
        Some(base) => {
            let def = types
                .get(base)
                .ok_or_else(|| format!("unknown data type {base}"))?;
            resolve(def, types, depth + 1)?
        }
    };
    if s.ty.is_some() {
        r.ty = s.ty;
    }
    r.list |= s.list;
    if !s.list_sizes.is_empty() {
        r.list_sizes.clone_from(&s.list_sizes);
    }
    if !s.sizes.is_empty() {
        r.sizes.clone_from(&s.sizes);
    }
    if !s.ranges.is_empty() {
        r.ranges.clone_from(&s.ranges);
    }
    if !s.enumeration.is_empty() {
        r.enumeration.clone_from(&s.enumeration);
    }
    if s.default.is_some() {
        r.default.clone_from(&s.default);
    }
    Ok(r)
}

/// The inclusive bounds of integer type `ty`, the `unsignedLong` maximum capped at `i64::MAX`.
fn type_bounds(ty: &str) -> Option<(i64, i64)> {
    Some(match ty {
        "int" => (i32::MIN.into(), i32::MAX.into()),
        "unsignedInt" => (0, u32::MAX.into()),
        "long" => (i64::MIN, i64::MAX),
        "unsignedLong" => (0, i64::MAX),
        _ => return None,
    })
}

/// The longest of several `<size>` facets; unbounded if any is.
fn max_length(sizes: &[Option<u64>]) -> Option<u64> {
    sizes
        .iter()
        .copied()
        .try_fold(None, |acc: Option<u64>, s| Some(acc.max(Some(s?))))?
}

fn write_table(doc: &Document, model: &Model) -> Result<(String, Summary), ConvertError> {
    let mut summary = Summary {
        model: model.name.clone(),
        deleted: doc.deleted,
        ..Summary::default()
    };
    let mut enumerations: Vec<Vec<String>> = Vec::new();
    let mut enumeration_ids: HashMap<Vec<String>, usize> = HashMap::new();
    let mut body = String::new();
    let mut seen: HashSet<String> = HashSet::new();
    let fail = |position, message: String| ConvertError { position, message };
    for object in &model.objects {
        if !seen.insert(object.name.clone()) || !object.name.ends_with('.') {
            return Err(fail(
                0,
                format!("object {} repeated or not ending in '.'", object.name),
            ));
        }
        let flags = if object.writable { "w" } else { "" };
        // Writing to a String cannot fail.
        let _ = writeln!(body, "O\t{}\t{flags}", object.name);
        summary.objects += 1;
        for p in &object.parameters {
            let name = format!("{}{}", object.name, p.name);
            let r = resolve(&p.syntax, &doc.data_types, 0)
                .map_err(|m| fail(p.position, format!("{name}: {m}")))?;
            let ty =
                r.ty.ok_or_else(|| fail(p.position, format!("{name}: no type")))?;
            if !seen.insert(name.clone()) || name.contains(['\t', '\n']) {
                return Err(fail(
                    p.position,
                    format!("parameter {name} repeated or malformed"),
                ));
            }
            let mut flags = String::new();
            for (on, c) in [
                (p.writable, 'w'),
                (p.forced_inform, 'f'),
                (p.syntax.hidden, 'h'),
                (r.list, 'l'),
            ] {
                if on {
                    flags.push(c);
                }
            }
            flags.extend(p.active_notify);
            let (min, max) = match (r.ranges.is_empty(), type_bounds(ty)) {
                (true, _) => (String::new(), String::new()),
                (false, None) => {
                    return Err(fail(p.position, format!("{name}: range on a {ty}")));
                }
                (false, Some((lo, hi))) => {
                    let min = r
                        .ranges
                        .iter()
                        .map(|(a, _)| a.unwrap_or(lo))
                        .min()
                        .unwrap_or(lo);
                    let max = r
                        .ranges
                        .iter()
                        .map(|(_, b)| b.unwrap_or(hi))
                        .max()
                        .unwrap_or(hi);
                    (min.to_string(), max.to_string())
                }
            };
            let sizes = if r.list { &r.list_sizes } else { &r.sizes };
            let max_len = max_length(sizes).map(|n| n.to_string()).unwrap_or_default();
            let enumeration = if r.enumeration.is_empty() {
                String::new()
            } else {
                if r.enumeration.iter().any(|v| v.contains(['\t', '\n'])) {
                    return Err(fail(
                        p.position,
                        format!("{name}: tab or newline in a value"),
                    ));
                }
                let next = enumerations.len();
                let id = *enumeration_ids.entry(r.enumeration.clone()).or_insert(next);
                if id == next {
                    enumerations.push(r.enumeration.clone());
                }
                id.to_string()
            };
            let default = match &r.default {
                Some(d) if d.contains(['\t', '\n']) => {
                    return Err(fail(
                        p.position,
                        format!("{name}: tab or newline in default"),
                    ));
                }
                Some(d) => format!("={d}"),
                None => String::new(),
            };
            let _ = writeln!(
                body,
                "P\t{name}\t{ty}\t{flags}\t{min}\t{max}\t{max_len}\t{enumeration}\t{default}"
            );
            summary.parameters += 1;
        }
    }
    summary.enumerations = enumerations.len();

    let mut out = String::with_capacity(body.len() + 64 * 1024);
    let _ = writeln!(
        out,
        "# BBF TR-181 {} data model metadata: generated by `cargo run -p schemas --example \
         gen-tr181` from tr-181-2-17-0-cwmp-full.xml; do not edit.",
        model.name
    );
    out.push_str(
        "# E values...: enumeration n (the n-th E line)\n\
         # O name flags: object (w = AddObject/DeleteObject)\n\
         # P name type flags min max maxLength enumeration =default: parameter (flags: \
         w writable, f forced inform, h hidden, l list, E/D/C forceEnabled/forceDefaultEnabled/\
         canDeny)\n",
    );
    let _ = writeln!(
        out,
        "# model\t{}\t{} objects\t{} parameters",
        model.name, summary.objects, summary.parameters
    );
    for values in &enumerations {
        out.push('E');
        for v in values.iter() {
            out.push('\t');
            out.push_str(v);
        }
        out.push('\n');
    }
    out.push_str(&body);
    Ok((out, summary))
}
