//! Devices, tasks, faults and files: the `Store` trait, SQLite and in-memory backends.
