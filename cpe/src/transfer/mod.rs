//! The Download / Upload engine and TransferComplete (TR-069 Amd 6 A.3.2.8, A.4.1.5, A.4.1.8).
