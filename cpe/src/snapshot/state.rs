//! The CPE agent's snapshot (kind `cpe-state`): what `cpe backup` writes, `cpe restore` puts
//! back, and the agent sends and accepts as its "Vendor Configuration File" (TR-069 Amd 6
//! A.3.2.8 Download `3`, A.4.1.5 Upload `1`).
//!
//! The content is the JSON of [`CpeState`]: the data of the four state files of the state
//! directory (`model.json`, `events.json`, `agent.json`, `transfers.json`, [`crate::persist`]).
//! The identity is the device's `DeviceId` (A.3.3.1): ManufacturerOUI, ProductClass,
//! SerialNumber.
//!
//! A restore is atomic across the four files: the snapshot is first written whole as a
//! journal (`restore.journal`) in the state directory, then each file is written atomically,
//! then the journal is removed. An agent starting with a journal present completes it first
//! ([`complete_journal`]), so a crash mid-restore rolls forward, never half back.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use schemas::rpc::types::DeviceIdStruct;
use serde::{Deserialize, Serialize};

use super::{Corrupt, Foreign, Kind, Snapshot, describe};
use crate::agent::AgentState;
use crate::events::EventsState;
use crate::model::ModelState;
use crate::persist::{self, Damage, PersistError};
use crate::transfer::TransferQueue;

/// The journal a restore writes before it touches the state files.
pub const JOURNAL: &str = "restore.journal";

/// The state files a snapshot holds, by their name in the state directory.
const MODEL: &str = "model.json";
const EVENTS: &str = "events.json";
const AGENT: &str = "agent.json";
const TRANSFERS: &str = "transfers.json";

/// The content of a CPE snapshot: the data of each state file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CpeState {
    /// `model.json`: the data model's differences from the profile.
    pub model: ModelState,
    /// `events.json`: pending events, retries, schedules.
    pub events: EventsState,
    /// `agent.json`: the agent's own state.
    pub agent: AgentState,
    /// `transfers.json`: queued transfers.
    pub transfers: TransferQueue,
}

/// The snapshot identity of a device: `oui`, `product_class`, `serial` (A.3.3.1 DeviceId).
pub fn identity(device: &DeviceIdStruct) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("oui".to_owned(), device.oui.clone()),
        ("product_class".to_owned(), device.product_class.clone()),
        ("serial".to_owned(), device.serial_number.clone()),
    ])
}

impl CpeState {
    /// A snapshot of this state taken now, belonging to `identity`.
    pub fn snapshot(&self, identity: BTreeMap<String, String>) -> Snapshot {
        // The state types are maps with string keys and plain values: they always encode.
        let content = serde_json::to_vec(self).unwrap_or_default();
        Snapshot::now(Kind::CpeState, identity, content)
    }

    /// The state a sound snapshot holds; refuses another kind or content that does not fit.
    pub fn from_snapshot(snapshot: &Snapshot) -> Result<Self, SnapshotError> {
        if snapshot.kind != Kind::CpeState {
            return Err(SnapshotError::Foreign(Foreign::Kind {
                expected: Kind::CpeState,
                found: snapshot.kind,
            }));
        }
        serde_json::from_slice(&snapshot.content).map_err(|e| SnapshotError::Content(e.to_string()))
    }

    /// Reads the state files of a stopped agent's `state_dir`, leaving damaged ones in place.
    pub fn read_dir(state_dir: &Path) -> Result<Self, SnapshotError> {
        Ok(Self {
            model: read_file(state_dir, MODEL)?,
            events: read_file(state_dir, EVENTS)?,
            agent: read_file(state_dir, AGENT)?,
            transfers: read_file(state_dir, TRANSFERS)?,
        })
    }

    /// Writes each state file into `state_dir`, atomically one by one.
    fn write_dir(&self, state_dir: &Path) -> Result<(), PersistError> {
        persist::save(&state_dir.join(EVENTS), &self.events)?;
        persist::save(&state_dir.join(MODEL), &self.model)?;
        persist::save(&state_dir.join(AGENT), &self.agent)?;
        persist::save(&state_dir.join(TRANSFERS), &self.transfers)
    }
}

fn read_file<T: serde::de::DeserializeOwned>(dir: &Path, name: &str) -> Result<T, SnapshotError> {
    let path = dir.join(name);
    match persist::read(&path) {
        Ok(Some(value)) => Ok(value),
        Ok(None) => Err(SnapshotError::NoState { path }),
        Err(damage) => Err(SnapshotError::Damaged { path, damage }),
    }
}

/// Why a CPE snapshot could not be taken, checked or restored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The snapshot file is corrupt.
    #[error("the snapshot is corrupt: {0}")]
    Corrupt(#[from] Corrupt),
    /// The snapshot is sound but not this device's (or not a CPE's).
    #[error("{0}; restore it anyway with --force")]
    Foreign(Foreign),
    /// The snapshot is sound but its content is not the agent's state.
    #[error("the snapshot's content is not a CPE state: {0}")]
    Content(String),
    /// A state file is missing: the directory holds no agent state.
    #[error("no agent state to back up: {} does not exist", path.display())]
    NoState {
        /// The missing file.
        path: PathBuf,
    },
    /// A state file is damaged.
    #[error("state file {} is damaged: {damage}", path.display())]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        damage: Damage,
    },
    /// `agent.json` records no identity (written by a version before snapshots).
    #[error(
        "{} records no device identity; start the agent once, or back it up while it runs",
        path.display()
    )]
    NoIdentity {
        /// `agent.json`.
        path: PathBuf,
    },
    /// An agent runs on the state directory.
    #[error(
        "an agent is running with state directory {}; stop it first",
        dir.display()
    )]
    AgentRunning {
        /// The state directory.
        dir: PathBuf,
    },
    /// The identity of the device in the state directory cannot be read.
    #[error(
        "cannot tell whose state {} holds ({reason}); name the device with --serial or restore anyway with --force",
        dir.display()
    )]
    UnknownOwner {
        /// The state directory.
        dir: PathBuf,
        /// Why.
        reason: String,
    },
    /// The running agent refused the backup.
    #[error("the agent refused the backup: {0}")]
    Refused(String),
    /// The control socket failed.
    #[error(transparent)]
    Control(crate::control::ControlError),
    /// Writing the journal or a state file failed.
    #[error(transparent)]
    Write(#[from] PersistError),
    /// Reading or removing the journal failed.
    #[error("restore journal {}: {source}", path.display())]
    Journal {
        /// The journal.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

/// `cpe backup`: the snapshot of the agent of `state_dir`, from the running agent over the
/// control socket (consistent: taken under its lock), or from the state files when none runs.
/// Returns the encoded bytes, verified.
pub async fn backup(state_dir: &Path) -> Result<Vec<u8>, SnapshotError> {
    use crate::control::{self, ControlError, Request, Response};
    let bytes = match control::request(state_dir, &Request::Backup).await {
        Ok(Response::Backup { snapshot }) => snapshot.into_bytes(),
        Ok(Response::Error { message }) => return Err(SnapshotError::Refused(message)),
        Ok(other) => {
            return Err(SnapshotError::Refused(format!(
                "the agent answered {other:?} instead of a snapshot"
            )));
        }
        Err(ControlError::NotRunning { .. }) => from_dir(state_dir)?.encode(),
        Err(e) => return Err(SnapshotError::Control(e)),
    };
    Snapshot::decode(&bytes)?;
    Ok(bytes)
}

/// A stopped agent's snapshot, from its state files; the identity is the one `agent.json`
/// recorded at its last start.
pub fn from_dir(state_dir: &Path) -> Result<Snapshot, SnapshotError> {
    let state = CpeState::read_dir(state_dir)?;
    if state.agent.device.is_empty() {
        return Err(SnapshotError::NoIdentity {
            path: state_dir.join(AGENT),
        });
    }
    Ok(state.snapshot(state.agent.device.clone()))
}

/// What `cpe restore` checks the snapshot's owner against.
#[derive(Clone, Debug, Default)]
pub struct RestoreOptions {
    /// Restore a snapshot of another device.
    pub force: bool,
    /// The device's serial number, instead of the identity recorded in the state directory.
    pub serial: Option<String>,
}

/// Restores the snapshot `bytes` into a stopped agent's `state_dir` (see the module docs);
/// returns the snapshot. Refuses, changing nothing, a corrupt snapshot, one of another device
/// (unless `force`), and a state directory an agent runs on.
pub fn restore(
    state_dir: &Path,
    bytes: &[u8],
    options: &RestoreOptions,
) -> Result<Snapshot, SnapshotError> {
    let snapshot = Snapshot::decode(bytes)?;
    let state = CpeState::from_snapshot(&snapshot)?;
    if agent_running(state_dir) {
        return Err(SnapshotError::AgentRunning {
            dir: state_dir.to_owned(),
        });
    }
    if !options.force {
        check_owner(state_dir, &snapshot, options.serial.as_deref())?;
    }
    std::fs::create_dir_all(state_dir).map_err(|source| SnapshotError::Journal {
        path: state_dir.join(JOURNAL),
        source,
    })?;
    let journal = state_dir.join(JOURNAL);
    super::write_file(&journal, bytes)?;
    state.write_dir(state_dir)?;
    remove_journal(&journal)?;
    Ok(snapshot)
}

/// Completes a restore a crash interrupted: if `state_dir` holds a journal, writes its state
/// files and removes it; returns the snapshot it held. A corrupt journal (it is written
/// atomically, so only a damaged disk gives one) is moved aside, and nothing is restored.
pub fn complete_journal(state_dir: &Path) -> Result<Option<Snapshot>, SnapshotError> {
    let journal = state_dir.join(JOURNAL);
    let bytes = match super::read_file(&journal) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(SnapshotError::Journal {
                path: journal,
                source,
            });
        }
    };
    let decoded = Snapshot::decode(&bytes)
        .map_err(SnapshotError::from)
        .and_then(|s| CpeState::from_snapshot(&s).map(|state| (s, state)));
    let (snapshot, state) = match decoded {
        Ok(found) => found,
        Err(e) => {
            let aside = state_dir.join(format!("{JOURNAL}.damaged"));
            std::fs::rename(&journal, &aside).map_err(|source| SnapshotError::Journal {
                path: journal,
                source,
            })?;
            return Err(e);
        }
    };
    state.write_dir(state_dir)?;
    remove_journal(&journal)?;
    Ok(Some(snapshot))
}

fn remove_journal(journal: &Path) -> Result<(), SnapshotError> {
    let error = |source| SnapshotError::Journal {
        path: journal.to_owned(),
        source,
    };
    std::fs::remove_file(journal).map_err(error)?;
    match journal.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(error),
        _ => Ok(()),
    }
}

/// Whether an agent answers on the control socket of `state_dir`.
fn agent_running(state_dir: &Path) -> bool {
    std::os::unix::net::UnixStream::connect(crate::control::socket_path(state_dir)).is_ok()
}

/// Whether the snapshot belongs to the device whose state `state_dir` holds (or whose serial
/// number is `serial`). An empty state directory belongs to nobody: anything may be restored.
fn check_owner(
    state_dir: &Path,
    snapshot: &Snapshot,
    serial: Option<&str>,
) -> Result<(), SnapshotError> {
    let expected = match serial {
        Some(serial) => {
            let mut expected = snapshot.identity.clone();
            expected.insert("serial".to_owned(), serial.to_owned());
            expected
        }
        None => {
            let path = state_dir.join(AGENT);
            match persist::read::<AgentState>(&path) {
                Ok(None) => return Ok(()),
                Ok(Some(agent)) if !agent.device.is_empty() => agent.device,
                Ok(Some(_)) => {
                    return Err(SnapshotError::UnknownOwner {
                        dir: state_dir.to_owned(),
                        reason: format!("{AGENT} records no device identity"),
                    });
                }
                Err(damage) => {
                    return Err(SnapshotError::UnknownOwner {
                        dir: state_dir.to_owned(),
                        reason: format!("{AGENT}: {damage}"),
                    });
                }
            }
        }
    };
    snapshot
        .check_owner(Kind::CpeState, &expected)
        .map_err(SnapshotError::Foreign)
}

/// One line for a human: kind, owner, creation time.
pub fn summary(snapshot: &Snapshot) -> String {
    format!(
        "{} of {}, taken {}",
        snapshot.kind,
        describe(&snapshot.identity),
        snapshot.created
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(serial: &str) -> BTreeMap<String, String> {
        identity(&DeviceIdStruct {
            manufacturer: "Example".into(),
            oui: "00D09E".into(),
            product_class: "HGW".into(),
            serial_number: serial.into(),
        })
    }

    /// A state of device `serial` whose model holds `value` for one parameter.
    fn state(serial: &str, value: &str) -> CpeState {
        let mut model = ModelState::default();
        model
            .values
            .insert("Device.X.Value".into(), value.to_owned());
        CpeState {
            model,
            events: EventsState::default(),
            agent: AgentState {
                device: device(serial),
                sessions_ok: 7,
                ..AgentState::default()
            },
            transfers: TransferQueue::default(),
        }
    }

    /// A state directory into which device S1's state with `value` was restored.
    fn restored(value: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let bytes = state("S1", value).snapshot(device("S1")).encode();
        restore(dir.path(), &bytes, &RestoreOptions::default()).unwrap();
        dir
    }

    fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
        let mut found: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        found.sort();
        found
    }

    #[test]
    fn a_restored_directory_reads_back_as_the_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = state("S1", "a").snapshot(device("S1")).encode();
        let restored = restore(dir.path(), &bytes, &RestoreOptions::default()).unwrap();
        assert_eq!(restored.identity, device("S1"));
        assert_eq!(CpeState::read_dir(dir.path()).unwrap(), state("S1", "a"));
        assert!(!dir.path().join(JOURNAL).exists());
        // Taken again from the files, the snapshot holds the same state and owner.
        let again = from_dir(dir.path()).unwrap();
        assert_eq!(again.identity, device("S1"));
        assert_eq!(CpeState::from_snapshot(&again).unwrap(), state("S1", "a"));
    }

    #[test]
    fn corrupt_and_foreign_snapshots_change_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let ours = state("S1", "a").snapshot(device("S1")).encode();
        restore(dir.path(), &ours, &RestoreOptions::default()).unwrap();
        let before = files(dir.path());

        let mut corrupt = state("S1", "b").snapshot(device("S1")).encode();
        corrupt[40] ^= 0x01;
        let err = restore(dir.path(), &corrupt, &RestoreOptions::default()).unwrap_err();
        assert!(matches!(err, SnapshotError::Corrupt(_)), "{err}");
        assert!(err.to_string().contains("checksum mismatch"), "{err}");

        let theirs = state("S2", "b").snapshot(device("S2")).encode();
        let err = restore(dir.path(), &theirs, &RestoreOptions::default()).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("serial=S2") && message.contains("serial=S1"),
            "{message}"
        );
        assert!(message.contains("--force"), "{message}");
        let err = restore(
            dir.path(),
            &theirs,
            &RestoreOptions {
                force: false,
                serial: Some("S1".into()),
            },
        )
        .unwrap_err();
        assert!(matches!(err, SnapshotError::Foreign(_)), "{err}");
        assert_eq!(files(dir.path()), before);

        // --serial names the device; --force takes it regardless.
        let options = RestoreOptions {
            force: false,
            serial: Some("S2".into()),
        };
        restore(dir.path(), &theirs, &options).unwrap();
        assert_eq!(CpeState::read_dir(dir.path()).unwrap(), state("S2", "b"));
        let forced = RestoreOptions {
            force: true,
            serial: None,
        };
        restore(dir.path(), &ours, &forced).unwrap();
        assert_eq!(CpeState::read_dir(dir.path()).unwrap(), state("S1", "a"));
    }

    #[test]
    fn another_kind_or_content_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = Snapshot::now(Kind::AcsStore, device("S1"), b"{}".to_vec()).encode();
        let err = restore(dir.path(), &store, &RestoreOptions::default()).unwrap_err();
        assert!(err.to_string().contains("acs-store"), "{err}");
        let junk = Snapshot::now(Kind::CpeState, device("S1"), b"[1]".to_vec()).encode();
        let err = restore(dir.path(), &junk, &RestoreOptions::default()).unwrap_err();
        assert!(matches!(err, SnapshotError::Content(_)), "{err}");
        assert!(files(dir.path()).is_empty());
    }

    #[test]
    fn a_running_agent_blocks_the_restore() {
        let dir = tempfile::tempdir().unwrap();
        let _listener =
            std::os::unix::net::UnixListener::bind(crate::control::socket_path(dir.path()))
                .unwrap();
        let bytes = state("S1", "a").snapshot(device("S1")).encode();
        let err = restore(dir.path(), &bytes, &RestoreOptions::default()).unwrap_err();
        assert!(matches!(err, SnapshotError::AgentRunning { .. }), "{err}");
        assert!(err.to_string().contains("stop it first"), "{err}");
        assert!(!dir.path().join(MODEL).exists());
    }

    #[test]
    fn a_journal_left_by_a_crash_mid_restore_is_completed() {
        let dir = restored("old");
        // The crash: the journal is whole, events.json and model.json are new, agent.json is
        // still old, transfers.json is cut short.
        let new = state("S1", "new");
        let bytes = new.snapshot(device("S1")).encode();
        super::super::write_file(&dir.path().join(JOURNAL), &bytes).unwrap();
        persist::save(&dir.path().join(EVENTS), &new.events).unwrap();
        persist::save(&dir.path().join(MODEL), &new.model).unwrap();
        std::fs::write(dir.path().join(TRANSFERS), b"{\"format\": 1, \"da").unwrap();

        let completed = complete_journal(dir.path()).unwrap().unwrap();
        assert_eq!(completed.encode().len(), bytes.len());
        assert_eq!(CpeState::read_dir(dir.path()).unwrap(), new);
        assert!(!dir.path().join(JOURNAL).exists());
        assert!(complete_journal(dir.path()).unwrap().is_none());
    }

    #[test]
    fn a_damaged_journal_is_set_aside_and_nothing_is_restored() {
        let dir = restored("old");
        let before = files(dir.path());
        let mut bytes = state("S1", "new").snapshot(device("S1")).encode();
        bytes[10] ^= 0x80;
        std::fs::write(dir.path().join(JOURNAL), &bytes).unwrap();
        let err = complete_journal(dir.path()).unwrap_err();
        assert!(matches!(err, SnapshotError::Corrupt(_)), "{err}");
        assert!(!dir.path().join(JOURNAL).exists());
        let mut after = files(dir.path());
        after.retain(|(name, _)| name != "restore.journal.damaged");
        assert_eq!(after, before);
    }

    #[test]
    fn a_stopped_agent_without_state_or_identity_is_refused_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let err = from_dir(dir.path()).unwrap_err();
        assert!(err.to_string().contains("model.json"), "{err}");
        let mut old = state("S1", "a");
        old.agent.device.clear();
        old.write_dir(dir.path()).unwrap();
        let err = from_dir(dir.path()).unwrap_err();
        assert!(matches!(err, SnapshotError::NoIdentity { .. }), "{err}");
        // Nor can a restore tell whose state this is.
        let bytes = state("S1", "a").snapshot(device("S1")).encode();
        let err = restore(dir.path(), &bytes, &RestoreOptions::default()).unwrap_err();
        assert!(matches!(err, SnapshotError::UnknownOwner { .. }), "{err}");
    }
}
