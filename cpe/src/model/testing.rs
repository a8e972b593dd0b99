//! Test fixtures shared by the model's and the RPC handlers' tests: a profile that does not
//! depend on the TR-181 table's content, a fake host and fake commands.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use schemas::value::DateTime;

use super::{CommandError, Commands, DataModel, Host, Profile};

/// Every field that matters is declared, so the TR-181 table adds nothing the tests see.
pub(crate) const PROFILE: &str = r#"
[profile]
name = "test"

[[parameter]]
name = "Device.ManagementServer.ParameterKey"
type = "string"
writable = false
forced_inform = true
active_notify = "canDeny"
max_length = 32

[[parameter]]
name = "Device.ManagementServer.Password"
type = "string"
writable = true
hidden = true
forced_inform = false
active_notify = "normal"
max_length = 256
value = "secret"

[[parameter]]
name = "Device.DeviceInfo.SoftwareVersion"
type = "string"
writable = false
forced_inform = true
active_notify = "forceEnabled"
computed = "software_version"
value = "1.0"

[[parameter]]
name = "Device.DeviceInfo.UpTime"
type = "unsignedInt"
writable = false
forced_inform = false
active_notify = "canDeny"
computed = "uptime"

[[parameter]]
name = "Device.X_TEST_Box.Name"
type = "string"
writable = true
max_length = 16
value = "box"

[[parameter]]
name = "Device.X_TEST_Box.Port"
type = "unsignedInt"
writable = true
min = 1
max = 65535
value = 443

[[parameter]]
name = "Device.X_TEST_Box.Keepalive"
type = "unsignedInt"
writable = true
min = 10
max = 600
value = 180

[[parameter]]
name = "Device.X_TEST_Box.Mode"
type = "string"
writable = true
enumeration = ["A", "B"]
value = "A"

[[parameter]]
name = "Device.X_TEST_Box.Serial"
type = "string"
writable = false
forced_inform = true
value = "S1"

[[parameter]]
name = "Device.X_TEST_Box.WanAddress"
type = "string"
writable = true
apply = "deferred"
value = "192.0.2.1"

[[parameter]]
name = "Device.X_TEST_Box.Temperature"
type = "int"
writable = false
get = ["sensor", "{name}"]
value = 20

[[parameter]]
name = "Device.X_TEST_Box.Led"
type = "string"
writable = true
get = ["led-get"]
set = ["led-set", "{value}"]
value = "off"

[[parameter]]
name = "Device.X_TEST_Box.RuleNumberOfEntries"
type = "unsignedInt"
writable = false

[[object]]
name = "Device.X_TEST_Box.Rule.{i}."
writable = true
instances = [1, 2]

[[parameter]]
name = "Device.X_TEST_Box.Rule.{i}.Alias"
type = "string"
writable = true
max_length = 64

[[parameter]]
name = "Device.X_TEST_Box.Rule.{i}.Enable"
type = "boolean"
writable = true
value = false

[[parameter]]
name = "Device.X_TEST_Box.Rule.{i}.Port"
type = "unsignedInt"
writable = true
min = 0
max = 65535
value = 0

[[object]]
name = "Device.X_TEST_Box.Rule.{i}.Sub.{i}."
writable = true
instances = ["Device.X_TEST_Box.Rule.1.Sub.1."]

[[parameter]]
name = "Device.X_TEST_Box.Rule.{i}.Sub.{i}.Value"
type = "string"
writable = true
value = "v"

[[object]]
name = "Device.X_TEST_Box.Slot.{i}."
writable = false
instances = [1]

[[parameter]]
name = "Device.X_TEST_Box.Slot.{i}.Label"
type = "string"
writable = true
value = "slot"

[[object]]
name = "Device.X_TEST_Box.Empty.{i}."
writable = true
instances = []
max_instances = 3

[[parameter]]
name = "Device.X_TEST_Box.Empty.{i}.Note"
type = "string"
writable = true
value = "new"

[values]
"Device.X_TEST_Box.Rule.1.Alias" = "web"
"Device.X_TEST_Box.Rule.1.Port" = 8080
"Device.X_TEST_Box.Rule.2.Port" = 22
"#;

/// A host whose facts the test sets.
#[derive(Debug, Default)]
pub(crate) struct FakeHost {
    pub(crate) uptime: AtomicU32,
    pub(crate) version: Mutex<Option<String>>,
}

impl Host for FakeHost {
    fn uptime(&self) -> u32 {
        self.uptime.load(Ordering::SeqCst)
    }

    fn now(&self) -> DateTime {
        DateTime::from_unix(1_700_000_000, 0).unwrap_or(DateTime::UNKNOWN)
    }

    fn software_version(&self) -> Option<String> {
        self.version.lock().map(|v| v.clone()).unwrap_or(None)
    }

    fn interface_address(&self, interface: &str) -> Option<String> {
        (interface == "eth0").then(|| "192.0.2.7".to_owned())
    }
}

/// Commands whose output the test sets per program, recording every call.
#[derive(Debug, Default)]
pub(crate) struct FakeCommands {
    pub(crate) outputs: Mutex<HashMap<String, Result<String, CommandError>>>,
    pub(crate) calls: Mutex<Vec<Vec<String>>>,
}

impl FakeCommands {
    pub(crate) fn answer(&self, program: &str, output: Result<&str, CommandError>) {
        self.outputs
            .lock()
            .unwrap()
            .insert(program.to_owned(), output.map(str::to_owned));
    }

    pub(crate) fn calls(&self) -> Vec<Vec<String>> {
        self.calls.lock().unwrap().clone()
    }
}

impl Commands for FakeCommands {
    fn run(&self, argv: &[String]) -> Result<String, CommandError> {
        self.calls.lock().unwrap().push(argv.to_vec());
        let program = argv.first().cloned().unwrap_or_default();
        self.outputs
            .lock()
            .unwrap()
            .get(&program)
            .cloned()
            .unwrap_or(Ok(String::new()))
    }
}

/// The test profile, loaded.
pub(crate) fn profile() -> Arc<Profile> {
    Arc::new(Profile::from_toml(PROFILE, "test.toml").unwrap())
}

/// A device of the test profile with a fake host and fake commands (`sensor` prints 21,
/// `led-get` prints `on`).
pub(crate) fn device() -> (DataModel, Arc<FakeHost>, Arc<FakeCommands>) {
    let host = Arc::new(FakeHost::default());
    host.uptime.store(100, Ordering::SeqCst);
    let commands = Arc::new(FakeCommands::default());
    commands.answer("sensor", Ok("21\n"));
    commands.answer("led-get", Ok("on"));
    let model = DataModel::new(profile())
        .with_host(host.clone())
        .with_commands(commands.clone());
    (model, host, commands)
}
