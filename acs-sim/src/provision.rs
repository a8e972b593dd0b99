//! What the ACS does in one session: registers the Inform, then runs jobs one at a time
//! (the ACS's own Connection Request credentials, the scenario, then the device's queued
//! tasks) and finishes the session when none is left.
//!
//! [`Provisioner::drive`] is synchronous: it talks to the store. The server calls it after each
//! POST has gone into the [`Session`], on a blocking thread when the store's calls may block.

use std::sync::Arc;
use std::time::Instant;

use schemas::Body;
use schemas::rpc::ParameterKey;
use schemas::rpc::types::ParameterValueStruct;

use cpe::stats::Delivery;

use crate::acs::{Acs, AcsConfig, AcsEvent, unix_now};
use crate::job::{self, Answer, Effects, Job, JobFault, SetValues, Step};
use crate::session::{Informed, Session, SessionEvent};
use crate::store::{Credentials, Device, DeviceId, FaultDetail, InformSummary, StoreError, Task};

/// What a scenario sees of the device that informed.
#[derive(Debug)]
pub struct DeviceContext<'a> {
    /// The device's id.
    pub id: &'a DeviceId,
    /// The Inform as the session accepted it.
    pub informed: &'a Informed,
    /// The device's record after this Inform was merged in.
    pub device: &'a Device,
    /// The data model's root object, `Device.` or `InternetGatewayDevice.`.
    pub root: &'static str,
    /// The ACS configuration.
    pub config: &'a AcsConfig,
}

/// The device tag that says the device takes partial paths in GetParameterValues (TR-069
/// A.3.2.2 allows them, yet some CPEs fail on them), as an operator sets it:
/// `POST /devices/<id>/tags/partial-path-gpv`.
pub const PARTIAL_PATH_TAG: &str = "partial-path-gpv";

impl DeviceContext<'_> {
    /// Whether partial paths go into GetParameterValues as they are: the ACS is configured so
    /// (`acs.partial_path_gpv`) or the device carries [`PARTIAL_PATH_TAG`]. Otherwise a
    /// partial path is expanded with GetParameterNames first.
    pub fn partial_paths(&self) -> bool {
        self.config.partial_path_gpv || self.device.tags.contains(PARTIAL_PATH_TAG)
    }

    /// Whether the Inform carries an event code, e.g. `0 BOOTSTRAP`.
    pub fn has_event(&self, code: &str) -> bool {
        self.informed
            .inform
            .event
            .iter()
            .any(|e| e.event_code.as_str() == code)
    }
}

/// The data model root an Inform speaks of: `InternetGatewayDevice.` when its parameters are
/// TR-098 ones, else `Device.` (TR-181).
pub fn model_root(informed: &Informed) -> &'static str {
    let tr098 = informed
        .inform
        .parameter_list
        .iter()
        .any(|p| p.name.starts_with("InternetGatewayDevice."));
    if tr098 {
        "InternetGatewayDevice."
    } else {
        "Device."
    }
}

/// Where the running job came from.
enum Origin {
    /// The ACS's own provisioning or the scenario.
    Acs,
    /// A queued task, claimed in the store.
    Task(Task),
}

struct Running {
    job: Box<dyn Job>,
    origin: Origin,
    /// The `cwmp:ID` of its outstanding request.
    request: Option<String>,
    effects: Effects,
}

/// One session's provisioning.
pub struct Provisioner {
    acs: Arc<Acs>,
    device: Option<DeviceId>,
    /// The device's data model root, once known.
    root: &'static str,
    /// Whether the device takes partial paths in GetParameterValues, once its record was read.
    partial_paths: Option<bool>,
    /// Scenario jobs still to run.
    pending: Vec<Box<dyn Job>>,
    running: Option<Running>,
    /// No more queued tasks are taken (the store failed, or the session is over).
    done: bool,
    /// The request sent and not answered yet, as counted ([`crate::stats`]).
    in_flight: Option<crate::stats::AcsMessage>,
    /// When the session was first driven: its start, for its duration.
    started: Option<Instant>,
}

impl Provisioner {
    /// Provisioning for a session that has not informed yet.
    pub fn new(acs: Arc<Acs>) -> Self {
        Self {
            acs,
            device: None,
            root: "Device.",
            partial_paths: None,
            pending: Vec::new(),
            running: None,
            done: false,
            in_flight: None,
            started: None,
        }
    }

    /// The device, once its Inform was registered.
    pub fn device(&self) -> Option<&DeviceId> {
        self.device.as_ref()
    }

    /// Consumes the session's events and gives it its next request (or finishes it). Returns
    /// once every event is read, including those its own requests and `finish` caused.
    pub fn drive(&mut self, session: &mut Session, now: Instant) {
        self.started.get_or_insert(now);
        loop {
            while let Some(event) = session.poll_event() {
                match event {
                    SessionEvent::Informed(informed) => self.informed(&informed),
                    SessionEvent::CpeRequest { request, .. } => self.cpe_request(&request),
                    SessionEvent::Response { id, body, .. } => {
                        self.count_answer(Delivery::Answered);
                        self.answer(&id, Answer::Response(body), session, now);
                    }
                    SessionEvent::Fault { id, fault, .. } => {
                        self.count_answer(Delivery::Fault);
                        self.answer(&id, Answer::Fault(fault), session, now);
                    }
                    SessionEvent::Completed => self.ended(None, now),
                    SessionEvent::Failed(error) => self.ended(Some(error.to_string()), now),
                }
            }
            if session.awaits_application() && self.running.is_none() {
                self.start_next(session, now);
            } else {
                return;
            }
        }
    }

    fn informed(&mut self, informed: &Informed) {
        let summary =
            InformSummary::from_inform(&informed.inform, informed.version.as_str(), unix_now());
        let id = match self.acs.store.record_inform(&summary) {
            Ok(id) => id,
            Err(error) => {
                cpe::oplog!(PROV_INFORM_NOT_RECORDED, %error, "cannot register the Inform; the session ends without provisioning");
                self.done = true;
                return;
            }
        };
        cpe::oplog!(PROV_INFORM, device = %id, events = ?summary.events, "inform");
        let root = model_root(informed);
        // The device's record is read only when something looks at it: the scenario's rules
        // or the credentials to provision. Queued tasks read it when the first one is taken.
        let config = &self.acs.config;
        if !self.acs.scenario.is_empty() || config.connreq.provision {
            let device = match self.acs.store.device(&id) {
                Ok(device) => device,
                Err(error) => {
                    cpe::oplog!(PROV_DEVICE_UNREADABLE, %error, "cannot read the device; the session ends without provisioning");
                    self.done = true;
                    return;
                }
            };
            let context = DeviceContext {
                id: &id,
                informed,
                device: &device,
                root,
                config,
            };
            self.partial_paths = Some(context.partial_paths());
            let mut jobs = self.acs.scenario.jobs(&context);
            if config.connreq.provision && device.credentials.is_none() {
                jobs.insert(0, Box::new(provision_credentials(root)));
            }
            jobs.reverse();
            self.pending = jobs;
        }
        self.acs.publish(AcsEvent::Informed {
            device: id.clone(),
            events: summary.events,
        });
        self.root = root;
        self.device = Some(id);
    }

    /// Whether the device takes partial paths in GetParameterValues
    /// ([`DeviceContext::partial_paths`]), read from its record once per session. A record that
    /// cannot be read counts as no: partial paths are then expanded, which every CPE accepts.
    fn partial_paths(&mut self, device: &DeviceId) -> bool {
        if let Some(known) = self.partial_paths {
            return known;
        }
        let config = &self.acs.config;
        let known = config.partial_path_gpv
            || match self.acs.store.device(device) {
                Ok(record) => record.tags.contains(PARTIAL_PATH_TAG),
                Err(error) => {
                    cpe::oplog!(PROV_TAGS_UNREADABLE, %error, "cannot read the device's tags; expanding partial paths");
                    false
                }
            };
        self.partial_paths = Some(known);
        known
    }

    fn cpe_request(&mut self, request: &Body) {
        let (Some(device), Body::TransferComplete(done)) = (&self.device, request) else {
            return;
        };
        let fault = done
            .fault_struct
            .fault()
            .map(|code| format!("{} {}", code.code(), done.fault_struct.fault_string));
        match &fault {
            None => {
                cpe::oplog!(PROV_TRANSFER_COMPLETE, device = %device, command_key = done.command_key.as_str(), "transfer complete")
            }
            Some(fault) => {
                cpe::oplog!(PROV_TRANSFER_FAULT, device = %device, command_key = done.command_key.as_str(), %fault, "transfer failed")
            }
        }
        self.acs.publish(AcsEvent::TransferComplete {
            device: device.clone(),
            command_key: done.command_key.as_str().to_owned(),
            fault,
        });
    }

    fn answer(&mut self, id: &str, answer: Answer, session: &mut Session, now: Instant) {
        let Some(mut running) = self.running.take() else {
            return;
        };
        if running.request.as_deref() != Some(id) {
            self.running = Some(running);
            return;
        }
        running.request = None;
        let step = running.job.step(Some(answer), &mut running.effects);
        self.follow(running, step, session, now);
    }

    /// Starts jobs until one sends a request; finishes the session when none is left.
    fn start_next(&mut self, session: &mut Session, now: Instant) {
        while let Some(mut running) = self.next_job() {
            let step = running.job.step(None, &mut running.effects);
            self.follow(running, step, session, now);
            if self.running.is_some() {
                return;
            }
        }
        session.finish(now);
    }

    /// Acts on a job's step: sends its request, or records its end.
    fn follow(&mut self, mut running: Running, step: Step, session: &mut Session, now: Instant) {
        match step {
            Step::Send(body) => match (body.name(), session.request(body, now)) {
                (name, Ok(id)) => {
                    self.in_flight = crate::stats::AcsMessage::from_rpc(name);
                    if let Some(message) = self.in_flight {
                        self.acs.stats.attempt(message);
                    }
                    running.request = Some(id);
                    self.running = Some(running);
                }
                (_, Err(error)) => {
                    cpe::oplog!(PROV_REQUEST_REFUSED, %error, "request refused by the session");
                    self.release(running);
                }
            },
            Step::Done => self.record(running.job.label(), &running.origin, running.effects, None),
            Step::Failed(fault) => {
                self.record(
                    running.job.label(),
                    &running.origin,
                    running.effects,
                    Some(fault),
                );
            }
        }
        if self.running.is_none() && session.awaits_application() {
            self.start_next(session, now);
        }
    }

    fn next_job(&mut self) -> Option<Running> {
        if let Some(job) = self.pending.pop() {
            return Some(Running {
                job,
                origin: Origin::Acs,
                request: None,
                effects: Effects::default(),
            });
        }
        if self.done {
            return None;
        }
        let device = self.device.clone()?;
        let store = Arc::clone(&self.acs.store);
        loop {
            let claimed = store.next_task(&device).and_then(|task| match task {
                Some(task) => store.claim_task(&task.id).map(Some),
                None => Ok(None),
            });
            let task = match claimed {
                Ok(Some(task)) => task,
                Ok(None) => return None,
                Err(StoreError::Conflict { .. }) => continue,
                Err(error) => {
                    cpe::oplog!(PROV_TASK_NOT_TAKEN, %error, "cannot take the next task");
                    self.done = true;
                    return None;
                }
            };
            let partial_paths = self.partial_paths(&device);
            match job::task::build(&task, &self.acs, self.root, partial_paths) {
                Ok(job) => {
                    return Some(Running {
                        job,
                        origin: Origin::Task(task),
                        request: None,
                        effects: Effects::default(),
                    });
                }
                Err(fault) => {
                    let label = task.name.as_str().to_owned();
                    self.record(label, &Origin::Task(task), Effects::default(), Some(fault));
                }
            }
        }
    }

    /// Writes a finished job's effects and outcome to the store.
    fn record(
        &mut self,
        label: String,
        origin: &Origin,
        effects: Effects,
        fault: Option<JobFault>,
    ) {
        let Some(device) = self.device.clone() else {
            return;
        };
        let store = &self.acs.store;
        let now = unix_now();
        let mut result = store.set_parameters(&device, &effects.parameters, now);
        if let (None, Some(credentials)) = (&fault, &effects.credentials) {
            result = result.and_then(|()| store.set_credentials(&device, Some(credentials)));
        }
        if let Origin::Task(task) = origin {
            result = result.and_then(|()| match &fault {
                None => store.complete_task(&task.id, now),
                Some(fault) => store
                    .fault_task(
                        &task.id,
                        &FaultDetail {
                            code: fault.code.clone(),
                            message: fault.message.clone(),
                            detail: fault.detail.clone(),
                            timestamp: now,
                        },
                    )
                    .map(drop),
            });
        }
        if let Err(error) = result {
            cpe::oplog!(PROV_OUTCOME_NOT_RECORDED, %error, "cannot record the job's outcome");
        }
        let fault = fault.map(|f| format!("{}: {}", f.code, f.message));
        match &fault {
            None => cpe::oplog!(PROV_JOB_DONE, device = %device, job = label, "job done"),
            Some(fault) => {
                cpe::oplog!(PROV_JOB_FAULT, device = %device, job = label, %fault, "job answered with a fault")
            }
        }
        self.acs.publish(AcsEvent::JobDone {
            device,
            label,
            fault,
        });
    }

    /// Puts a claimed task back: the session ended before the CPE answered it.
    fn release(&mut self, running: Running) {
        if let Origin::Task(task) = running.origin
            && let Err(error) = self.acs.store.release_task(&task.id)
        {
            cpe::oplog!(PROV_TASK_NOT_RELEASED, %error, "cannot put the task back in the queue");
        }
    }

    /// Counts the answer to the request in flight ([`crate::stats`]).
    fn count_answer(&mut self, delivery: Delivery) {
        if let Some(message) = self.in_flight.take() {
            self.acs.stats.delivered(message, delivery);
        }
    }

    fn ended(&mut self, error: Option<String>, now: Instant) {
        // A request still unanswered when the session ends got no answer.
        if self.in_flight.is_some() {
            self.count_answer(Delivery::Failed);
        }
        let started = self.started.unwrap_or(now);
        self.acs
            .stats
            .session(error.is_none(), now.saturating_duration_since(started));
        self.done = true;
        if let Some(running) = self.running.take() {
            self.release(running);
        }
        self.acs.publish(AcsEvent::SessionEnded {
            device: self.device.clone(),
            error,
        });
    }
}

/// The ACS's own first-session job: random Connection Request credentials (TR-069 §3.2.2,
/// `ManagementServer.ConnectionRequestUsername` / `Password`), kept in the store once the
/// CPE accepted them, as acsrs does.
fn provision_credentials(root: &str) -> SetValues {
    let credentials = random_credentials();
    let base = format!("{root}ManagementServer.ConnectionRequest");
    let parameters = vec![
        ParameterValueStruct::new(format!("{base}Username"), credentials.username.as_str()),
        ParameterValueStruct::new(format!("{base}Password"), credentials.password.as_str()),
    ];
    SetValues::new(
        "provision connection-request credentials",
        parameters,
        ParameterKey::from_wire(String::new()),
    )
    .provisioning(credentials)
}

/// 16 random alphanumerics each: what the ACS provisions for Connection Requests.
pub fn random_credentials() -> Credentials {
    use rand::RngExt;
    use rand::distr::Alphanumeric;
    let mut rng = rand::make_rng::<rand::rngs::StdRng>();
    let mut word = || {
        (0..16)
            .map(|_| char::from(rng.sample(Alphanumeric)))
            .collect::<String>()
    };
    Credentials {
        username: word(),
        password: word(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Instant;

    use schemas::Envelope;
    use schemas::rpc::types::{DeviceIdStruct, EventStruct};
    use schemas::rpc::{EventCode, Inform};
    use schemas::soap::CwmpNamespace;

    use super::{PARTIAL_PATH_TAG, Provisioner};
    use crate::acs::{Acs, AcsConfig};
    use crate::files::FileStore;
    use crate::scenario::Scenario;
    use crate::session::{Reply, Session};
    use crate::store::{InformSummary, MemoryStore, NewTask, Store, TaskName};

    /// The element name of the first request the ACS sends for a queued refreshObject of a
    /// partial path, on a device that carries the partial-path tag or not. No scenario and no
    /// credentials to provision: the device's record is read only for the task.
    fn first_request_for_a_partial_path(tagged: bool) -> &'static str {
        let inform = Inform {
            device_id: DeviceIdStruct {
                manufacturer: "Example".into(),
                oui: "00D09E".into(),
                product_class: "HGW".into(),
                serial_number: "SN-1".into(),
            },
            event: vec![EventStruct::new(EventCode::Periodic)],
            max_envelopes: 1,
            ..Inform::default()
        };
        let store = Arc::new(MemoryStore::new());
        let id = store
            .record_inform(&InformSummary::from_inform(&inform, "1.4", 0))
            .unwrap();
        if tagged {
            store.add_tag(&id, PARTIAL_PATH_TAG).unwrap();
        }
        store
            .add_task(&NewTask {
                device: id,
                name: TaskName::RefreshObject,
                arguments: serde_json::json!({ "objectName": "Device.DeviceInfo." }),
                timestamp: 0,
            })
            .unwrap();
        let mut config = AcsConfig::default();
        config.connreq.provision = false;
        let files = tempfile::tempdir().unwrap();
        let acs = Acs::new(
            store,
            config.clone(),
            Scenario::default(),
            FileStore::new(files.path()).unwrap(),
        );
        let now = Instant::now();
        let mut session = Session::new(config.session, now);
        let mut provisioner = Provisioner::new(acs);
        session.handle_request(&Envelope::new(CwmpNamespace::V1_2, inform).write(), now);
        provisioner.drive(&mut session, now);
        assert!(matches!(session.poll_transmit(), Some(Reply::Envelope(_))));
        session.handle_request(b"", now);
        provisioner.drive(&mut session, now);
        let Some(Reply::Envelope(request)) = session.poll_transmit() else {
            panic!("the task's request");
        };
        schemas::testing::validate_envelopes(std::slice::from_ref(&request));
        Envelope::parse(&request).unwrap().body.name()
    }

    #[test]
    fn a_queued_task_expands_partial_paths_unless_the_device_is_tagged() {
        assert_eq!(first_request_for_a_partial_path(false), "GetParameterNames");
        assert_eq!(first_request_for_a_partial_path(true), "GetParameterValues");
    }
}
