//! Namespace bindings in scope (Namespaces in XML 1.0 §5-6), kept already classified.
//!
//! CWMP envelopes declare their namespaces on a few elements (usually only the Envelope), so a
//! scope is pushed only by a tag that declares one, and each binding is classified into [`Ns`]
//! once, when declared. Resolving a name is then a short scan of a handful of bindings.

use quick_xml::events::BytesStart;

use super::error::SoapError;
use super::namespace::Ns;

/// The bindings in scope at the reader's position.
pub(crate) struct Scopes {
    /// Prefixes and URIs of all bindings, back to back.
    text: String,
    bindings: Vec<Binding>,
    /// For each element that declared bindings: its depth, and how many bindings were in scope
    /// before it.
    frames: Vec<(usize, usize)>,
    /// What an unprefixed element name resolves to, kept current as bindings come and go:
    /// most CWMP elements are unprefixed.
    default: Ns,
    max: usize,
}

struct Binding {
    /// `text[prefix_start..prefix_end]` is the prefix (empty for the default namespace);
    /// `text[prefix_end..uri_end]` the URI.
    prefix_start: usize,
    prefix_end: usize,
    uri_end: usize,
    ns: Ns,
}

/// What a prefix resolves to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Resolved {
    /// Bound (or, for an unprefixed name, in no namespace: [`Ns::None`]).
    Ns(Ns),
    /// A prefix with no binding in scope.
    Undeclared,
}

impl Resolved {
    /// The namespace, taking an undeclared prefix as an unknown namespace.
    pub(crate) fn ns(self) -> Ns {
        match self {
            Self::Ns(ns) => ns,
            Self::Undeclared => Ns::Other,
        }
    }
}

impl Scopes {
    /// No bindings; at most `max` may be in scope at once.
    pub(crate) fn new(max: usize) -> Self {
        Self {
            text: String::new(),
            bindings: Vec::new(),
            frames: Vec::new(),
            default: Ns::None,
            max,
        }
    }

    fn refresh_default(&mut self) {
        self.default = self.find("").map_or(Ns::None, |b| b.ns);
    }

    /// Adds the `xmlns` / `xmlns:p` declarations of `start`, the element at `depth`.
    pub(crate) fn declare(
        &mut self,
        depth: usize,
        start: &BytesStart<'_>,
    ) -> Result<(), SoapError> {
        let before = self.bindings.len();
        for attr in start.attributes() {
            let attr = attr.map_err(|e| SoapError::Xml {
                position: 0,
                message: e.to_string(),
            })?;
            let key = attr.key.into_inner();
            let prefix = match key.strip_prefix("xmlns") {
                Some("") => "",
                Some(rest) => match rest.strip_prefix(':') {
                    Some(prefix) => prefix,
                    None => continue,
                },
                None => continue,
            };
            if self.bindings.len() >= self.max {
                return Err(SoapError::TooManyNamespaces { max: self.max });
            }
            let uri = attr
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|e| SoapError::Xml {
                    position: 0,
                    message: e.to_string(),
                })?;
            let prefix_start = self.text.len();
            self.text.push_str(prefix);
            let prefix_end = self.text.len();
            self.text.push_str(&uri);
            // `xmlns=""` undeclares the default namespace; `xmlns:p=""` is not allowed in
            // XML 1.0 and is read the same way (the prefix then names no namespace).
            let ns = if uri.is_empty() {
                Ns::None
            } else {
                Ns::from_uri(&uri)
            };
            self.bindings.push(Binding {
                prefix_start,
                prefix_end,
                uri_end: self.text.len(),
                ns,
            });
        }
        if self.bindings.len() > before {
            self.frames.push((depth, before));
            self.refresh_default();
        }
        Ok(())
    }

    /// Drops the bindings the element at `depth` declared, as it closes.
    pub(crate) fn leave(&mut self, depth: usize) {
        if let Some(&(d, before)) = self.frames.last()
            && d == depth
        {
            self.frames.pop();
            self.bindings.truncate(before);
            self.text
                .truncate(self.bindings.last().map_or(0, |b| b.uri_end));
            self.refresh_default();
        }
    }

    fn find(&self, prefix: &str) -> Option<&Binding> {
        self.bindings
            .iter()
            .rev()
            .find(|b| &self.text[b.prefix_start..b.prefix_end] == prefix)
    }

    /// Resolves the prefix of an element name (or of a QName in content): no prefix means the
    /// default namespace.
    pub(crate) fn element(&self, prefix: Option<&str>) -> Resolved {
        let Some(prefix) = prefix else {
            return Resolved::Ns(self.default);
        };
        match self.find(prefix) {
            Some(b) => Resolved::Ns(b.ns),
            None => Resolved::Undeclared,
        }
    }

    /// Resolves the prefix of an attribute name: no prefix means no namespace.
    pub(crate) fn attribute(&self, prefix: Option<&str>) -> Resolved {
        match prefix {
            None => Resolved::Ns(Ns::None),
            Some(p) => self.element(Some(p)),
        }
    }

    /// The URI an element prefix is bound to, for messages.
    pub(crate) fn uri(&self, prefix: Option<&str>) -> Option<&str> {
        let b = self.find(prefix.unwrap_or(""))?;
        Some(&self.text[b.prefix_end..b.uri_end]).filter(|u| !u.is_empty())
    }
}

/// Splits a QName into prefix and local name.
pub(crate) fn split_qname(qname: &str) -> (Option<&str>, &str) {
    match qname.split_once(':') {
        Some((prefix, local)) => (Some(prefix), local),
        None => (None, qname),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::soap::namespace::{CwmpNamespace, SOAP_ENV};

    fn start(tag: &str) -> BytesStart<'_> {
        BytesStart::from_content(tag, tag.find(' ').unwrap_or(tag.len()))
    }

    #[test]
    fn bindings_resolve_and_leave_with_their_element() {
        let mut s = Scopes::new(8);
        s.declare(
            1,
            &start(&format!(
                "e xmlns:s=\"{SOAP_ENV}\" xmlns=\"urn:dslforum-org:cwmp-1-1\""
            )),
        )
        .unwrap();
        assert_eq!(s.element(Some("s")), Resolved::Ns(Ns::SoapEnv));
        assert_eq!(s.element(None), Resolved::Ns(Ns::Cwmp(CwmpNamespace::V1_1)));
        assert_eq!(s.attribute(None), Resolved::Ns(Ns::None));
        assert_eq!(s.element(Some("x")), Resolved::Undeclared);

        s.declare(3, &start("b xmlns=\"\" xmlns:s=\"urn:other\""))
            .unwrap();
        assert_eq!(s.element(None), Resolved::Ns(Ns::None));
        assert_eq!(s.element(Some("s")), Resolved::Ns(Ns::Other));
        assert_eq!(s.uri(Some("s")), Some("urn:other"));
        s.leave(2); // an element that declared nothing
        assert_eq!(s.element(Some("s")), Resolved::Ns(Ns::Other));
        s.leave(3);
        assert_eq!(s.element(Some("s")), Resolved::Ns(Ns::SoapEnv));
        assert_eq!(s.uri(Some("s")), Some(SOAP_ENV));
        s.leave(1);
        assert_eq!(s.element(Some("s")), Resolved::Undeclared);
    }

    #[test]
    fn the_binding_limit_is_enforced() {
        let mut s = Scopes::new(2);
        let err = s
            .declare(1, &start("e xmlns:a=\"u\" xmlns:b=\"u\" xmlns:c=\"u\""))
            .unwrap_err();
        assert_eq!(err, SoapError::TooManyNamespaces { max: 2 });
    }

    #[test]
    fn qnames_split_at_the_colon() {
        assert_eq!(split_qname("xsd:int"), (Some("xsd"), "int"));
        assert_eq!(split_qname("int"), (None, "int"));
    }
}
