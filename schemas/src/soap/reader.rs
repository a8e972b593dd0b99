//! A lenient, bounded pull reader over quick-xml's tokenizer.
//!
//! Elements are matched on (namespace, local name), never on prefixes: [`Scopes`] keeps the
//! bindings in scope, classified once when declared, and only element starts are resolved
//! (`NsReader` resolves every event and re-reads every tag's attributes for declarations; doing
//! only what CWMP needs keeps parsing within 40% of a bare tokenizer scan, see BENCHMARKS.md).
//!
//! The reader walks one element at a time: after [`Reader::next_child`] hands out an element,
//! the caller consumes its content with exactly one of [`Reader::next_child`] (until `None`),
//! [`Reader::text`] or [`Reader::skip`]. Comments, processing instructions and stray text
//! between elements are passed over; a DOCTYPE is refused; every string, list and nesting level
//! is bounded by [`Limits`].

use std::borrow::Cow;

use quick_xml::events::{BytesRef, BytesStart, Event};

use super::error::SoapError;
use super::namespace::{CwmpNamespace, Ns};
use super::scope::{Resolved, Scopes, split_qname};
use crate::limits::Limits;

/// The reader; borrows the envelope text.
pub(crate) struct Reader<'a> {
    xml: quick_xml::Reader<&'a [u8]>,
    /// Length of the input.
    len: usize,
    scopes: Scopes,
    limits: Limits,
    /// Open elements (the Envelope is 1).
    depth: usize,
    /// The element last handed out was `<x/>`: it has no content to consume.
    open_empty: bool,
    /// An empty element declared bindings at this depth; they end with the next event.
    pending_leave: Option<usize>,
    /// The CWMP namespace of the first element met in one.
    first_cwmp: Option<CwmpNamespace>,
}

/// One event, as [`Reader::event`] hands it on.
enum Read<'a> {
    Start(Element<'a>),
    Empty(Element<'a>),
    End,
    Other(Event<'a>),
}

/// An element start handed out by [`Reader::next_child`].
pub(crate) struct Element<'a> {
    ns: Ns,
    start: BytesStart<'a>,
    /// Where the local name starts in the qualified name.
    local_at: usize,
}

impl<'a> Element<'a> {
    /// The element's namespace.
    pub(crate) fn ns(&self) -> Ns {
        self.ns
    }

    /// The element's local name.
    pub(crate) fn local(&self) -> &str {
        &self.qname()[self.local_at..]
    }

    /// The element's qualified name as written, for messages.
    pub(crate) fn qname(&self) -> &str {
        self.start.name().into_inner()
    }

    fn prefix(&self) -> Option<&str> {
        self.local_at
            .checked_sub(1)
            .map(|colon| &self.qname()[..colon])
    }
}

impl<'a> Reader<'a> {
    /// A reader over `bytes`. quick-xml checks that every piece it hands out is UTF-8, so the
    /// input needs no separate validation pass.
    pub(crate) fn new(bytes: &'a [u8], limits: &Limits) -> Self {
        Self {
            xml: quick_xml::Reader::from_reader(bytes),
            len: bytes.len(),
            scopes: Scopes::new(limits.max_namespace_bindings),
            limits: *limits,
            depth: 0,
            open_empty: false,
            pending_leave: None,
            first_cwmp: None,
        }
    }

    /// Bytes not yet read.
    pub(crate) fn remaining(&self) -> usize {
        let read = usize::try_from(self.xml.buffer_position()).unwrap_or(usize::MAX);
        self.len.saturating_sub(read)
    }

    /// The limits in force.
    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    fn xml_error(&self, e: quick_xml::Error) -> SoapError {
        // quick-xml sets no error position for encoding and attribute errors; where it reads
        // is then the best place to point at.
        let position = match self.xml.error_position() {
            0 => self.xml.buffer_position(),
            at => at,
        };
        match e {
            quick_xml::Error::Encoding(_) => SoapError::NotUtf8 { position },
            e => SoapError::Xml {
                position,
                message: e.to_string(),
            },
        }
    }

    /// The CWMP namespace of the first element read that is in one.
    pub(crate) fn first_cwmp_namespace(&self) -> Option<CwmpNamespace> {
        self.first_cwmp
    }

    /// Reads the next raw event, keeping namespace scopes; element starts come back as an
    /// [`Element`] with their namespace resolved.
    fn event(&mut self) -> Result<Read<'a>, SoapError> {
        if let Some(depth) = self.pending_leave.take() {
            self.scopes.leave(depth);
        }
        let event = self.xml.read_event().map_err(|e| self.xml_error(e))?;
        let (start, empty) = match event {
            Event::Start(start) => (start, false),
            Event::Empty(start) => (start, true),
            Event::End(_) => {
                self.scopes.leave(self.depth);
                return Ok(Read::End);
            }
            other => return Ok(Read::Other(other)),
        };
        let depth = self.depth + 1;
        let attrs = start.attributes_raw();
        if !attrs.is_empty() && attrs.contains("xmlns") {
            self.scopes.declare(depth, &start).map_err(|e| match e {
                SoapError::Xml { message, .. } => SoapError::Xml {
                    position: self.xml.buffer_position(),
                    message,
                },
                other => other,
            })?;
            if empty {
                self.pending_leave = Some(depth);
            }
        }
        let colon = start.name().into_inner().find(':');
        let prefix = colon.map(|i| &start.name().into_inner()[..i]);
        let ns = self.scopes.element(prefix).ns();
        if let Ns::Cwmp(cwmp) = ns {
            self.first_cwmp.get_or_insert(cwmp);
        }
        let element = Element {
            ns,
            start,
            local_at: colon.map_or(0, |i| i + 1),
        };
        Ok(if empty {
            Read::Empty(element)
        } else {
            Read::Start(element)
        })
    }

    fn enter(&mut self) -> Result<(), SoapError> {
        self.depth += 1;
        if self.depth > self.limits.max_depth {
            return Err(SoapError::TooDeep {
                max: self.limits.max_depth,
            });
        }
        Ok(())
    }

    /// The next child element of the element being read, or `None` at its end.
    pub(crate) fn next_child(&mut self) -> Result<Option<Element<'a>>, SoapError> {
        if std::mem::take(&mut self.open_empty) {
            return Ok(None);
        }
        loop {
            match self.event()? {
                Read::Start(element) => {
                    self.enter()?;
                    return Ok(Some(element));
                }
                Read::Empty(element) => {
                    // Counted as entered and left at once, so the depth limit also bounds
                    // empty leaves.
                    self.enter()?;
                    self.depth -= 1;
                    self.open_empty = true;
                    return Ok(Some(element));
                }
                Read::End => {
                    self.depth = self.depth.saturating_sub(1);
                    return Ok(None);
                }
                Read::Other(Event::DocType(_)) => return Err(SoapError::DtdRefused),
                Read::Other(Event::Eof) => return Err(self.eof()),
                Read::Other(Event::GeneralRef(r)) => {
                    resolve_reference(&r)?;
                }
                // Text between elements (indentation, mixed content), comments, PIs and the XML
                // declaration carry nothing for CWMP.
                _ => {}
            }
        }
    }

    fn eof(&self) -> SoapError {
        SoapError::UnexpectedEof { open: self.depth }
    }

    /// The text content of the element just handed out, with references resolved.
    ///
    /// `element` names it in errors; `cap` is the longest string accepted, in bytes.
    pub(crate) fn text(&mut self, element: &str, cap: usize) -> Result<Cow<'a, str>, SoapError> {
        if std::mem::take(&mut self.open_empty) {
            return Ok(Cow::Borrowed(""));
        }
        let mut out: Cow<'a, str> = Cow::Borrowed("");
        loop {
            let piece: Cow<'a, str> = match self.event()? {
                Read::Other(Event::Text(t)) => t.xml10_content(),
                Read::Other(Event::CData(t)) => t.xml10_content(),
                Read::Other(Event::GeneralRef(r)) => Cow::Owned(resolve_reference(&r)?.to_string()),
                Read::End => {
                    self.depth = self.depth.saturating_sub(1);
                    return Ok(out);
                }
                Read::Start(child) | Read::Empty(child) => {
                    return Err(SoapError::UnexpectedElement {
                        parent: element.to_owned(),
                        child: child.qname().to_owned(),
                    });
                }
                Read::Other(Event::DocType(_)) => return Err(SoapError::DtdRefused),
                Read::Other(Event::Eof) => return Err(self.eof()),
                Read::Other(_) => continue,
            };
            let len = out.len() + piece.len();
            if len > cap {
                return Err(SoapError::TooLong {
                    element: element.to_owned(),
                    max: cap,
                    len,
                });
            }
            if out.is_empty() {
                out = piece;
            } else {
                out.to_mut().push_str(&piece);
            }
        }
    }

    /// Skips the rest of the element just handed out, children included.
    pub(crate) fn skip(&mut self) -> Result<(), SoapError> {
        if std::mem::take(&mut self.open_empty) {
            return Ok(());
        }
        let target = self.depth - 1;
        while self.depth > target {
            match self.event()? {
                Read::Start(_) => self.enter()?,
                Read::End => self.depth -= 1,
                Read::Other(Event::DocType(_)) => return Err(SoapError::DtdRefused),
                Read::Other(Event::Eof) => return Err(self.eof()),
                Read::Other(Event::GeneralRef(r)) => {
                    resolve_reference(&r)?;
                }
                Read::Empty(_) | Read::Other(_) => {}
            }
        }
        Ok(())
    }

    /// The value of attribute `{ns}local` of `el`, if present. Only the attributes looked for
    /// are checked: a malformed attribute list elsewhere is passed over.
    pub(crate) fn attribute<'e>(
        &self,
        el: &'e Element<'a>,
        ns: Ns,
        local: &str,
    ) -> Result<Option<Cow<'e, str>>, SoapError> {
        for attr in el.start.attributes().with_checks(false) {
            let attr = attr.map_err(|e| self.xml_error(e.into()))?;
            let (prefix, name) = split_qname(attr.key.into_inner());
            if name == local && self.scopes.attribute(prefix).ns() == ns {
                let value = attr
                    .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .map_err(|e| self.xml_error(e))?;
                return Ok(Some(value));
            }
        }
        Ok(None)
    }

    /// Resolves a QName written in content (such as an `xsi:type` value) against the
    /// namespace bindings in scope, giving its namespace and local name.
    pub(crate) fn resolve_qname<'q>(&self, qname: &'q str) -> (Ns, &'q str) {
        let (prefix, local) = split_qname(qname.trim());
        (self.scopes.element(prefix).ns(), local)
    }

    /// The namespace URI of `el`, for messages: `none` when it has none.
    pub(crate) fn namespace_of(&self, el: &Element<'a>) -> String {
        match (
            self.scopes.element(el.prefix()),
            self.scopes.uri(el.prefix()),
        ) {
            (Resolved::Undeclared, _) => {
                format!("of undeclared prefix `{}`", el.prefix().unwrap_or_default())
            }
            (_, Some(uri)) => uri.to_owned(),
            (_, None) => "none".to_owned(),
        }
    }

    /// Reads the prologue up to the root element and returns it.
    pub(crate) fn root(&mut self) -> Result<Element<'a>, SoapError> {
        loop {
            match self.event()? {
                Read::Start(element) => {
                    self.enter()?;
                    return Ok(element);
                }
                Read::Empty(element) => {
                    self.open_empty = true;
                    return Ok(element);
                }
                Read::End => return Err(self.eof()),
                Read::Other(Event::DocType(_)) => return Err(SoapError::DtdRefused),
                Read::Other(Event::Eof) => return Err(self.eof()),
                Read::Other(Event::Text(t)) if !t.xml10_content().trim().is_empty() => {
                    return Err(SoapError::Xml {
                        position: self.xml.buffer_position(),
                        message: "text before the root element".into(),
                    });
                }
                _ => {}
            }
        }
    }
}

/// Resolves one of the five predefined entities or a character reference. Anything else is
/// refused: without a DTD no other entity can be defined.
fn resolve_reference(r: &BytesRef<'_>) -> Result<char, SoapError> {
    let name = r.xml10_content();
    let invalid = || SoapError::UnknownEntity(name.chars().take(32).collect());
    if let Some(c) = r.resolve_char_ref().map_err(|_| invalid())? {
        // XML 1.0 §2.2 Char: no C0 controls other than tab, LF and CR.
        return if c >= ' ' || matches!(c, '\t' | '\n' | '\r') {
            Ok(c)
        } else {
            Err(invalid())
        };
    }
    match &*name {
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "amp" => Ok('&'),
        "apos" => Ok('\''),
        "quot" => Ok('"'),
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn children(xml: &str) -> Vec<String> {
        let limits = Limits::default();
        let mut r = Reader::new(xml.as_bytes(), &limits);
        let root = r.root().unwrap();
        assert_eq!(root.local(), "r");
        let mut out = Vec::new();
        while let Some(child) = r.next_child().unwrap() {
            let name = child.local().to_owned();
            out.push(format!("{name}={}", r.text(&name, 100).unwrap()));
        }
        out
    }

    #[test]
    fn text_joins_references_and_cdata() {
        assert_eq!(
            children("<r><a>x &amp; &#x41;&#66;<![CDATA[<c>]]></a><b/><!-- c --><d>\r\n</d></r>"),
            ["a=x & AB<c>", "b=", "d=\n"]
        );
    }

    #[test]
    fn unknown_entities_and_doctype_are_refused() {
        let limits = Limits::default();
        let mut r = Reader::new(b"<r><a>&xxe;</a></r>", &limits);
        r.root().unwrap();
        r.next_child().unwrap().unwrap();
        assert_eq!(r.text("a", 10), Err(SoapError::UnknownEntity("xxe".into())));

        let doc = r#"<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><r>&xxe;</r>"#;
        let mut r = Reader::new(doc.as_bytes(), &limits);
        assert_eq!(r.root().err(), Some(SoapError::DtdRefused));
    }

    #[test]
    fn control_character_references_are_refused() {
        let limits = Limits::default();
        let mut r = Reader::new(b"<r><a>&#1;</a></r>", &limits);
        r.root().unwrap();
        r.next_child().unwrap().unwrap();
        assert!(matches!(r.text("a", 10), Err(SoapError::UnknownEntity(_))));
    }

    #[test]
    fn depth_is_bounded_even_when_skipping() {
        let limits = Limits {
            max_depth: 4,
            ..Limits::default()
        };
        let deep = "<r><a><b><c><d><e/></d></c></b></a></r>";
        let mut r = Reader::new(deep.as_bytes(), &limits);
        r.root().unwrap();
        r.next_child().unwrap().unwrap();
        assert_eq!(r.skip(), Err(SoapError::TooDeep { max: 4 }));
    }

    #[test]
    fn text_longer_than_the_cap_is_an_error() {
        let limits = Limits::default();
        let mut r = Reader::new(b"<r><a>0123456789</a></r>", &limits);
        r.root().unwrap();
        r.next_child().unwrap().unwrap();
        assert!(matches!(
            r.text("a", 4),
            Err(SoapError::TooLong { max: 4, .. })
        ));
    }
}
