//! Handlers of the ACS->CPE methods against the data model (TR-069 Amd 6 Annex A).
