//! What the agent does with each ACS request of a session.

use std::sync::Mutex;
use std::time::SystemTime;

use schemas::Body;
use schemas::rpc::*;

use super::{Core, lock};
use crate::events::Timestamp;
use crate::session::SessionEvent;

/// The optional methods (A.4.1) the agent answers besides the required ones
/// ([`crate::rpc::REQUIRED_METHODS`]), for GetRPCMethods (A.3.1.1).
const OPTIONAL_METHODS: &[&str] = &[
    "FactoryReset",
    "ScheduleInform",
    "ScheduleDownload",
    "Upload",
    "CancelTransfer",
    "GetQueuedTransfers",
    "GetAllQueuedTransfers",
];

/// Runs ACS requests against the shared agent state; each change is saved before it is
/// answered, so nothing the ACS was told happened is lost to a crash.
pub(super) struct Handler<'a> {
    core: &'a Mutex<Core>,
}

impl<'a> Handler<'a> {
    pub(super) fn new(core: &'a Mutex<Core>) -> Self {
        Self { core }
    }
}

impl super::driver::SessionHandler for Handler<'_> {
    fn request(&mut self, request: Body) -> Body {
        let mut core = lock(self.core);
        if let Body::GetRPCMethods(_) = request {
            let method_list = crate::rpc::REQUIRED_METHODS
                .iter()
                .chain(OPTIONAL_METHODS)
                .map(|m| (*m).to_owned())
                .collect();
            return GetRPCMethodsResponse { method_list }.into();
        }
        if let Some(response) = crate::rpc::handle(&mut core.model, &request) {
            if !matches!(response, Body::Fault(_)) && changes_the_model(&request) {
                if sets_acs_credentials(&request) {
                    core.acs_set_credentials();
                }
                if let Body::SetParameterValues(r) = &request {
                    core.set_sources(
                        r.parameter_list.iter().map(|p| p.name.as_str()),
                        crate::ztp::Source::Acs,
                    );
                }
                core.save_model();
            }
            return response;
        }
        match request {
            Body::Reboot(r) => {
                let token = format!("reboot:{}", r.command_key);
                core.events.reboot_requested(r.command_key, Some(&token));
                core.reboot_after_session = true;
                core.save_events();
                RebootResponse {}.into()
            }
            Body::FactoryReset(_) => {
                core.factory_reset_after_session = true;
                FactoryResetResponse {}.into()
            }
            Body::Download(r) => {
                let answer = core.transfers.download(&r, super::unix_seconds());
                transfer_answer(&mut core, answer)
            }
            Body::ScheduleDownload(r) => {
                let answer = core.transfers.schedule_download(&r, super::unix_seconds());
                transfer_answer(&mut core, answer)
            }
            Body::Upload(r) => {
                let answer = core.transfers.upload(&r, super::unix_seconds());
                transfer_answer(&mut core, answer)
            }
            Body::CancelTransfer(r) => {
                let answer = core.transfers.cancel(&r);
                transfer_answer(&mut core, answer)
            }
            Body::GetQueuedTransfers(_) => core.transfers.queued_transfers().into(),
            Body::GetAllQueuedTransfers(_) => core.transfers.all_queued_transfers().into(),
            Body::ScheduleInform(r) => {
                let now = Timestamp::from_system_time(SystemTime::now());
                core.events
                    .schedule_inform(r.delay_seconds, r.command_key, now);
                core.save_events();
                ScheduleInformResponse {}.into()
            }
            _ => SoapFault::from(FaultCode::MethodNotSupported).into(),
        }
    }

    fn stats(&self) -> Option<crate::stats::Stats<crate::stats::Message>> {
        Some(lock(self.core).stats.clone())
    }

    fn event(&mut self, event: SessionEvent) {
        if let SessionEvent::RequestAnswered { index, .. } = event {
            let mut core = lock(self.core);
            if let Some(&transfer) = core.in_flight.get(index) {
                core.state
                    .pending_messages
                    .retain(|p| p.transfer != transfer);
                super::save(&core.files.agent, &core.state);
            }
            return;
        }
        if let SessionEvent::InformAccepted(version) = event {
            let mut core = lock(self.core);
            core.events.delivered();
            core.changed.clear();
            core.state.last_inform = Some(super::unix_seconds());
            if std::mem::take(&mut core.bootstrap_in_flight) {
                core.state.bootstrapped_url = core
                    .session_url
                    .clone()
                    .or_else(|| core.state.acs_url.clone());
            }
            tracing::debug!(%version, "Inform accepted");
            // The agent's state first: a stop between the two saves then at worst repeats a
            // 0 BOOTSTRAP that was delivered, instead of bootstrapping over delivered events.
            super::save(&core.files.agent, &core.state);
            core.save_events();
        }
    }
}

fn changes_the_model(request: &Body) -> bool {
    matches!(
        request,
        Body::SetParameterValues(_)
            | Body::SetParameterAttributes(_)
            | Body::AddObject(_)
            | Body::DeleteObject(_)
    )
}

/// Whether an applied SetParameterValues (A.3.2.1) changed the credentials the CPE
/// authenticates to the ACS with (TR-069 §3.4.4).
fn sets_acs_credentials(request: &Body) -> bool {
    let Body::SetParameterValues(r) = request else {
        return false;
    };
    r.parameter_list.iter().any(|p| {
        p.name
            .strip_prefix(super::MS)
            .is_some_and(|n| n == "Username" || n == "Password")
    })
}

/// A transfer request's answer: saved before it is given, or the fault it was refused with.
fn transfer_answer<R: Into<Body>>(
    core: &mut Core,
    answer: Result<R, crate::transfer::RequestError>,
) -> Body {
    match answer {
        Ok(response) => {
            core.save_transfers();
            response.into()
        }
        Err(refused) => SoapFault::from(Fault::from(refused)).into(),
    }
}
