//! A lenient, bounded pull reader over `quick_xml::NsReader`.
//!
//! Elements are matched on (namespace, local name), never on prefixes. The reader walks one
//! element at a time: after [`Reader::next_child`] hands out an element, the caller consumes
//! its content with exactly one of [`Reader::next_child`] (until `None`), [`Reader::text`] or
//! [`Reader::skip`]. Comments, processing instructions and stray text between elements are
//! passed over; a DOCTYPE is refused; every string, list and nesting level is bounded by
//! [`Limits`].

use std::borrow::Cow;

use quick_xml::NsReader;
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::name::{QName, ResolveResult};

use super::error::SoapError;
use super::namespace::{CwmpNamespace, Ns};
use crate::limits::Limits;

/// The reader; borrows the envelope text.
pub(crate) struct Reader<'a> {
    xml: NsReader<&'a [u8]>,
    limits: Limits,
    /// Open elements (the Envelope is 1).
    depth: usize,
    /// The element last handed out was `<x/>`: it has no content to consume.
    open_empty: bool,
    /// The CWMP namespace of the first element met in one.
    first_cwmp: Option<CwmpNamespace>,
}

/// An element start handed out by [`Reader::next_child`].
pub(crate) struct Element<'a> {
    ns: Ns,
    start: BytesStart<'a>,
}

impl<'a> Element<'a> {
    /// The element's namespace.
    pub(crate) fn ns(&self) -> Ns {
        self.ns
    }

    /// The element's local name.
    pub(crate) fn local(&self) -> &str {
        self.start.local_name().into_inner()
    }

    /// The element's qualified name as written, for messages.
    pub(crate) fn qname(&self) -> &str {
        self.start.name().into_inner()
    }
}

impl<'a> Reader<'a> {
    /// A reader over `text`.
    pub(crate) fn new(text: &'a str, limits: &Limits) -> Self {
        let mut xml = NsReader::from_str(text);
        xml.resolver_mut()
            .set_max_namespace_bindings(limits.max_namespace_bindings);
        Self {
            xml,
            limits: *limits,
            depth: 0,
            open_empty: false,
            first_cwmp: None,
        }
    }

    /// The limits in force.
    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    fn xml_error(&self, e: quick_xml::Error) -> SoapError {
        SoapError::Xml {
            position: self.xml.error_position(),
            message: e.to_string(),
        }
    }

    /// The CWMP namespace of the first element read that is in one.
    pub(crate) fn first_cwmp_namespace(&self) -> Option<CwmpNamespace> {
        self.first_cwmp
    }

    /// Reads the next raw event, classifying the namespace of element starts.
    fn event(&mut self) -> Result<(Ns, Event<'a>), SoapError> {
        match self.xml.read_resolved_event() {
            Ok((res, ev)) => {
                let ns = classify(res);
                if let Ns::Cwmp(cwmp) = ns {
                    self.first_cwmp.get_or_insert(cwmp);
                }
                Ok((ns, ev))
            }
            Err(e) => Err(self.xml_error(e)),
        }
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
                (ns, Event::Start(start)) => {
                    self.enter()?;
                    return Ok(Some(Element { ns, start }));
                }
                (ns, Event::Empty(start)) => {
                    // Counted as entered and left at once, so the depth limit also bounds
                    // empty leaves.
                    self.enter()?;
                    self.depth -= 1;
                    self.open_empty = true;
                    return Ok(Some(Element { ns, start }));
                }
                (_, Event::End(_)) => {
                    self.depth = self.depth.saturating_sub(1);
                    return Ok(None);
                }
                (_, Event::DocType(_)) => return Err(SoapError::DtdRefused),
                (_, Event::Eof) => return Err(self.eof()),
                (_, Event::GeneralRef(r)) => {
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
                (_, Event::Text(t)) => t.xml10_content(),
                (_, Event::CData(t)) => t.xml10_content(),
                (_, Event::GeneralRef(r)) => Cow::Owned(resolve_reference(&r)?.to_string()),
                (_, Event::End(_)) => {
                    self.depth = self.depth.saturating_sub(1);
                    return Ok(out);
                }
                (_, Event::Start(child) | Event::Empty(child)) => {
                    return Err(SoapError::UnexpectedElement {
                        parent: element.to_owned(),
                        child: child.name().into_inner().to_owned(),
                    });
                }
                (_, Event::DocType(_)) => return Err(SoapError::DtdRefused),
                (_, Event::Eof) => return Err(self.eof()),
                _ => continue,
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
                (_, Event::Start(_)) => self.enter()?,
                (_, Event::End(_)) => self.depth -= 1,
                (_, Event::DocType(_)) => return Err(SoapError::DtdRefused),
                (_, Event::Eof) => return Err(self.eof()),
                (_, Event::GeneralRef(r)) => {
                    resolve_reference(&r)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Resolves the value of attribute `{ns}local` of `el`, if present.
    pub(crate) fn attribute(
        &self,
        el: &Element<'a>,
        ns: Ns,
        local: &str,
    ) -> Result<Option<String>, SoapError> {
        for attr in el.start.attributes() {
            let attr = attr.map_err(|e| self.xml_error(e.into()))?;
            let (res, name) = self.xml.resolver().resolve_attribute(attr.key);
            if name.into_inner() == local && classify(res) == ns {
                let value = attr
                    .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .map_err(|e| self.xml_error(e))?;
                return Ok(Some(value.into_owned()));
            }
        }
        Ok(None)
    }

    /// Resolves a QName written in content (such as an `xsi:type` value) against the
    /// namespace bindings in scope, giving its namespace and local name.
    pub(crate) fn resolve_qname<'q>(&self, qname: &'q str) -> (Ns, &'q str) {
        let (res, local) = self.xml.resolver().resolve_element(QName(qname.trim()));
        (classify(res), local.into_inner())
    }

    /// The namespace URI of `el`, for messages: `none` when it has none.
    pub(crate) fn namespace_of(&self, el: &Element<'a>) -> String {
        match self.xml.resolver().resolve_element(el.start.name()).0 {
            ResolveResult::Bound(ns) => ns.into_inner().to_owned(),
            ResolveResult::Unbound => "none".to_owned(),
            ResolveResult::Unknown(prefix) => format!("of undeclared prefix `{prefix}`"),
        }
    }

    /// Reads the prologue up to the root element and returns it.
    pub(crate) fn root(&mut self) -> Result<Element<'a>, SoapError> {
        loop {
            match self.event()? {
                (ns, Event::Start(start)) => {
                    self.enter()?;
                    return Ok(Element { ns, start });
                }
                (ns, Event::Empty(start)) => {
                    self.open_empty = true;
                    return Ok(Element { ns, start });
                }
                (_, Event::DocType(_)) => return Err(SoapError::DtdRefused),
                (_, Event::Eof) => return Err(self.eof()),
                (_, Event::Text(t)) if !t.xml10_content().trim().is_empty() => {
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

fn classify(res: ResolveResult<'_>) -> Ns {
    match res {
        ResolveResult::Bound(ns) => Ns::from_uri(ns.into_inner()),
        ResolveResult::Unbound => Ns::None,
        ResolveResult::Unknown(_) => Ns::Other,
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
        let mut r = Reader::new(xml, &limits);
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
        let mut r = Reader::new("<r><a>&xxe;</a></r>", &limits);
        r.root().unwrap();
        r.next_child().unwrap().unwrap();
        assert_eq!(r.text("a", 10), Err(SoapError::UnknownEntity("xxe".into())));

        let doc = r#"<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><r>&xxe;</r>"#;
        let mut r = Reader::new(doc, &limits);
        assert_eq!(r.root().err(), Some(SoapError::DtdRefused));
    }

    #[test]
    fn control_character_references_are_refused() {
        let limits = Limits::default();
        let mut r = Reader::new("<r><a>&#1;</a></r>", &limits);
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
        let mut r = Reader::new(deep, &limits);
        r.root().unwrap();
        r.next_child().unwrap().unwrap();
        assert_eq!(r.skip(), Err(SoapError::TooDeep { max: 4 }));
    }

    #[test]
    fn text_longer_than_the_cap_is_an_error() {
        let limits = Limits::default();
        let mut r = Reader::new("<r><a>0123456789</a></r>", &limits);
        r.root().unwrap();
        r.next_child().unwrap().unwrap();
        assert!(matches!(
            r.text("a", 4),
            Err(SoapError::TooLong { max: 4, .. })
        ));
    }
}
