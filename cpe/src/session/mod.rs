//! The sans-IO CPE session state machine (TR-069 Amd 6 §3.7).
