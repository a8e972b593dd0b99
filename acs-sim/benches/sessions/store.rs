//! The store's share of a session, alone: what the provisioner asks of the store for a
//! session of Inform and empty POST (register the Inform, read the device back, look for a
//! queued task), on one thread, device after device. Every store call takes the store's
//! lock, so this is the most sessions per second the store lets through, whatever the rest.

use std::time::{Duration, Instant};

use acs_sim::acs::unix_now;
use acs_sim::store::InformSummary;
use anyhow::{Context as _, Result, bail};
use schemas::{Body, Envelope};

use crate::cpe::{inform, serial};
use crate::servers::{Kind, open_store};

/// Store calls of one session per second for `kind`, over `devices` devices (each registered
/// once before the clock starts), for `seconds`.
pub(crate) fn rate(kind: Kind, devices: usize, seconds: f64) -> Result<Option<f64>> {
    let dir = tempfile::tempdir()?;
    let Some(store) = open_store(kind, dir.path())? else {
        return Ok(None);
    };
    let informs = (0..devices)
        .map(|index| {
            let envelope = Envelope::parse(&inform(&serial("STORE", index)))?;
            match envelope.body {
                Body::Inform(inform) => Ok(inform),
                other => bail!("not an Inform: {}", other.name()),
            }
        })
        .collect::<Result<Vec<_>>>()?;
    let session = |index: usize| -> Result<()> {
        let summary = InformSummary::from_inform(&informs[index % devices], "1.4", unix_now());
        let id = store.record_inform(&summary)?;
        store.device(&id)?;
        let queued = store.next_task(&id)?;
        if queued.is_some() {
            bail!("a task queued for {id}");
        }
        Ok(())
    };
    for index in 0..devices {
        session(index).context("registering the devices")?;
    }
    let window = Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut done = 0usize;
    while start.elapsed() < window {
        session(done)?;
        done += 1;
    }
    #[allow(clippy::cast_precision_loss)] // a session count
    Ok(Some(done as f64 / start.elapsed().as_secs_f64()))
}
