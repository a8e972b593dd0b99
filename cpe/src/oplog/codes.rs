//! The table of every log code, one constant each. Severity is the syslog severity of RFC 5424
//! §6.2.1 (0 emergency ... 7 debug). README.md ("Log codes") carries the same table; a test
//! keeps the two equal.

use super::Code;

/// Defines each code as a constant named after it and [`CODES`], the list of them all.
macro_rules! codes {
    ($($name:ident = $facility:ident - $severity:literal - $mnemonic:ident : $meaning:literal;)+) => {
        $(
            #[doc = $meaning]
            pub const $name: Code = Code {
                id: concat!(stringify!($facility), "-", $severity, "-", stringify!($mnemonic)),
                facility: stringify!($facility),
                severity: $severity,
                mnemonic: stringify!($mnemonic),
                meaning: $meaning,
            };
        )+
        /// Every code, in the order of README.md's table.
        pub const CODES: &[Code] = &[$($name),+];
    };
}

codes! {
    // The agent's CWMP sessions (TR-069 §3.7).
    CWMP_SESSION_OK = CWMP-6-SESSION_OK: "A CWMP session ended successfully.";
    CWMP_SESSION_FAILED = CWMP-3-SESSION_FAILED: "A CWMP session failed (transport, HTTP status, fault or timeout).";
    CWMP_RETRY_SCHEDULED = CWMP-4-RETRY_SCHEDULED: "A failed session is retried after the back-off of TR-069 §3.2.1.1.";
    CWMP_AUTH_FAILED = CWMP-3-AUTH_FAILED: "The ACS refused the agent's credentials (HTTP 401).";
    CWMP_BOOTSTRAP = CWMP-6-BOOTSTRAP: "First start, or a new ACS URL: the next session carries 0 BOOTSTRAP.";
    CWMP_URL_UNUSABLE = CWMP-3-URL_UNUSABLE: "The ACS URL cannot be used; no session until a new one arrives.";
    CWMP_ACS_URL_CHANGED = CWMP-5-ACS_URL_CHANGED: "The ACS set a new ManagementServer.URL.";
    CWMP_ACS_URL_REFUSED = CWMP-3-ACS_URL_REFUSED: "The ACS set an unusable ManagementServer.URL; the old one is kept.";
    CWMP_CLI_URL_SET = CWMP-5-CLI_URL_SET: "The local CLI set a new ACS URL.";
    CWMP_ACS_CREDENTIALS = CWMP-5-ACS_CREDENTIALS: "The ACS set ManagementServer.Username or Password; they now win over the configuration.";
    CWMP_CREDENTIALS_NOT_APPLIED = CWMP-3-CREDENTIALS_NOT_APPLIED: "The configured ACS credentials could not be written to the data model.";
    CWMP_DEFERRED_FAILED = CWMP-4-DEFERRED_FAILED: "A change deferred to the end of the session could not be applied.";
    CWMP_REDIRECTED = CWMP-6-REDIRECTED: "The ACS redirected the session to another URL (HTTP 3xx).";
    CWMP_NO_REQUEST_PENDING = CWMP-4-NO_REQUEST_PENDING: "An answer was given while no ACS request was pending; it is ignored.";
    CWMP_SESSION_CUT = CWMP-4-SESSION_CUT: "A forced stop cut a CWMP session short; its unacknowledged events stay queued for the next Inform.";
    // Zero-touch provisioning: DHCP options 43 / 17 / 125.
    ZTP_ACS_URL_LEARNED = ZTP-6-ACS_URL_LEARNED: "DHCP gave a new ACS URL.";
    ZTP_VALUE_KEPT = ZTP-6-VALUE_KEPT: "A DHCP value was ignored: a stronger source set the parameter.";
    ZTP_PENDING_APPLIED = ZTP-6-PENDING_APPLIED: "The DHCP intake saved while the agent was stopped was applied.";
    ZTP_PENDING_REFUSED = ZTP-3-PENDING_REFUSED: "The DHCP intake saved while the agent was stopped was refused.";
    ZTP_PENDING_NOT_REMOVED = ZTP-4-PENDING_NOT_REMOVED: "The applied DHCP intake file could not be removed.";
    // The Connection Request server (TR-069 §3.2.2).
    CONNREQ_LISTENING = CONNREQ-6-LISTENING: "The Connection Request server is listening.";
    CONNREQ_STOPPED = CONNREQ-6-STOPPED: "The Connection Request server stopped.";
    CONNREQ_SERVER_DOWN = CONNREQ-3-SERVER_DOWN: "The Connection Request server stopped unexpectedly.";
    CONNREQ_ACCEPTED = CONNREQ-6-ACCEPTED: "An authenticated Connection Request was accepted.";
    CONNREQ_UNCONFIGURED = CONNREQ-4-UNCONFIGURED: "Connection Requests are refused with 503: ConnectionRequestUsername/Password are not set.";
    CONNREQ_RATE_LIMITED = CONNREQ-4-RATE_LIMITED: "Connection Requests are refused with 503: rate limit reached.";
    CONNREQ_CHALLENGE_FAILED = CONNREQ-3-CHALLENGE_FAILED: "The Digest challenge could not be encoded; answered 500.";
    // The cloud-management tunnel (ARCHITECTURE.md, "Cloud-management tunnel").
    CLOUD_STARTING = CLOUD-6-STARTING: "The cloud-management tunnel is starting.";
    CLOUD_STOPPING = CLOUD-6-STOPPING: "The cloud-management tunnel is stopping.";
    CLOUD_PROXY_FAILED = CLOUD-4-PROXY_FAILED: "The HTTP proxy failed the tunnel's connection (refused, unreachable or credentials rejected).";
    CLOUD_SETTINGS_CHANGED = CLOUD-6-SETTINGS_CHANGED: "The cloud server's domain or port changed.";
    CLOUD_SETTINGS_UNUSABLE = CLOUD-3-SETTINGS_UNUSABLE: "The cloud-management parameters cannot be used; the tunnel does not run.";
    CLOUD_CONFIG_NOT_APPLIED = CLOUD-3-CONFIG_NOT_APPLIED: "The configured cloud server could not be written to the data model.";
    CLOUD_COMM_UP = CLOUD-5-COMM_UP: "The cloud-management tunnel is established.";
    CLOUD_COMM_RESTORED = CLOUD-5-COMM_RESTORED: "The cloud-management tunnel is established again after going down.";
    CLOUD_ESTABLISH_FAILED = CLOUD-4-ESTABLISH_FAILED: "The cloud-management tunnel could not be established (failure reason given).";
    CLOUD_COMM_DOWN = CLOUD-4-COMM_DOWN: "The cloud-management tunnel went down (down reason given).";
    CLOUD_KEEPALIVE_EXPIRED = CLOUD-3-KEEPALIVE_EXPIRED: "The cloud-management tunnel went down: no keepalive answer within three periods.";
    CLOUD_SERVICE_UP = CLOUD-6-SERVICE_UP: "A cloud sub-connection is up.";
    CLOUD_SERVICE_DOWN = CLOUD-6-SERVICE_DOWN: "A cloud sub-connection went down.";
    CLOUD_CONNREQ = CLOUD-6-CONNREQ: "A Connection Request came through the cloud tunnel.";
    CLOUD_CONNREQ_RATE_LIMITED = CLOUD-4-CONNREQ_RATE_LIMITED: "A Connection Request through the cloud tunnel was refused: rate limit.";
    CLOUD_PARAMETERS_SET = CLOUD-6-PARAMETERS_SET: "The cloud set parameters.";
    CLOUD_SEND_FAILED = CLOUD-4-SEND_FAILED: "A message to the cloud could not be sent.";
    CLOUD_UNBIND_NOT_SENT = CLOUD-4-UNBIND_NOT_SENT: "The unbinding code could not be sent.";
    CLOUD_UNBIND_NO_TUNNEL = CLOUD-4-UNBIND_NO_TUNNEL: "An unbinding code was set but the tunnel does not run.";
    CLOUD_UNBOUND = CLOUD-5-UNBOUND: "The cloud unbound the device.";
    // File transfers (TR-069 A.3.2.8 Download, A.4.1.5 Upload).
    XFER_DOWNLOAD_RECEIVED = XFER-6-DOWNLOAD_RECEIVED: "A Download's file was received.";
    XFER_DOWNLOAD_APPLIED = XFER-6-DOWNLOAD_APPLIED: "A Download's file was applied.";
    XFER_UPLOAD_DONE = XFER-6-UPLOAD_DONE: "An Upload was sent.";
    XFER_FAILED = XFER-4-FAILED: "A transfer failed (fault code and detail given).";
    XFER_HOOK_TIMEOUT = XFER-4-HOOK_TIMEOUT: "A transfer's host hook did not finish in time.";
    XFER_FIRMWARE_RECEIVED = XFER-6-FIRMWARE_RECEIVED: "A firmware image was received and no installer is configured: it counts as installed.";
    XFER_CONFIG_RECEIVED = XFER-6-CONFIG_RECEIVED: "A vendor configuration file was received.";
    XFER_CONFIG_APPLIED = XFER-6-CONFIG_APPLIED: "A vendor configuration file (the device's snapshot) was applied to the data model.";
    XFER_ALREADY_REPORTED = XFER-6-ALREADY_REPORTED: "A transfer's completion was recorded before a stop; it is not run again.";
    XFER_CLEANUP_FAILED = XFER-4-CLEANUP_FAILED: "The download directory could not be cleaned at start.";
    // Persistent state.
    STATE_FILE_DAMAGED = STATE-3-FILE_DAMAGED: "A state file is damaged; the agent starts from defaults for it.";
    STATE_SAVE_FAILED = STATE-3-SAVE_FAILED: "State could not be saved.";
    STATE_RESTORE_COMPLETED = STATE-4-RESTORE_COMPLETED: "A restore a crash interrupted was completed at start, before any state file was read.";
    STATE_RESTORE_FAILED = STATE-3-RESTORE_FAILED: "An interrupted restore could not be completed; its journal is left for a human.";
    STATE_SAVED_AT_STOP = STATE-5-SAVED_AT_STOP: "The agent saved its whole state and stops.";
    STATE_TABLE_DROPPED = STATE-4-TABLE_DROPPED: "A saved table is not in the profile (or has too many instances) and is dropped.";
    STATE_PARAMETER_DROPPED = STATE-4-PARAMETER_DROPPED: "A saved parameter is not in the profile and is dropped.";
    STATE_VALUE_DROPPED = STATE-4-VALUE_DROPPED: "A saved value does not parse as its parameter's type and is dropped.";
    STATE_ATTRIBUTES_DROPPED = STATE-4-ATTRIBUTES_DROPPED: "Saved attributes name an unknown parameter or notification and are dropped.";
    // Commands run on the host: Reboot, FactoryReset, external parameters.
    HOST_COMMAND_DONE = HOST-6-COMMAND_DONE: "A host command (reboot, factory reset) finished.";
    HOST_COMMAND_FAILED = HOST-4-COMMAND_FAILED: "A host command exited with an error.";
    HOST_COMMAND_NOT_RUN = HOST-4-COMMAND_NOT_RUN: "A host command could not be started.";
    HOST_REBOOT_RESUMED = HOST-4-REBOOT_RESUMED: "A Reboot was acknowledged but not carried out before the stop; rebooting now.";
    HOST_GET_BAD_VALUE = HOST-4-GET_BAD_VALUE: "A parameter's get command printed a value of the wrong type; the last value is answered.";
    HOST_GET_FAILED = HOST-4-GET_FAILED: "A parameter's get command failed; the last value is answered.";
    HOST_RESTORE_FAILED = HOST-3-RESTORE_FAILED: "A parameter's set command could not put back the old value after a failed change.";
    // The local control socket (`cpe status`, `cpe set`, ...).
    CTRL_STOPPED = CTRL-3-STOPPED: "The control socket stopped.";
    CTRL_STOP_REQUESTED = CTRL-5-STOP_REQUESTED: "The agent was asked to stop (`cpe stop`, SIGTERM, SIGINT); what it cuts short is named.";
    CTRL_STOP_REFUSED = CTRL-5-STOP_REFUSED: "`cpe stop` without `--force` was refused: a CWMP session or a transfer is in progress.";
    CTRL_METRICS_LISTENING = CTRL-6-METRICS_LISTENING: "The agent's /metrics endpoint is listening.";
    // TLS settings.
    TLS_VERIFY_DISABLED = TLS-4-VERIFY_DISABLED: "Certificate verification of the ACS is disabled by configuration.";
    TLS_INSECURE_CONNECT = TLS-4-INSECURE_CONNECT: "A connection to the ACS is made without verifying its certificate.";
    TLS_NO_TRUST_ANCHORS = TLS-4-NO_TRUST_ANCHORS: "No CA file is configured and no system bundle exists: no https ACS is trusted.";
    // Listeners of both programs.
    NET_ACCEPT_PAUSED = NET-4-ACCEPT_PAUSED: "Accepting connections failed; the listener pauses with back-off.";
    NET_CONNECTIONS_CUT = NET-4-CONNECTIONS_CUT: "Connections still open after the shutdown grace period are cut.";
    NET_TASK_PANICKED = NET-3-TASK_PANICKED: "A connection's task panicked; the connection is closed.";
    // acs-sim: the CWMP endpoint and its sessions.
    ACS_STARTED = ACS-5-STARTED: "acs-sim serves CWMP, the REST API and the file server.";
    ACS_STOPPING = ACS-5-STOPPING: "acs-sim was asked to stop.";
    ACS_LISTENING = ACS-6-LISTENING: "A CWMP endpoint is listening.";
    ACS_ACCEPT_STOPPED = ACS-6-ACCEPT_STOPPED: "A CWMP listener stopped accepting connections.";
    ACS_LISTENER_STOPPED = ACS-6-LISTENER_STOPPED: "A CWMP listener stopped; another one still serves the sessions.";
    ACS_STOPPED = ACS-6-STOPPED: "The CWMP endpoint stopped and ended its open sessions.";
    ACS_SESSION_INTERRUPTED = ACS-6-SESSION_INTERRUPTED: "A new Inform interrupted an open session.";
    ACS_SESSION_ABANDONED = ACS-6-SESSION_ABANDONED: "A session ended without the CPE (timed out or closed).";
    ACS_SESSIONS_REAPED = ACS-6-SESSIONS_REAPED: "Idle sessions timed out and were ended.";
    ACS_SESSION_REFUSED = ACS-4-SESSION_REFUSED: "A session was refused with 503: the session table is full.";
    ACS_BODY_TOO_LARGE = ACS-4-BODY_TOO_LARGE: "A request body was over the limit; the session ends.";
    ACS_NO_ANSWER = ACS-3-NO_ANSWER: "Provisioning left nothing to send; the session ends.";
    ACS_WORK_FAILED = ACS-3-WORK_FAILED: "Session work (store, transcript) panicked; the request is answered 500.";
    ACS_CHALLENGE_FAILED = ACS-3-CHALLENGE_FAILED: "The Digest challenge could not be encoded; answered 500.";
    ACS_TRANSCRIPT_STOPPED = ACS-4-TRANSCRIPT_STOPPED: "A transcript could not be written; recording stops for that session.";
    // acs-sim: provisioning, tasks and faults.
    PROV_INFORM = PROV-6-INFORM: "A device informed.";
    PROV_INFORM_NOT_RECORDED = PROV-3-INFORM_NOT_RECORDED: "An Inform could not be recorded; the session ends without provisioning.";
    PROV_DEVICE_UNREADABLE = PROV-3-DEVICE_UNREADABLE: "A device's record could not be read; the session ends without provisioning.";
    PROV_TAGS_UNREADABLE = PROV-4-TAGS_UNREADABLE: "A device's tags could not be read; partial paths are expanded.";
    PROV_TRANSFER_COMPLETE = PROV-6-TRANSFER_COMPLETE: "A device reported a transfer complete.";
    PROV_TRANSFER_FAULT = PROV-4-TRANSFER_FAULT: "A device reported a transfer that failed (fault given).";
    PROV_JOB_DONE = PROV-6-JOB_DONE: "A job (scenario step or task) was answered.";
    PROV_JOB_FAULT = PROV-4-JOB_FAULT: "A job (scenario step or task) was answered with a CWMP fault.";
    PROV_REQUEST_REFUSED = PROV-4-REQUEST_REFUSED: "The session refused a job's request.";
    PROV_TASK_NOT_TAKEN = PROV-3-TASK_NOT_TAKEN: "The next task could not be taken from the queue.";
    PROV_TASK_NOT_RELEASED = PROV-3-TASK_NOT_RELEASED: "A task could not be put back in the queue.";
    PROV_OUTCOME_NOT_RECORDED = PROV-3-OUTCOME_NOT_RECORDED: "A job's outcome could not be recorded.";
    // acs-sim: the file server.
    FILES_LISTENING = FILES-6-LISTENING: "The file server is listening.";
    FILES_STOPPED = FILES-6-STOPPED: "The file server stopped.";
    FILES_UPLOADED = FILES-6-UPLOADED: "A file was uploaded.";
    FILES_REQUEST_FAILED = FILES-4-REQUEST_FAILED: "A file server request failed with a server error.";
    FILES_BLOB_MISSING = FILES-4-BLOB_MISSING: "A file's metadata names a blob that is missing.";
    FILES_BLOB_NOT_REMOVED = FILES-4-BLOB_NOT_REMOVED: "An old blob could not be removed.";
    // acs-sim: the SQLite store.
    STORE_TASKS_REQUEUED = STORE-5-TASKS_REQUEUED: "Tasks claimed by a previous process are queued again.";
    STORE_COMMIT_FAILED = STORE-3-COMMIT_FAILED: "Committing device writes failed; they are retried.";
    STORE_CHECKPOINT_FAILED = STORE-4-CHECKPOINT_FAILED: "A WAL checkpoint failed.";
    STORE_WRITER_PANICKED = STORE-3-WRITER_PANICKED: "The store's writer thread panicked.";
    STORE_SNAPSHOT_WRITTEN = STORE-6-SNAPSHOT_WRITTEN: "`acs-sim backup` wrote a snapshot of the store.";
    STORE_RESTORED = STORE-5-RESTORED: "`acs-sim restore` replaced the store with a snapshot's.";
    // acs-sim: the REST API and the lab.
    NBI_REQUEST_FAILED = NBI-4-REQUEST_FAILED: "A REST request failed with a server error.";
    LAB_EVENTS_MISSED = LAB-4-EVENTS_MISSED: "The lab fell behind the ACS or cloud events.";
    // acs-sim: the cloud server.
    CLOUDSRV_STARTED = CLOUDSRV-5-STARTED: "acs-sim serves the cloud-management tunnel.";
    CLOUDSRV_LAB_CERTIFICATE = CLOUDSRV-4-LAB_CERTIFICATE: "The cloud server runs with a lab certificate that devices do not trust yet.";
    CLOUDSRV_LISTENING = CLOUDSRV-6-LISTENING: "The cloud server is listening.";
    CLOUDSRV_STOPPED = CLOUDSRV-6-STOPPED: "The cloud server stopped.";
    CLOUDSRV_UPGRADE_STREAM = CLOUDSRV-3-UPGRADE_STREAM: "An upgraded connection is not the listener's TLS stream; it is dropped.";
    // Logging itself.
    LOG_THROTTLED = LOG-4-THROTTLED: "Lines of one code went over the throttle in a window; this summary counts the suppressed ones.";
}
