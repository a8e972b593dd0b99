//! The shape of a device's data model: a tree of object, table, instance and parameter
//! *templates* (instance numbers written `{i}`), built once from a profile and shared.

use std::collections::HashMap;

use super::meta::ParameterMeta;

/// Index of a node in [`Schema::nodes`].
pub(crate) type NodeId = usize;

/// The root: the empty path, parent of `Device.`.
pub(crate) const ROOT: NodeId = 0;

/// The template tree.
#[derive(Clone, Debug)]
pub(crate) struct Schema {
    nodes: Vec<Node>,
    index: HashMap<Box<str>, NodeId>,
}

/// One template.
#[derive(Clone, Debug)]
pub(crate) struct Node {
    /// The full template: `Device.WiFi.SSID.{i}.SSID`, objects with a trailing dot.
    pub(crate) template: Box<str>,
    /// The last segment: `SSID`, or `{i}` for an instance.
    pub(crate) segment: Box<str>,
    /// The node above (the root's is the root).
    pub(crate) parent: NodeId,
    pub(crate) kind: NodeKind,
}

/// What a template is.
#[derive(Clone, Debug)]
pub(crate) enum NodeKind {
    /// A single object (or the root), with named children.
    Object { children: Vec<NodeId> },
    /// A multi-instance object (`Device.WiFi.SSID.`): its children are instances.
    Table {
        /// The instance template (`Device.WiFi.SSID.{i}.`).
        instance: NodeId,
        /// Whether AddObject and DeleteObject may create and delete instances.
        writable: bool,
        /// The most instances AddObject may make.
        max_instances: u32,
    },
    /// The template of a table's instances, with named children.
    Instance { children: Vec<NodeId> },
    /// A parameter.
    Parameter(Box<ParameterMeta>),
}

/// Why a template does not fit the tree built so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ShapeError {
    /// `{i}` under an object that already has named children, or a name under a table.
    MixedTable(String),
    /// A name used both for a parameter and an object.
    ParameterAndObject(String),
}

impl Schema {
    /// A tree with only the root.
    pub(crate) fn new() -> Self {
        Self {
            nodes: vec![Node {
                template: "".into(),
                segment: "".into(),
                parent: ROOT,
                kind: NodeKind::Object {
                    children: Vec::new(),
                },
            }],
            index: HashMap::new(),
        }
    }

    pub(crate) fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id]
    }

    pub(crate) fn node_mut(&mut self, id: NodeId) -> &mut Node {
        &mut self.nodes[id]
    }

    pub(crate) fn len(&self) -> usize {
        self.nodes.len()
    }

    /// The node of a template (objects with their trailing dot).
    pub(crate) fn lookup(&self, template: &str) -> Option<NodeId> {
        self.index.get(template).copied()
    }

    /// The named child `segment` of an object or instance.
    pub(crate) fn child(&self, id: NodeId, segment: &str) -> Option<NodeId> {
        self.children(id)
            .iter()
            .copied()
            .find(|&c| &*self.nodes[c].segment == segment)
    }

    /// The named children of an object or instance; none for tables and parameters.
    pub(crate) fn children(&self, id: NodeId) -> &[NodeId] {
        match &self.nodes[id].kind {
            NodeKind::Object { children } | NodeKind::Instance { children } => children,
            NodeKind::Table { .. } | NodeKind::Parameter(_) => &[],
        }
    }

    pub(crate) fn parameter(&self, id: NodeId) -> Option<&ParameterMeta> {
        match &self.nodes[id].kind {
            NodeKind::Parameter(meta) => Some(meta),
            _ => None,
        }
    }

    /// Every parameter node, in creation order.
    pub(crate) fn parameters(&self) -> impl Iterator<Item = (NodeId, &ParameterMeta)> {
        self.nodes
            .iter()
            .enumerate()
            .filter_map(|(id, n)| match &n.kind {
                NodeKind::Parameter(meta) => Some((id, &**meta)),
                _ => None,
            })
    }

    /// Makes sure object template `template` (ending in a dot; `{i}` segments make tables)
    /// and its ancestors exist, and returns its node.
    pub(crate) fn ensure_object(&mut self, template: &str) -> Result<NodeId, ShapeError> {
        let mut node = ROOT;
        let mut prefix = String::new();
        for segment in template.split('.').filter(|s| !s.is_empty()) {
            prefix.push_str(segment);
            prefix.push('.');
            node = self.step(node, segment, &prefix)?;
        }
        Ok(node)
    }

    /// Adds parameter `template` (replacing the metadata of one already there).
    pub(crate) fn add_parameter(
        &mut self,
        template: &str,
        meta: ParameterMeta,
    ) -> Result<NodeId, ShapeError> {
        let (parent_template, segment) = match template.rfind('.') {
            Some(i) => (&template[..=i], &template[i + 1..]),
            None => ("", template),
        };
        let parent = self.ensure_object(parent_template)?;
        if let Some(existing) = self.child(parent, segment) {
            return match &mut self.nodes[existing].kind {
                NodeKind::Parameter(old) => {
                    **old = meta;
                    Ok(existing)
                }
                _ => Err(ShapeError::ParameterAndObject(template.to_owned())),
            };
        }
        if matches!(self.nodes[parent].kind, NodeKind::Table { .. }) {
            return Err(ShapeError::MixedTable(parent_template.to_owned()));
        }
        let id = self.push(
            parent,
            template,
            segment,
            NodeKind::Parameter(Box::new(meta)),
        );
        self.attach(parent, id);
        Ok(id)
    }

    /// One step down from `node` to `segment`, creating what is missing.
    fn step(&mut self, node: NodeId, segment: &str, prefix: &str) -> Result<NodeId, ShapeError> {
        let parent_template = self.nodes[node].template.clone();
        if segment == "{i}" {
            match &self.nodes[node].kind {
                NodeKind::Table { instance, .. } => return Ok(*instance),
                NodeKind::Object { children } if children.is_empty() && node != ROOT => {}
                NodeKind::Parameter(_) => {
                    return Err(ShapeError::ParameterAndObject(parent_template.into()));
                }
                _ => return Err(ShapeError::MixedTable(parent_template.into())),
            }
            let instance = self.push(
                node,
                prefix,
                segment,
                NodeKind::Instance {
                    children: Vec::new(),
                },
            );
            self.nodes[node].kind = NodeKind::Table {
                instance,
                writable: false,
                max_instances: DEFAULT_MAX_INSTANCES,
            };
            return Ok(instance);
        }
        match &self.nodes[node].kind {
            NodeKind::Table { .. } => return Err(ShapeError::MixedTable(parent_template.into())),
            NodeKind::Parameter(_) => {
                return Err(ShapeError::ParameterAndObject(parent_template.into()));
            }
            NodeKind::Object { .. } | NodeKind::Instance { .. } => {}
        }
        if let Some(child) = self.child(node, segment) {
            if matches!(self.nodes[child].kind, NodeKind::Parameter(_)) {
                return Err(ShapeError::ParameterAndObject(prefix.to_owned()));
            }
            return Ok(child);
        }
        let id = self.push(
            node,
            prefix,
            segment,
            NodeKind::Object {
                children: Vec::new(),
            },
        );
        self.attach(node, id);
        Ok(id)
    }

    fn push(&mut self, parent: NodeId, template: &str, segment: &str, kind: NodeKind) -> NodeId {
        let id = self.nodes.len();
        self.nodes.push(Node {
            template: template.into(),
            segment: segment.into(),
            parent,
            kind,
        });
        self.index.insert(template.into(), id);
        id
    }

    fn attach(&mut self, parent: NodeId, child: NodeId) {
        if let NodeKind::Object { children } | NodeKind::Instance { children } =
            &mut self.nodes[parent].kind
        {
            children.push(child);
        }
    }
}

/// The most instances a table holds unless the profile says otherwise: a bound on what an
/// ACS can make a device allocate.
pub(crate) const DEFAULT_MAX_INSTANCES: u32 = 1024;

#[cfg(test)]
mod tests {
    use schemas::value::XsdType;

    use super::*;

    #[test]
    fn templates_build_objects_tables_and_instances() {
        let mut s = Schema::new();
        let p = s
            .add_parameter(
                "Device.WiFi.SSID.{i}.SSID",
                ParameterMeta::new(XsdType::String),
            )
            .unwrap();
        let table = s.lookup("Device.WiFi.SSID.").unwrap();
        assert!(matches!(s.node(table).kind, NodeKind::Table { .. }));
        let instance = s.lookup("Device.WiFi.SSID.{i}.").unwrap();
        assert_eq!(s.child(instance, "SSID"), Some(p));
        assert_eq!(s.ensure_object("Device.WiFi.SSID.{i}."), Ok(instance));
    }

    #[test]
    fn a_table_cannot_also_have_named_children_nor_a_parameter_children() {
        let mut s = Schema::new();
        s.ensure_object("Device.A.{i}.").unwrap();
        assert!(matches!(
            s.add_parameter("Device.A.B", ParameterMeta::new(XsdType::String)),
            Err(ShapeError::MixedTable(_))
        ));
        s.add_parameter("Device.C", ParameterMeta::new(XsdType::String))
            .unwrap();
        assert!(matches!(
            s.ensure_object("Device.C.D."),
            Err(ShapeError::ParameterAndObject(_))
        ));
        s.add_parameter("Device.E.F", ParameterMeta::new(XsdType::String))
            .unwrap();
        assert!(matches!(
            s.ensure_object("Device.E.{i}."),
            Err(ShapeError::MixedTable(_))
        ));
    }
}
