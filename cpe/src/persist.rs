//! Atomic, versioned state files: temp file, fsync, rename; damaged files set aside, never silently replaced.
