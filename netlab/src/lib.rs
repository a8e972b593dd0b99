//! Disposable network namespaces with a real DHCP server, for labs and tests of DHCP-driven
//! zero-touch provisioning (TR-069 §3.1).
//!
//! A [`Testbed`] is two fresh network namespaces joined by a veth pair: the *server* side
//! ([`SERVER_IF`], [`SERVER_V4`]/24 and [`SERVER_V6`]/64) where a DHCP server ([`Dnsmasq`],
//! [`Kea`], [`Dhcpd`]) and an ACS listen, and the *CPE* side ([`CPE_IF`], up, no IPv4
//! address) where a DHCP client asks. Every testbed has the same addresses: namespaces keep
//! them apart. Dropping the testbed (even
//! while a test panics) kills every process left in its namespaces and deletes them; a
//! testbed left behind by a killed process is swept at the next [`Testbed::create`].
//!
//! Code runs inside a namespace either as a process ([`Namespace::command`], `ip netns
//! exec`) or on a thread that entered it ([`Namespace::spawn`]): every socket that thread
//! opens belongs to the namespace, and keeps belonging to it when handed to other threads.
//!
//! Namespaces need root (`CAP_SYS_ADMIN`) and iproute2; [`Error::is_unavailable`] tells a
//! machine that cannot from a testbed that failed.

mod daemon;
mod dnsmasq;
mod error;
mod isc;
mod namespace;
mod testbed;

pub use dnsmasq::Dnsmasq;
pub use error::Error;
pub use isc::{Dhcpd, Kea};
pub use namespace::{Namespace, NsThread};
pub use testbed::{CPE_IF, CPE_V4, SERVER_IF, SERVER_V4, SERVER_V6, Testbed, installed};
