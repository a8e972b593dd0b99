//! The event queue, session retry back-off, periodic and scheduled informs (§3.2.1, §3.7.1.5).
