//! Atomic, versioned state files: temp file, fsync, rename; damaged files set aside, never
//! silently replaced.
//!
//! ARCHITECTURE.md: "Nothing acknowledged is lost. Pending events, CommandKeys, ParameterKey,
//! queued transfers and ACS tasks survive `kill -9`". TR-069 Amd 6 asks the same of the CPE's
//! CommandKeys (§3.7.1.5: `M <Method>` events and their keys are kept across a reboot until
//! delivered) and of the ScheduleInform requests (A.4.1.2).
//!
//! A state file is JSON: `{"format": 1, "data": ...}`, where `data` is the caller's serde type.
//!
//! - [`save`] writes a temp file in the same directory, fsyncs it, renames it over the target
//!   and fsyncs the directory. After a crash at any point the target holds the old version or
//!   the new one, whole; at worst a temp file is left behind ([`clean_temp_files`]).
//! - [`load`] returns `Ok(None)` for a missing file. A file that cannot be read, is not JSON,
//!   is cut short, has another `format`, or whose `data` does not fit the type is moved aside to
//!   `<name>.damaged-<unix time>` and reported as [`PersistError::Damaged`] with the reason; the
//!   caller logs it and starts from defaults, and the damaged copy stays for a human.
//!
//! One writer per file at a time (the agent's state task); readers need no lock.

use std::ffi::OsString;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The envelope format [`save`] writes and [`load`] reads.
pub const FORMAT: u64 = 1;

/// Why a state file could not be saved or loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PersistError {
    /// An I/O step of [`save`] failed; the previous version of the file is untouched.
    #[error("cannot {action} state file {}: {source}", path.display())]
    Io {
        /// The state file.
        path: PathBuf,
        /// What was being done (`"write"`, `"rename"`, ...).
        action: &'static str,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// The value could not be encoded as JSON (a map with non-string keys, a failing
    /// `Serialize` impl).
    #[error("cannot encode state for {}: {source}", path.display())]
    Encode {
        /// The state file.
        path: PathBuf,
        /// The error.
        #[source]
        source: serde_json::Error,
    },
    /// The file is damaged and was moved aside; start from defaults.
    #[error("state file {} is damaged ({reason}); moved aside to {}", path.display(), moved_to.display())]
    Damaged {
        /// The state file.
        path: PathBuf,
        /// Where the damaged file now is.
        moved_to: PathBuf,
        /// What is wrong with it.
        #[source]
        reason: Damage,
    },
    /// The file is damaged and could not be moved aside either; it is still at `path`.
    #[error(
        "state file {} is damaged ({reason}) and could not be moved aside: {move_error}",
        path.display()
    )]
    DamagedNotMoved {
        /// The state file.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        reason: Damage,
        /// Why the move failed.
        move_error: io::Error,
    },
}

/// What is wrong with a damaged state file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Damage {
    /// The file exists but reading it failed.
    #[error("unreadable: {0}")]
    Unreadable(#[source] io::Error),
    /// Not a JSON state envelope: empty, torn, truncated, or not JSON at all.
    #[error("not a state file: {0}")]
    Malformed(#[source] serde_json::Error),
    /// The envelope lacks `format` or `data`, or `format` is not a number.
    #[error("not a state file: {0}")]
    NotAnEnvelope(&'static str),
    /// A format this program does not know (written by a newer version, or garbage).
    #[error("unknown format {found}, expected {FORMAT}")]
    UnknownFormat {
        /// The format the file declares.
        found: u64,
    },
    /// The envelope is fine but `data` does not fit the expected type.
    #[error("data does not match: {0}")]
    BadData(#[source] serde_json::Error),
}

/// Writes `value` to `path` atomically (see the module docs).
pub fn save<T: Serialize>(path: &Path, value: &T) -> Result<(), PersistError> {
    #[derive(Serialize)]
    struct Stored<'a, T> {
        format: u64,
        data: &'a T,
    }

    let mut bytes = serde_json::to_vec_pretty(&Stored {
        format: FORMAT,
        data: value,
    })
    .map_err(|source| PersistError::Encode {
        path: path.to_owned(),
        source,
    })?;
    bytes.push(b'\n');
    write_bytes(path, &bytes)
}

/// Writes `bytes` to `path` atomically, as [`save`] does with its envelope: temp file in the
/// same directory, fsync, rename, fsync of the directory.
pub fn write_bytes(path: &Path, bytes: &[u8]) -> Result<(), PersistError> {
    let io_error = |action, source| PersistError::Io {
        path: path.to_owned(),
        action,
        source,
    };
    let (dir, name) = split(path).map_err(|e| io_error("name", e))?;
    let temp = dir.join(temp_name(&name));
    let written = write_synced(&temp, bytes)
        .map_err(|e| io_error("write", e))
        .and_then(|()| fs::rename(&temp, path).map_err(|e| io_error("rename", e)));
    if let Err(e) = written {
        // Best effort: the temp file is garbage either way.
        let _ = fs::remove_file(&temp);
        return Err(e);
    }
    sync_dir(&dir).map_err(|e| io_error("sync directory of", e))
}

/// Reads the state file at `path`: `Ok(None)` if there is none (see the module docs for a
/// damaged one).
pub fn load<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, PersistError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(set_aside(path, Damage::Unreadable(e))),
    };
    match decode(&bytes) {
        Ok(value) => Ok(Some(value)),
        Err(damage) => Err(set_aside(path, damage)),
    }
}

/// Removes temp files that writers killed mid-[`save`] left next to `path`; returns how many.
/// Call it at start-up, before anything saves `path`.
pub fn clean_temp_files(path: &Path) -> io::Result<usize> {
    let (dir, name) = split(path)?;
    let mut prefix = OsString::from(".");
    prefix.push(&name);
    prefix.push(".tmp-");
    let prefix = prefix.to_string_lossy().into_owned();
    let mut removed = 0;
    for entry in fs::read_dir(&dir)? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Damage> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(Damage::Malformed)?;
    let serde_json::Value::Object(mut envelope) = value else {
        return Err(Damage::NotAnEnvelope("not a JSON object"));
    };
    let format = envelope
        .get("format")
        .ok_or(Damage::NotAnEnvelope("no `format`"))?
        .as_u64()
        .ok_or(Damage::NotAnEnvelope("`format` is not a number"))?;
    if format != FORMAT {
        return Err(Damage::UnknownFormat { found: format });
    }
    let data = envelope
        .remove("data")
        .ok_or(Damage::NotAnEnvelope("no `data`"))?;
    serde_json::from_value(data).map_err(Damage::BadData)
}

/// Moves a damaged file to `<name>.damaged-<unix time>` (`-1`, `-2`, ... if taken).
fn set_aside(path: &Path, reason: Damage) -> PersistError {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".damaged-{secs}"));
    let base = PathBuf::from(name);
    let mut target = base.clone();
    for n in 1..1000 {
        if fs::symlink_metadata(&target).is_err() {
            break;
        }
        let mut next = base.as_os_str().to_owned();
        next.push(format!("-{n}"));
        target = PathBuf::from(next);
    }
    match fs::rename(path, &target) {
        Ok(()) => {
            if let Ok((dir, _)) = split(path) {
                let _ = sync_dir(&dir);
            }
            PersistError::Damaged {
                path: path.to_owned(),
                moved_to: target,
                reason,
            }
        }
        Err(move_error) => PersistError::DamagedNotMoved {
            path: path.to_owned(),
            reason,
            move_error,
        },
    }
}

/// The directory (`.` for a bare name) and the file name of `path`.
fn split(path: &Path) -> io::Result<(PathBuf, OsString)> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    Ok((dir, name.to_owned()))
}

/// `.<name>.tmp-<pid>-<n>`: unique per process and call, hidden, easy to clean up.
fn temp_name(name: &OsString) -> OsString {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut temp = OsString::from(".");
    temp.push(name);
    temp.push(format!(".tmp-{}-{n}", std::process::id()));
    temp
}

fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new().write(true).create_new(true).open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Makes a rename in `dir` durable.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

/// Directories cannot be opened as files here; the rename is as durable as it gets.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    use std::sync::mpsc;
    use std::thread;

    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
    struct Sample {
        version: u64,
        keys: Vec<String>,
        note: Option<String>,
    }

    fn sample(version: u64) -> Sample {
        Sample {
            version,
            keys: (0..version % 7)
                .map(|i| format!("key-{version}-{i}"))
                .collect(),
            note: Some("ünïcode \"quoted\"".into()),
        }
    }

    fn damaged_files(dir: &Path) -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().contains(".damaged-"))
            .collect();
        found.sort();
        found
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        assert!(load::<Sample>(&path).unwrap().is_none());
        save(&path, &sample(3)).unwrap();
        assert_eq!(load::<Sample>(&path).unwrap(), Some(sample(3)));
        save(&path, &sample(4)).unwrap();
        assert_eq!(load::<Sample>(&path).unwrap(), Some(sample(4)));
        let text = fs::read_to_string(&path).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["format"], 1);
        assert_eq!(json["data"]["version"], 4);
        // No temp file is left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        assert_eq!(clean_temp_files(&path).unwrap(), 0);
    }

    #[test]
    fn a_relative_bare_name_works() {
        let dir = tempfile::tempdir().unwrap();
        let (parent, name) = split(Path::new("state.json")).unwrap();
        assert_eq!(parent, Path::new("."));
        assert_eq!(name, "state.json");
        assert!(split(Path::new("/")).is_err());
        assert!(matches!(
            save(Path::new("/"), &1u8),
            Err(PersistError::Io { action: "name", .. })
        ));
        let path = dir.path().join("x.json");
        save(&path, &1u8).unwrap();
        assert_eq!(load::<u8>(&path).unwrap(), Some(1));
    }

    #[test]
    fn damaged_files_are_set_aside_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        save(&path, &sample(5)).unwrap();
        let good = fs::read(&path).unwrap();
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("empty", Vec::new()),
            ("truncated", good[..good.len() / 2].to_vec()),
            ("torn", [&good[..20], &[0u8; 64][..]].concat()),
            ("not json", b"\x89PNG garbage".to_vec()),
            ("not an object", b"[1, 2]".to_vec()),
            ("no format", br#"{"data": {}}"#.to_vec()),
            ("unknown format", br#"{"format": 2, "data": {}}"#.to_vec()),
            ("no data", br#"{"format": 1}"#.to_vec()),
            (
                "bad data",
                br#"{"format": 1, "data": {"version": "x"}}"#.to_vec(),
            ),
        ];
        for (i, (what, bytes)) in cases.into_iter().enumerate() {
            fs::write(&path, &bytes).unwrap();
            let err = load::<Sample>(&path).unwrap_err();
            let PersistError::Damaged {
                path: reported,
                moved_to,
                reason,
            } = &err
            else {
                panic!("{what}: {err}");
            };
            assert_eq!(reported, &path, "{what}");
            let expected = match what {
                "empty" | "truncated" | "torn" | "not json" => {
                    matches!(reason, Damage::Malformed(_))
                }
                "unknown format" => matches!(reason, Damage::UnknownFormat { found: 2 }),
                "bad data" => matches!(reason, Damage::BadData(_)),
                _ => matches!(reason, Damage::NotAnEnvelope(_)),
            };
            assert!(expected, "{what}: {reason:?}");
            // The damaged bytes are kept, the file is gone, and the message names both.
            assert_eq!(fs::read(moved_to).unwrap(), bytes, "{what}");
            assert!(!path.exists(), "{what}");
            let message = err.to_string();
            assert!(message.contains("state.json"), "{message}");
            assert!(message.contains(".damaged-"), "{message}");
            assert_eq!(damaged_files(dir.path()).len(), i + 1, "{what}");
            // The caller starts from defaults; the next save does not touch the damaged copy.
            assert!(load::<Sample>(&path).unwrap().is_none());
        }
        save(&path, &sample(6)).unwrap();
        assert_eq!(load::<Sample>(&path).unwrap(), Some(sample(6)));
    }

    #[test]
    fn an_unreadable_file_is_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        // A directory where the file should be: reading it fails with an I/O error.
        let path = dir.path().join("state.json");
        fs::create_dir(&path).unwrap();
        let err = load::<Sample>(&path).unwrap_err();
        assert!(
            matches!(
                &err,
                PersistError::Damaged {
                    reason: Damage::Unreadable(_),
                    ..
                }
            ),
            "{err}"
        );
        assert!(!path.exists());
    }

    #[test]
    fn temp_files_of_killed_writers_are_cleaned_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        fs::write(dir.path().join(".state.json.tmp-1-0"), b"{").unwrap();
        fs::write(dir.path().join(".other.json.tmp-1-0"), b"{").unwrap();
        save(&path, &sample(1)).unwrap();
        assert_eq!(clean_temp_files(&path).unwrap(), 1);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    /// Set in the child process of [`saves_survive_sigkill_at_any_point`]: the file to write.
    const CHILD_ENV: &str = "CPE_PERSIST_CRASH_CHILD";

    /// A large value, so that a kill often lands inside a write.
    fn big(version: u64) -> Sample {
        Sample {
            version,
            keys: (0..2000).map(|i| format!("{version}:{i}")).collect(),
            note: None,
        }
    }

    /// Whether `value` is one whole version as [`big`] writes it.
    fn is_whole(value: &Sample) -> bool {
        value.keys.len() == 2000
            && value
                .keys
                .iter()
                .enumerate()
                .all(|(i, k)| *k == format!("{}:{i}", value.version))
    }

    /// The child: saves version after version, printing each one done, until killed.
    #[test]
    fn crash_child() {
        let Some(path) = std::env::var_os(CHILD_ENV) else {
            return;
        };
        let path = PathBuf::from(path);
        let start = load::<Sample>(&path).unwrap().map_or(0, |s| s.version);
        let stdout = io::stdout();
        for version in start + 1..start + 1_000_000 {
            save(&path, &big(version)).unwrap();
            let mut out = stdout.lock();
            writeln!(out, "saved {version}").unwrap();
            out.flush().unwrap();
        }
    }

    /// Whether a temp file of a save to `path` exists right now.
    fn writing(path: &Path) -> bool {
        let Some(dir) = path.parent() else {
            return false;
        };
        fs::read_dir(dir).into_iter().flatten().flatten().any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".state.json.tmp-")
        })
    }

    #[cfg(unix)]
    #[test]
    fn saves_survive_sigkill_at_any_point() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        save(&path, &big(0)).unwrap();
        let seed: u64 = rand::make_rng::<StdRng>().random();
        let mut rng = StdRng::seed_from_u64(seed);
        let exe = std::env::current_exe().unwrap();
        let mut last_saved = 0;
        for round in 0..30 {
            // What the agent does at start-up; it also lets `writing` see only this child.
            clean_temp_files(&path).unwrap();
            let mut child = Command::new(&exe)
                .args([
                    "persist::tests::crash_child",
                    "--exact",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(CHILD_ENV, &path)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let stdout = child.stdout.take().unwrap();
            let (tx, saved) = mpsc::channel();
            let reader = thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    // The harness may print `test ... ` before the first line, unterminated.
                    if let Some((_, v)) = line.rsplit_once("saved ") {
                        let _ = tx.send(v.parse::<u64>().unwrap());
                    }
                }
            });
            // Kill it (SIGKILL: no destructor, no flush) at a random point: after some whole
            // saves (it is then building or encoding the next value), or while a temp file
            // exists (writing, fsyncing or renaming), after a random number of sightings.
            let what = rng.random_range(0..3);
            match what {
                0 => {
                    for _ in 0..rng.random_range(1..=25) {
                        last_saved = saved.recv().unwrap();
                    }
                }
                _ => {
                    let sightings = if what == 1 {
                        1
                    } else {
                        rng.random_range(1..=300)
                    };
                    let mut seen = 0;
                    while seen < sightings {
                        if writing(&path) {
                            seen += 1;
                        }
                    }
                }
            }
            child.kill().unwrap();
            child.wait().unwrap();
            reader.join().unwrap();
            last_saved = saved
                .try_iter()
                .last()
                .unwrap_or(last_saved)
                .max(last_saved);
            let loaded = load::<Sample>(&path)
                .unwrap_or_else(|e| panic!("seed {seed} round {round}: {e}"))
                .unwrap_or_else(|| panic!("seed {seed} round {round}: the file is gone"));
            assert!(is_whole(&loaded), "seed {seed} round {round}: torn value");
            // The last save the child reported is there, or the one it was writing.
            assert!(
                loaded.version == last_saved || loaded.version == last_saved + 1,
                "seed {seed} round {round}: version {} after {last_saved}",
                loaded.version
            );
            last_saved = loaded.version;
            assert!(damaged_files(dir.path()).is_empty());
        }
        clean_temp_files(&path).unwrap();
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
