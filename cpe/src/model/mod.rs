//! The device data model: objects, parameters, attributes, profiles and backends.
