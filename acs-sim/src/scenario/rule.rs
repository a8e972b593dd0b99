//! One scenario rule, checked: which Informs it matches and the jobs it gives.

use schemas::rpc::types::ParameterValueStruct;
use schemas::rpc::{EventCode, ParameterKey};

use super::typing::Typed;
use crate::job::SetValues;
use crate::job::{Discovery, Job};
use crate::provision::{DeviceContext, random_credentials};
use crate::store::Credentials;

/// The data model roots a path may start with; any other path is relative to the device's root.
const ROOTS: [&str; 2] = ["Device.", "InternetGatewayDevice."];

/// `ManagementServer.` parameters the rule fields set (relative to the root).
pub(super) const PERIODIC_ENABLE: &str = "ManagementServer.PeriodicInformEnable";
pub(super) const PERIODIC_INTERVAL: &str = "ManagementServer.PeriodicInformInterval";
pub(super) const CR_USERNAME: &str = "ManagementServer.ConnectionRequestUsername";
pub(super) const CR_PASSWORD: &str = "ManagementServer.ConnectionRequestPassword";
pub(super) const ACS_URL: &str = "ManagementServer.URL";

/// A checked rule (see the module docs for the fields).
#[derive(Debug)]
pub(super) struct Rule {
    pub(super) name: String,
    pub(super) key: ParameterKey,
    /// Any of these must be in the Inform; empty matches every Inform.
    pub(super) events: Vec<EventCode>,
    pub(super) device: DeviceMatch,
    /// Paths to read before setting values.
    pub(super) refresh: Vec<String>,
    /// Values set in the rule's SetParameterValues, paths as written.
    pub(super) values: Vec<(String, Typed)>,
    pub(super) credentials: Option<CredentialsSpec>,
    /// Where to re-point the CPE (`ManagementServer.URL`), last in the session.
    pub(super) acs_url: Option<String>,
}

/// Exact matches on the Inform's DeviceIdStruct (TR-069 Amd 6 Table 39); `None` matches any.
#[derive(Debug, Default)]
pub(super) struct DeviceMatch {
    pub(super) manufacturer: Option<String>,
    pub(super) oui: Option<String>,
    pub(super) product_class: Option<String>,
    pub(super) serial: Option<String>,
}

/// The Connection Request credentials a rule provisions (TR-069 §3.2.2).
#[derive(Debug)]
pub(super) enum CredentialsSpec {
    /// 16 fresh random alphanumerics each, every time the rule runs.
    Random,
    /// These.
    Fixed(Credentials),
}

/// `path` as a full name under `root`: as written if it starts with a data model root.
pub(super) fn absolute(root: &str, path: &str) -> String {
    if is_absolute(path) {
        path.to_owned()
    } else {
        format!("{root}{path}")
    }
}

/// Whether `path` starts with a data model root.
pub(super) fn is_absolute(path: &str) -> bool {
    ROOTS.iter().any(|root| path.starts_with(root))
}

/// `path` without its data model root: the name two spellings of one parameter share.
pub(super) fn relative(path: &str) -> &str {
    ROOTS
        .iter()
        .find_map(|root| path.strip_prefix(root))
        .unwrap_or(path)
}

impl Rule {
    /// Whether the rule applies to this Inform.
    pub(super) fn matches(&self, device: &DeviceContext<'_>) -> bool {
        let id = &device.informed.inform.device_id;
        let same = |want: &Option<String>, got: &str| want.as_deref().is_none_or(|w| w == got);
        (self.events.is_empty() || self.events.iter().any(|e| device.has_event(&e.as_str())))
            && same(&self.device.manufacturer, &id.manufacturer)
            && same(&self.device.oui, &id.oui)
            && same(&self.device.product_class, &id.product_class)
            && same(&self.device.serial, &id.serial_number)
    }

    /// The rule's jobs for `device`: a discovery of `refresh`, then one SetParameterValues.
    pub(super) fn jobs(&self, device: &DeviceContext<'_>) -> Vec<Box<dyn Job>> {
        let root = device.root;
        let mut jobs: Vec<Box<dyn Job>> = Vec::new();
        if !self.refresh.is_empty() {
            jobs.push(Box::new(Discovery::new(
                format!("{}: refresh", self.name),
                self.refresh.iter().map(|path| absolute(root, path)),
                device.partial_paths(),
            )));
        }
        let mut parameters: Vec<ParameterValueStruct> = self
            .values
            .iter()
            .map(|(path, value)| {
                let name = absolute(root, path);
                let value = value.get(name.starts_with("Device.")).clone();
                ParameterValueStruct::new(name, value)
            })
            .collect();
        let credentials = self.credentials.as_ref().map(|spec| match spec {
            CredentialsSpec::Random => random_credentials(),
            CredentialsSpec::Fixed(credentials) => credentials.clone(),
        });
        if let Some(credentials) = &credentials {
            parameters.push(ParameterValueStruct::new(
                absolute(root, CR_USERNAME),
                credentials.username.as_str(),
            ));
            parameters.push(ParameterValueStruct::new(
                absolute(root, CR_PASSWORD),
                credentials.password.as_str(),
            ));
        }
        if !parameters.is_empty() {
            let set = SetValues::new(
                format!("{}: setParameterValues", self.name),
                parameters,
                self.key.clone(),
            );
            jobs.push(Box::new(match credentials {
                Some(credentials) => set.provisioning(credentials),
                None => set,
            }));
        }
        jobs
    }

    /// The job that re-points the CPE to [`Rule::acs_url`], if the rule has one. Changing the
    /// URL makes the CPE bootstrap with the new ACS (TR-069 §3.7.1.5, `0 BOOTSTRAP`), so it
    /// is the session's last job.
    pub(super) fn repoint(&self, device: &DeviceContext<'_>) -> Option<Box<dyn Job>> {
        let url = self.acs_url.as_deref()?;
        Some(Box::new(SetValues::new(
            format!("{}: re-point to {url}", self.name),
            vec![ParameterValueStruct::new(
                absolute(device.root, ACS_URL),
                url,
            )],
            self.key.clone(),
        )))
    }
}
