//! The sans-IO ACS session state machine (TR-069 Amd 6 §3.7, ACS side).
