//! GenieACS `?query=` filters: the subset of MongoDB's query language that GenieACS's NBI passes
//! to MongoDB, parsed from JSON and evaluated in memory against a [`Document`].
//!
//! Supported: field equality (`{"a": v}`), `$and`, `$or`, and per field `$eq`, `$ne`, `$in`,
//! `$nin`, `$exists`, `$gt`, `$gte`, `$lt`, `$lte`. Anything else (`$regex`, `$nor`,
//! `$elemMatch`, ...) is refused with [`QueryError::UnsupportedOperator`] rather than ignored.
//!
//! Semantics follow MongoDB: a field with several values (an array such as `_tags`) matches a
//! condition when any value does, `$ne`/`$nin` are the negations of `$eq`/`$in`, and
//! `{"a": null}` matches a missing field. Like GenieACS (which converts query values to the
//! stored type before querying), the query value is coerced to the field's type: `"5"` matches
//! the number 5, `"true"` the boolean true, an ISO-8601 string or a number of milliseconds a
//! date. Values that cannot be coerced never match, and never fail.

use std::cmp::Ordering;
use std::str::FromStr;

use schemas::value::DateTime;
use serde_json::{Map, Value};

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    /// Every sub-query matches (an empty list matches everything).
    And(Vec<Self>),
    /// Some sub-query matches (an empty list matches nothing).
    Or(Vec<Self>),
    /// A condition on one field.
    Field {
        /// Dotted path, e.g. `_deviceId._SerialNumber` or `Device.DeviceInfo.SoftwareVersion`.
        path: String,
        /// What its value must satisfy.
        op: Op,
    },
}

/// A condition on a field's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// `$eq` (or a bare value).
    Eq(Scalar),
    /// `$ne`.
    Ne(Scalar),
    /// `$in`.
    In(Vec<Scalar>),
    /// `$nin`.
    Nin(Vec<Scalar>),
    /// `$exists`.
    Exists(bool),
    /// `$gt`, `$gte`, `$lt`, `$lte`: the comparison result must be one of `accept`.
    Compare {
        /// The operator's name, for messages.
        name: &'static str,
        /// The operand.
        value: Scalar,
        /// The orderings of field versus operand that satisfy it.
        accept: &'static [Ordering],
    },
}

/// A single value, on either side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// JSON `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// A number.
    Number(f64),
    /// Text.
    String(String),
    /// A point in time, in milliseconds since 1970 (fields only: queries spell dates as
    /// strings or numbers).
    Date(i64),
}

/// What a [`Document`] holds at a path.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    /// Nothing at that path.
    Missing,
    /// Something: its scalar values (none for an object or an empty array).
    Present(Vec<Scalar>),
}

/// Something a query can be evaluated against.
pub trait Document {
    /// The value(s) at a dotted path.
    fn field(&self, path: &str) -> Field;
}

/// Why a query was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The text is not JSON.
    #[error("query is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A query (or a sub-query of `$and`/`$or`) is not a JSON object.
    #[error("{at} must be a JSON object")]
    NotObject {
        /// Where, e.g. `query` or `$or[1]`.
        at: String,
    },
    /// An operator this implementation does not evaluate.
    #[error("unsupported operator {0}")]
    UnsupportedOperator(String),
    /// An operator's operand has the wrong shape.
    #[error("{op} on {path:?} needs {expected}")]
    BadOperand {
        /// The operator.
        op: String,
        /// The field.
        path: String,
        /// What it needs.
        expected: &'static str,
    },
}

const GT: &[Ordering] = &[Ordering::Greater];
const GTE: &[Ordering] = &[Ordering::Greater, Ordering::Equal];
const LT: &[Ordering] = &[Ordering::Less];
const LTE: &[Ordering] = &[Ordering::Less, Ordering::Equal];

impl Query {
    /// Parses query JSON text.
    pub fn parse(text: &str) -> Result<Self, QueryError> {
        let value: Value = serde_json::from_str(text)?;
        Self::from_value(&value, "query")
    }

    /// The query that matches everything.
    pub fn all() -> Self {
        Self::And(Vec::new())
    }

    fn from_value(value: &Value, at: &str) -> Result<Self, QueryError> {
        let object = value
            .as_object()
            .ok_or_else(|| QueryError::NotObject { at: at.to_owned() })?;
        let mut all = Vec::with_capacity(object.len());
        for (key, operand) in object {
            match key.as_str() {
                "$and" => all.push(Self::And(Self::list(key, operand)?)),
                "$or" => all.push(Self::Or(Self::list(key, operand)?)),
                op if op.starts_with('$') => {
                    return Err(QueryError::UnsupportedOperator(op.to_owned()));
                }
                path => Self::field(path, operand, &mut all)?,
            }
        }
        Ok(match all.len() {
            1 => all.pop().unwrap_or_else(Self::all),
            _ => Self::And(all),
        })
    }

    fn list(op: &str, operand: &Value) -> Result<Vec<Self>, QueryError> {
        let items = operand.as_array().ok_or_else(|| QueryError::NotObject {
            at: format!("{op} (an array of queries)"),
        })?;
        items
            .iter()
            .enumerate()
            .map(|(i, item)| Self::from_value(item, &format!("{op}[{i}]")))
            .collect()
    }

    /// Adds the conditions `{path: operand}` stands for to `out`.
    fn field(path: &str, operand: &Value, out: &mut Vec<Self>) -> Result<(), QueryError> {
        let Some(ops) = operand.as_object().filter(|o| is_operator_object(o)) else {
            let value = scalar(operand).ok_or_else(|| bad(path, "$eq", "a scalar value"))?;
            out.push(Self::Field {
                path: path.to_owned(),
                op: Op::Eq(value),
            });
            return Ok(());
        };
        for (name, value) in ops {
            let op = match name.as_str() {
                "$eq" => Op::Eq(scalar(value).ok_or_else(|| bad(path, name, "a scalar"))?),
                "$ne" => Op::Ne(scalar(value).ok_or_else(|| bad(path, name, "a scalar"))?),
                "$in" => Op::In(scalars(value).ok_or_else(|| bad(path, name, "an array"))?),
                "$nin" => Op::Nin(scalars(value).ok_or_else(|| bad(path, name, "an array"))?),
                "$exists" => Op::Exists(
                    value
                        .as_bool()
                        .ok_or_else(|| bad(path, name, "true or false"))?,
                ),
                "$gt" => compare(path, "$gt", value, GT)?,
                "$gte" => compare(path, "$gte", value, GTE)?,
                "$lt" => compare(path, "$lt", value, LT)?,
                "$lte" => compare(path, "$lte", value, LTE)?,
                other => return Err(QueryError::UnsupportedOperator(other.to_owned())),
            };
            out.push(Self::Field {
                path: path.to_owned(),
                op,
            });
        }
        Ok(())
    }

    /// Whether `doc` matches.
    pub fn matches(&self, doc: &impl Document) -> bool {
        match self {
            Self::And(all) => all.iter().all(|q| q.matches(doc)),
            Self::Or(any) => any.iter().any(|q| q.matches(doc)),
            Self::Field { path, op } => op.matches(&doc.field(path)),
        }
    }

    /// The equality conditions every match must satisfy (top-level conjuncts), for narrowing a
    /// store lookup before evaluating the whole query.
    pub fn required_equalities(&self) -> Vec<(&str, &Scalar)> {
        match self {
            Self::And(all) => all.iter().flat_map(Self::required_equalities).collect(),
            Self::Field {
                path,
                op: Op::Eq(value),
            } => vec![(path.as_str(), value)],
            Self::Or(_) | Self::Field { .. } => Vec::new(),
        }
    }
}

/// `{"$gt": 1}` is an operator object; `{"a": 1}` is an object value (refused later: GenieACS
/// fields are scalars).
fn is_operator_object(object: &Map<String, Value>) -> bool {
    object.keys().next().is_some_and(|k| k.starts_with('$'))
}

fn bad(path: &str, op: &str, expected: &'static str) -> QueryError {
    QueryError::BadOperand {
        op: op.to_owned(),
        path: path.to_owned(),
        expected,
    }
}

fn compare(
    path: &str,
    name: &'static str,
    value: &Value,
    accept: &'static [Ordering],
) -> Result<Op, QueryError> {
    match scalar(value) {
        Some(value) if value != Scalar::Null => Ok(Op::Compare {
            name,
            value,
            accept,
        }),
        _ => Err(bad(path, name, "a number or a string")),
    }
}

/// A JSON scalar as a [`Scalar`]; `None` for objects and arrays.
pub fn scalar(value: &Value) -> Option<Scalar> {
    Some(match value {
        Value::Null => Scalar::Null,
        Value::Bool(b) => Scalar::Bool(*b),
        Value::Number(n) => Scalar::Number(n.as_f64()?),
        Value::String(s) => Scalar::String(s.clone()),
        Value::Array(_) | Value::Object(_) => return None,
    })
}

fn scalars(value: &Value) -> Option<Vec<Scalar>> {
    value.as_array()?.iter().map(scalar).collect()
}

impl Op {
    fn matches(&self, field: &Field) -> bool {
        match self {
            Self::Eq(value) => equals(field, value),
            Self::Ne(value) => !equals(field, value),
            Self::In(values) => values.iter().any(|v| equals(field, v)),
            Self::Nin(values) => !values.iter().any(|v| equals(field, v)),
            Self::Exists(wanted) => matches!(field, Field::Present(_)) == *wanted,
            Self::Compare { value, accept, .. } => match field {
                Field::Missing => false,
                Field::Present(values) => values
                    .iter()
                    .any(|v| cmp(v, value).is_some_and(|o| accept.contains(&o))),
            },
        }
    }
}

fn equals(field: &Field, value: &Scalar) -> bool {
    match field {
        Field::Missing => *value == Scalar::Null,
        Field::Present(values) => values
            .iter()
            .any(|v| cmp(v, value) == Some(Ordering::Equal)),
    }
}

/// Orders a field value against a query value coerced to the field's type; `None` when they
/// are not comparable.
fn cmp(field: &Scalar, query: &Scalar) -> Option<Ordering> {
    match (field, query) {
        (Scalar::Null, Scalar::Null) => Some(Ordering::Equal),
        (Scalar::Bool(a), Scalar::Bool(b)) => Some(a.cmp(b)),
        (Scalar::Bool(a), Scalar::String(s)) => parse_bool(s).map(|b| a.cmp(&b)),
        (Scalar::Number(a), Scalar::Number(b)) => a.partial_cmp(b),
        (Scalar::Number(a), Scalar::String(s)) => {
            s.trim().parse::<f64>().ok().and_then(|b| a.partial_cmp(&b))
        }
        (Scalar::Date(a), Scalar::Date(b)) => Some(a.cmp(b)),
        // Millisecond counts fit f64 exactly far beyond any stored date.
        (Scalar::Date(a), Scalar::Number(b)) => (*a as f64).partial_cmp(b),
        (Scalar::Date(a), Scalar::String(s)) => parse_date_ms(s).map(|b| a.cmp(&b)),
        (Scalar::String(a), Scalar::String(b)) => Some(a.as_str().cmp(b)),
        _ => None,
    }
}

/// `true`/`false` and the xsd:boolean spellings `1`/`0`.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text.trim() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

/// An ISO-8601 / xsd:dateTime text as milliseconds since 1970.
pub fn parse_date_ms(text: &str) -> Option<i64> {
    let time = DateTime::from_str(text.trim()).ok()?;
    Some(time.unix_seconds() * 1000 + i64::from(time.nanosecond() / 1_000_000))
}

impl Document for Value {
    /// MongoDB path semantics over JSON: objects are descended by key, arrays are descended
    /// element by element, and an array at the end contributes all its scalar elements.
    fn field(&self, path: &str) -> Field {
        let segments: Vec<&str> = path.split('.').collect();
        let mut found = false;
        let mut values = Vec::new();
        collect(self, &segments, &mut found, &mut values);
        if found {
            Field::Present(values)
        } else {
            Field::Missing
        }
    }
}

fn collect(value: &Value, segments: &[&str], found: &mut bool, out: &mut Vec<Scalar>) {
    let Some((segment, rest)) = segments.split_first() else {
        *found = true;
        match value {
            Value::Array(items) => out.extend(items.iter().filter_map(scalar)),
            other => out.extend(scalar(other)),
        }
        return;
    };
    match value {
        Value::Object(map) => {
            if let Some(child) = map.get(*segment) {
                collect(child, rest, found, out);
            }
        }
        // An array does not consume a segment: it applies to each element.
        Value::Array(items) => {
            for item in items.iter().filter(|i| i.is_object()) {
                collect(item, segments, found, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn q(text: &str) -> Query {
        Query::parse(text).unwrap()
    }

    fn doc() -> Value {
        json!({
            "_id": "A-B-C",
            "_tags": ["lab", "east"],
            "n": 5,
            "s": "abc",
            "b": true,
            "nested": {"x": {"_value": "v"}},
            "list": [{"k": 1}, {"k": 2}],
        })
    }

    #[test]
    fn equality_and_array_membership() {
        let d = doc();
        assert!(q(r#"{"_id": "A-B-C"}"#).matches(&d));
        assert!(!q(r#"{"_id": "A-B-D"}"#).matches(&d));
        assert!(q(r#"{"_tags": "lab"}"#).matches(&d));
        assert!(!q(r#"{"_tags": "west"}"#).matches(&d));
        assert!(q(r#"{"nested.x._value": "v"}"#).matches(&d));
        assert!(q(r#"{"list.k": 2}"#).matches(&d));
        assert!(q(r#"{"absent": null}"#).matches(&d));
        assert!(q("{}").matches(&d));
    }

    #[test]
    fn operators() {
        let d = doc();
        assert!(q(r#"{"_tags": {"$ne": "west"}}"#).matches(&d));
        assert!(!q(r#"{"_tags": {"$ne": "lab"}}"#).matches(&d));
        assert!(q(r#"{"_tags": {"$in": ["x", "east"]}}"#).matches(&d));
        assert!(q(r#"{"_tags": {"$nin": ["x", "y"]}}"#).matches(&d));
        assert!(q(r#"{"n": {"$gt": 4, "$lte": 5}}"#).matches(&d));
        assert!(!q(r#"{"n": {"$lt": 5}}"#).matches(&d));
        assert!(q(r#"{"s": {"$gte": "abc", "$lt": "abd"}}"#).matches(&d));
        assert!(q(r#"{"nested": {"$exists": true}, "gone": {"$exists": false}}"#).matches(&d));
        assert!(q(r#"{"$or": [{"n": 1}, {"b": true}]}"#).matches(&d));
        assert!(!q(r#"{"$and": [{"n": 5}, {"b": false}]}"#).matches(&d));
        assert!(!q(r#"{"$or": []}"#).matches(&d));
    }

    #[test]
    fn query_values_are_coerced_to_the_field_type() {
        let d = doc();
        assert!(q(r#"{"n": "5"}"#).matches(&d));
        assert!(q(r#"{"n": {"$gt": "4.5"}}"#).matches(&d));
        assert!(q(r#"{"b": "true"}"#).matches(&d));
        assert!(!q(r#"{"s": 5}"#).matches(&d));
        assert!(!q(r#"{"n": {"$gt": "many"}}"#).matches(&d));
        let at = Field::Present(vec![Scalar::Date(1_700_000_000_000)]);
        assert!(Op::Eq(Scalar::String("2023-11-14T22:13:20Z".into())).matches(&at));
        assert!(Op::Eq(Scalar::Number(1_700_000_000_000.0)).matches(&at));
        let later = Scalar::String("2023-11-14T22:13:20.001Z".into());
        assert!(
            compare("t", "$lt", &json!("2023-11-14T22:13:20.001Z"), LT)
                .unwrap()
                .matches(&at)
        );
        assert!(!Op::Eq(later).matches(&at));
    }

    #[test]
    fn refusals_name_the_problem() {
        let message = |text: &str| Query::parse(text).unwrap_err().to_string();
        assert!(message("{").starts_with("query is not valid JSON"));
        assert_eq!(message("[]"), "query must be a JSON object");
        assert_eq!(
            message(r#"{"a": {"$regex": "^x"}}"#),
            "unsupported operator $regex"
        );
        assert_eq!(message(r#"{"$nor": []}"#), "unsupported operator $nor");
        assert_eq!(message(r#"{"$or": [1]}"#), "$or[0] must be a JSON object");
        assert_eq!(
            message(r#"{"a": {"$in": 3}}"#),
            r#"$in on "a" needs an array"#
        );
        assert_eq!(
            message(r#"{"a": {"$gt": null}}"#),
            r#"$gt on "a" needs a number or a string"#
        );
        assert_eq!(
            message(r#"{"a": [1, 2]}"#),
            r#"$eq on "a" needs a scalar value"#
        );
    }

    #[test]
    fn required_equalities_are_the_top_level_conjuncts() {
        let query =
            q(r#"{"_id": "x", "$and": [{"_tags": "t"}], "$or": [{"a": 1}], "n": {"$gt": 1}}"#);
        let mut eqs = query.required_equalities();
        eqs.sort_by_key(|(path, _)| *path);
        assert_eq!(
            eqs,
            vec![
                ("_id", &Scalar::String("x".into())),
                ("_tags", &Scalar::String("t".into())),
            ]
        );
    }

    fn arb_scalar() -> impl Strategy<Value = Value> {
        prop_oneof![
            (0i64..4).prop_map(Value::from),
            "[ab]{0,2}".prop_map(Value::from),
            any::<bool>().prop_map(Value::from),
            Just(Value::Null),
        ]
    }

    fn arb_doc() -> impl Strategy<Value = Value> {
        proptest::collection::btree_map(
            "[fg]",
            prop_oneof![
                arb_scalar(),
                proptest::collection::vec(arb_scalar(), 0..3).prop_map(Value::from)
            ],
            0..3,
        )
        .prop_map(|m| Value::Object(m.into_iter().collect()))
    }

    fn arb_field_query() -> impl Strategy<Value = (String, Value)> {
        ("[fgh]", arb_scalar())
    }

    proptest! {
        /// The operators agree with their definitions in terms of equality and each other.
        #[test]
        fn operator_laws(d in arb_doc(), (f, v) in arb_field_query(), (g, w) in arb_field_query()) {
            let single = |op: &str, operand: &Value| {
                Query::from_value(&json!({ &f: { op: operand } }), "q").unwrap().matches(&d)
            };
            let eq_v = single("$eq", &v);
            prop_assert_eq!(Query::from_value(&json!({ &f: &v }), "q").unwrap().matches(&d), eq_v);
            prop_assert_eq!(single("$ne", &v), !eq_v);
            let eq_w = Query::from_value(&json!({ &f: &w }), "q").unwrap().matches(&d);
            let both = json!([v.clone(), w.clone()]);
            prop_assert_eq!(single("$in", &both), eq_v || eq_w);
            prop_assert_eq!(single("$nin", &both), !(eq_v || eq_w));
            if v != Value::Null {
                prop_assert_eq!(single("$gte", &v), single("$gt", &v) || eq_v);
                prop_assert_eq!(single("$lte", &v), single("$lt", &v) || eq_v);
            }
            let a = json!({ &f: &v });
            let b = json!({ &g: &w });
            let a_m = Query::from_value(&a, "q").unwrap().matches(&d);
            let b_m = Query::from_value(&b, "q").unwrap().matches(&d);
            prop_assert_eq!(Query::from_value(&json!({"$and": [&a, &b]}), "q").unwrap().matches(&d), a_m && b_m);
            prop_assert_eq!(Query::from_value(&json!({"$or": [&a, &b]}), "q").unwrap().matches(&d), a_m || b_m);
            prop_assert_eq!(single("$exists", &json!(true)), d.get(&f).is_some());
        }
    }
}
