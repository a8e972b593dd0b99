//! The canonical writer: `quick_xml::Writer` over a `Vec<u8>`, with the one prefix set that
//! [`Envelope::write`](crate::Envelope::write) declares on the Envelope.

use std::borrow::Cow;

use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};

/// Writes elements and escaped text. Names are written as given, so callers use the canonical
/// prefixes (`soap-env:`, `soap-enc:`, `xsd:`, `xsi:`, `cwmp:`).
pub(crate) struct Writer {
    xml: quick_xml::Writer<Vec<u8>>,
}

impl Writer {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            xml: quick_xml::Writer::new(Vec::with_capacity(capacity)),
        }
    }

    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.xml.into_inner()
    }

    fn emit(&mut self, event: Event<'_>) {
        // Invariant: the sink is a Vec<u8>, whose io::Write never fails.
        self.xml
            .write_event(event)
            .expect("writing to a Vec<u8> cannot fail");
    }

    /// Writes the XML declaration.
    pub(crate) fn declaration(&mut self) {
        self.emit(Event::Decl(quick_xml::events::BytesDecl::new(
            "1.0",
            Some("UTF-8"),
            None,
        )));
    }

    /// Opens `<name attrs...>`.
    pub(crate) fn start(&mut self, name: &str, attrs: &[(&str, &str)]) {
        let mut start = BytesStart::new(name);
        start.extend_attributes(attrs.iter().copied());
        self.emit(Event::Start(start));
    }

    /// Closes `</name>`.
    pub(crate) fn end(&mut self, name: &str) {
        self.emit(Event::End(BytesEnd::new(name)));
    }

    /// Writes `<name attrs...>text</name>`, or `<name attrs.../>` for empty text.
    pub(crate) fn leaf(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) {
        if text.is_empty() {
            let mut start = BytesStart::new(name);
            start.extend_attributes(attrs.iter().copied());
            self.emit(Event::Empty(start));
        } else {
            self.start(name, attrs);
            self.emit(Event::Text(BytesText::from_escaped(escape(text))));
            self.end(name);
        }
    }
}

/// Escapes text content. Besides `&`, `<` and `>`, a carriage return is written as `&#13;` so
/// that it survives the reader's end-of-line normalisation (XML 1.0 §2.11).
fn escape(text: &str) -> Cow<'_, str> {
    if !text.contains(['&', '<', '>', '\r']) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaf_escapes_markup_and_carriage_returns() {
        let mut w = Writer::new(64);
        w.leaf("a", &[("x", "1")], "<&>\r\n");
        w.leaf("b", &[], "");
        assert_eq!(
            String::from_utf8(w.into_bytes()).unwrap(),
            "<a x=\"1\">&lt;&amp;&gt;&#13;\n</a><b/>"
        );
    }
}
