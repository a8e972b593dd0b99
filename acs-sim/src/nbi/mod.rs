//! The northbound REST API (axum), GenieACS-compatible: devices, tasks, faults, files, tags.
