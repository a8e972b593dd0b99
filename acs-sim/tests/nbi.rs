//! The GenieACS-compatible REST API over real HTTP on loopback: what GenieACS clients send, and
//! what they get back.

use std::net::SocketAddr;
use std::sync::Arc;

use acs_sim::acs::{Acs, AcsConfig};
use acs_sim::files::FileStore;
use acs_sim::nbi::{self, CONNECTION_REQUEST_ERROR};
use acs_sim::scenario::Scenario;
use acs_sim::store::{
    DeviceId, FaultDetail, FaultFilter, InformSummary, MemoryStore, ParameterValue, TaskFilter,
    TaskId, TaskStatus,
};
use bytes::Bytes;
use http::{HeaderMap, Method, Request, header};
use http_body_util::{BodyExt, Full};
use hyper::ext::ReasonPhrase;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// An NBI server on an ephemeral port over an in-memory store.
struct Api {
    addr: SocketAddr,
    acs: Arc<Acs>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    _files: tempfile::TempDir,
}

/// An answer: status, reason phrase, headers, body.
#[derive(Debug)]
struct Reply {
    status: u16,
    reason: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(&self.body)))
    }

    /// The `message` of an error answer, checking it is JSON.
    fn message(&self) -> String {
        assert_eq!(
            self.headers[header::CONTENT_TYPE],
            "application/json",
            "{self:?}"
        );
        self.json()["message"].as_str().unwrap().to_owned()
    }
}

impl Api {
    async fn start() -> Self {
        let files = tempfile::tempdir().unwrap();
        let acs = Acs::new(
            Arc::new(MemoryStore::new()),
            AcsConfig::default(),
            Scenario::default(),
            FileStore::new(files.path()).unwrap(),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(nbi::serve(listener, Arc::clone(&acs), async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            acs,
            stop: Some(stop),
            server: Some(server),
            _files: files,
        }
    }

    async fn request(&self, method: Method, target: &str, body: impl Into<Bytes>) -> Reply {
        let stream = TcpStream::connect(self.addr).await.unwrap();
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(connection);
        let request = Request::builder()
            .method(method)
            .uri(target)
            .header(header::HOST, self.addr.to_string())
            .body(Full::new(body.into()))
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        let reason = response.extensions().get::<ReasonPhrase>().map_or_else(
            || {
                response
                    .status()
                    .canonical_reason()
                    .unwrap_or_default()
                    .to_owned()
            },
            |r| String::from_utf8_lossy(r.as_bytes()).into_owned(),
        );
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            reason,
            headers,
            body,
        }
    }

    async fn get(&self, target: &str) -> Reply {
        self.request(Method::GET, target, Bytes::new()).await
    }

    async fn post(&self, target: &str, body: &Value) -> Reply {
        self.request(Method::POST, target, body.to_string()).await
    }

    async fn delete(&self, target: &str) -> Reply {
        self.request(Method::DELETE, target, Bytes::new()).await
    }

    /// A device, as its Inform would record it.
    fn inform(&self, serial: &str, parameters: &[(&str, &str, &str)]) -> DeviceId {
        let summary = InformSummary {
            manufacturer: "Acme".into(),
            oui: "00236A".into(),
            product_class: "IGD".into(),
            serial_number: serial.into(),
            events: vec!["1 BOOT".into()],
            parameters: parameters
                .iter()
                .map(|(name, value, xsd_type)| ParameterValue {
                    name: (*name).into(),
                    value: (*value).into(),
                    xsd_type: (*xsd_type).into(),
                })
                .collect(),
            cwmp_version: "1.4".into(),
            connection_request_url: None,
            now: 1_714_564_800,
        };
        self.acs.store.record_inform(&summary).unwrap()
    }

    /// A queued task of `device`, by id.
    fn task(&self, id: &TaskId) -> Option<acs_sim::store::Task> {
        let filter = TaskFilter::default().id(id.clone());
        self.acs.store.tasks(&filter).unwrap().into_iter().next()
    }

    /// What a session does when the CPE answers a task with a fault.
    fn fault(&self, id: &TaskId) {
        self.acs.store.claim_task(id).unwrap();
        let detail = FaultDetail {
            code: "9005".into(),
            message: "Invalid parameter name".into(),
            detail: json!({"name": "Device.Nope"}),
            timestamp: 1_714_564_801,
        };
        self.acs.store.fault_task(id, &detail).unwrap();
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters, as `encodeURIComponent`.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn tasks_path(device: &DeviceId) -> String {
    format!("/devices/{}/tasks", encode(device.as_str()))
}

fn task_id(reply: &Reply) -> TaskId {
    reply.json()["_id"].as_str().unwrap().parse().unwrap()
}

const NOT_PROCESSED: &str = "Task queued but not processed";

#[tokio::test]
async fn device_list_answers_genieacs_documents_filtered_and_projected() {
    let api = Api::start().await;
    let first = api.inform(
        "SN-1",
        &[
            ("Device.DeviceInfo.SoftwareVersion", "1.0", "xsd:string"),
            ("Device.DeviceInfo.UpTime", "100", "xsd:unsignedInt"),
        ],
    );
    api.inform(
        "SN-2",
        &[
            ("Device.DeviceInfo.SoftwareVersion", "2.0", "xsd:string"),
            ("Device.DeviceInfo.UpTime", "5", "xsd:unsignedInt"),
        ],
    );
    api.acs.store.add_tag(&first, "lab").unwrap();

    let all = api.get("/devices/").await;
    assert_eq!(all.status, 200);
    assert_eq!(all.json().as_array().unwrap().len(), 2);
    assert_eq!(api.get("/devices").await.json(), all.json());
    assert_eq!(
        all.json()[0],
        json!({
            "_id": "00236A-IGD-SN%2D1",
            "_deviceId": {"_Manufacturer": "Acme", "_OUI": "00236A", "_ProductClass": "IGD", "_SerialNumber": "SN-1"},
            "_lastInform": "2024-05-01T12:00:00.000Z",
            "_lastEvents": ["1 BOOT"],
            "_tags": ["lab"],
            "Device": {"DeviceInfo": {
                "SoftwareVersion": {"_value": "1.0", "_type": "xsd:string", "_timestamp": "2024-05-01T12:00:00.000Z"},
                "UpTime": {"_value": 100, "_type": "xsd:unsignedInt", "_timestamp": "2024-05-01T12:00:00.000Z"},
            }},
        })
    );
    assert!(all.json()[1].get("_tags").is_none());

    let ids = |reply: Reply| -> Vec<String> {
        reply
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let query = |q: Value| format!("/devices/?query={}", encode(&q.to_string()));
    for (q, expected) in [
        (
            json!({"_deviceId._SerialNumber": "SN-2"}),
            vec!["00236A-IGD-SN%2D2"],
        ),
        (
            json!({"_id": "00236A-IGD-SN%2D1"}),
            vec!["00236A-IGD-SN%2D1"],
        ),
        (json!({"_tags": "lab"}), vec!["00236A-IGD-SN%2D1"]),
        (json!({"_tags": {"$ne": "lab"}}), vec!["00236A-IGD-SN%2D2"]),
        (
            json!({"Device.DeviceInfo.SoftwareVersion": "2.0"}),
            vec!["00236A-IGD-SN%2D2"],
        ),
        (
            json!({"Device.DeviceInfo.SoftwareVersion._value": {"$in": ["1.0", "3.0"]}}),
            vec!["00236A-IGD-SN%2D1"],
        ),
        (
            json!({"Device.DeviceInfo.UpTime": {"$gt": 10}}),
            vec!["00236A-IGD-SN%2D1"],
        ),
        (
            json!({"$or": [{"_tags": "lab"}, {"Device.DeviceInfo.UpTime._value": {"$lte": "5"}}]}),
            vec!["00236A-IGD-SN%2D1", "00236A-IGD-SN%2D2"],
        ),
        (
            json!({"$and": [{"_tags": "lab"}, {"_deviceId._SerialNumber": "SN-2"}]}),
            vec![],
        ),
        (json!({"Device.X": {"$exists": true}}), vec![]),
    ] {
        assert_eq!(ids(api.get(&query(q.clone())).await), expected, "{q}");
    }

    let projected = api
        .get(&format!(
            "/devices/?query={}&projection=_deviceId._SerialNumber,Device.DeviceInfo.UpTime._value",
            encode(r#"{"_tags":"lab"}"#)
        ))
        .await;
    assert_eq!(
        projected.json(),
        json!([{
            "_id": "00236A-IGD-SN%2D1",
            "_deviceId": {"_SerialNumber": "SN-1"},
            "Device": {"DeviceInfo": {"UpTime": {"_value": 100}}},
        }])
    );
    let paged = api.get("/devices/?skip=1&limit=1").await;
    assert_eq!(ids(paged), vec!["00236A-IGD-SN%2D2"]);
    api.stop().await;
}

#[tokio::test]
async fn bad_queries_are_400_naming_the_problem() {
    let api = Api::start().await;
    let bad = api
        .get(&format!("/devices/?query={}", encode("{nope")))
        .await;
    assert_eq!(bad.status, 400);
    assert!(
        bad.message().starts_with("query is not valid JSON"),
        "{bad:?}"
    );
    let regex = api
        .get(&format!(
            "/devices/?query={}",
            encode(r#"{"_id": {"$regex": "^00"}}"#)
        ))
        .await;
    assert_eq!(regex.status, 400);
    assert_eq!(regex.message(), "unsupported operator $regex");
    let tasks = api.get(&format!("/tasks/?query={}", encode("[1]"))).await;
    assert_eq!(tasks.status, 400);
    assert_eq!(tasks.message(), "query must be a JSON object");
    let limit = api.get("/faults/?limit=many").await;
    assert_eq!(limit.status, 400);
    assert!(limit.message().contains("limit"), "{limit:?}");
    api.stop().await;
}

#[tokio::test]
async fn every_task_type_is_queued_with_its_genieacs_arguments() {
    let api = Api::start().await;
    let device = api.inform("SN-1", &[]);
    let tasks = [
        json!({"name": "refreshObject", "objectName": "Device.DeviceInfo."}),
        json!({"name": "getParameterValues", "parameterNames": ["Device.DeviceInfo.UpTime"]}),
        json!({"name": "setParameterValues", "parameterValues": [["Device.X", "1", "xsd:int"], ["Device.Y", true]]}),
        json!({"name": "addObject", "objectName": "Device.NAT.PortMapping."}),
        json!({"name": "deleteObject", "objectName": "Device.NAT.PortMapping.1."}),
        json!({"name": "reboot"}),
        json!({"name": "factoryReset"}),
        json!({"name": "download", "file": "fw.bin", "fileType": "1 Firmware Upgrade Image", "targetFileName": "fw"}),
        json!({"name": "upload", "fileType": "3 Vendor Log File"}),
        json!({"name": "getParameterAttributes", "parameterNames": ["Device.DeviceInfo."]}),
        json!({"name": "setParameterAttributes", "parameterAttributes": [{"name": "Device.X", "notification": 2}]}),
        json!({"name": "scheduleInform", "delaySeconds": 30, "commandKey": "later"}),
        json!({"name": "setAcsUrl", "url": "https://acs.example:7547/"}),
    ];
    for task in &tasks {
        let reply = api.post(&tasks_path(&device), task).await;
        assert_eq!(reply.status, 202, "{task}: {reply:?}");
        assert_eq!(reply.reason, NOT_PROCESSED);
        let body = reply.json();
        assert_eq!(body["device"], "00236A-IGD-SN%2D1");
        assert_eq!(body["name"], task["name"]);
        assert_eq!(body["status"], "queued");
        assert!(body["timestamp"].as_str().unwrap().ends_with(".000Z"));
        let stored = api.task(&task_id(&reply)).unwrap();
        let mut arguments = task.clone();
        arguments.as_object_mut().unwrap().remove("name");
        assert_eq!(stored.name.as_str(), task["name"]);
        assert_eq!(stored.arguments, arguments, "{task}");
        for (field, value) in arguments.as_object().unwrap() {
            assert_eq!(&body[field], value, "{task}");
        }
    }
    let listed = api.get("/tasks/").await.json();
    assert_eq!(listed.as_array().unwrap().len(), tasks.len());
    api.stop().await;
}

#[tokio::test]
async fn the_command_params_shape_is_accepted() {
    let api = Api::start().await;
    let device = api.inform("SN-1", &[]);
    let reply = api
        .post(
            &format!("{}/", tasks_path(&device)),
            &json!({"command": "getParameterValues", "params": {"parameterNames": ["Device.DeviceInfo.UpTime"]}}),
        )
        .await;
    assert_eq!(reply.status, 202, "{reply:?}");
    let stored = api.task(&task_id(&reply)).unwrap();
    assert_eq!(stored.name.as_str(), "getParameterValues");
    assert_eq!(
        stored.arguments,
        json!({"parameterNames": ["Device.DeviceInfo.UpTime"]})
    );
    api.stop().await;
}

#[tokio::test]
async fn bad_tasks_are_400_and_unknown_devices_404() {
    let api = Api::start().await;
    let device = api.inform("SN-1", &[]);
    let path = tasks_path(&device);
    let not_json = api.request(Method::POST, &path, "{").await;
    assert_eq!(not_json.status, 400);
    assert!(not_json.message().starts_with("task is not valid JSON"));
    let unknown = api.post(&path, &json!({"name": "explode"})).await;
    assert_eq!(unknown.status, 400);
    assert_eq!(unknown.message(), r#"unknown task name "explode""#);
    let bad_field = api
        .post(
            &path,
            &json!({"name": "setParameterValues", "parameterValues": [["A"]]}),
        )
        .await;
    assert_eq!(bad_field.status, 400);
    assert_eq!(
        bad_field.message(),
        "parameterValues[0] must be [name, value] or [name, value, type]"
    );
    assert!(
        api.acs
            .store
            .tasks(&TaskFilter::default())
            .unwrap()
            .is_empty()
    );

    let reboot = json!({"name": "reboot"});
    let missing = api
        .post(
            &tasks_path(&DeviceId::new("00236A", "IGD", "SN-9")),
            &reboot,
        )
        .await;
    assert_eq!(missing.status, 404);
    assert!(missing.message().contains("not found"), "{missing:?}");
    // Decoded once, `SN%2D1` is the id; sent unencoded it decodes to `SN-1`, no device id.
    let once = api.post("/devices/00236A-IGD-SN%2D1/tasks", &reboot).await;
    assert_eq!(once.status, 404);
    let twice = api
        .post("/devices/00236A-IGD-SN%252D1/tasks", &reboot)
        .await;
    assert_eq!(twice.status, 202);

    let slow = api
        .post(
            &format!("{path}?connection_request&timeout=300001"),
            &reboot,
        )
        .await;
    assert_eq!(slow.status, 400);
    assert_eq!(slow.message(), "timeout must be at most 300000 ms");
    let garbled = api.post(&format!("{path}?timeout=soon"), &reboot).await;
    assert_eq!(garbled.status, 400);
    assert!(garbled.message().contains("timeout"), "{garbled:?}");
    api.stop().await;
}

#[tokio::test]
async fn a_failed_connection_request_is_202_with_the_error_as_reason() {
    let api = Api::start().await;
    let device = api.inform("SN-1", &[]);
    let reply = api
        .post(
            &format!("{}?connection_request", tasks_path(&device)),
            &json!({"name": "reboot"}),
        )
        .await;
    assert_eq!(reply.status, 202, "{reply:?}");
    assert_ne!(reply.reason, NOT_PROCESSED);
    assert_eq!(
        reply.headers[CONNECTION_REQUEST_ERROR],
        reply.reason.as_str()
    );
    assert_eq!(reply.json()["status"], "queued");
    assert_eq!(
        api.task(&task_id(&reply)).unwrap().status,
        TaskStatus::Queued
    );
    api.stop().await;
}

#[tokio::test]
async fn refresh_shortcut_queues_a_refresh_object_task() {
    let api = Api::start().await;
    let device = api.inform("SN-1", &[]);
    let reply = api
        .request(
            Method::POST,
            &format!(
                "/devices/{}/objects/Device.WiFi./refresh",
                encode(device.as_str())
            ),
            Bytes::new(),
        )
        .await;
    assert_eq!(reply.status, 202, "{reply:?}");
    let stored = api.task(&task_id(&reply)).unwrap();
    assert_eq!(stored.name.as_str(), "refreshObject");
    assert_eq!(stored.arguments, json!({"objectName": "Device.WiFi."}));
    api.stop().await;
}

#[tokio::test]
async fn tasks_are_listed_fetched_retried_and_deleted() {
    let api = Api::start().await;
    let first = api.inform("SN-1", &[]);
    let second = api.inform("SN-2", &[]);
    let reboot = json!({"name": "reboot"});
    let a = task_id(&api.post(&tasks_path(&first), &reboot).await);
    let b = task_id(&api.post(&tasks_path(&second), &reboot).await);

    let by_device = api
        .get(&format!(
            "/tasks/?query={}",
            encode(&json!({"device": first.as_str()}).to_string())
        ))
        .await
        .json();
    assert_eq!(by_device.as_array().unwrap().len(), 1);
    assert_eq!(by_device[0]["_id"], a.as_str());
    let by_id = api
        .get(&format!(
            "/tasks?query={}",
            encode(&json!({"_id": b.as_str(), "name": "reboot"}).to_string())
        ))
        .await
        .json();
    assert_eq!(by_id[0]["device"], second.as_str());

    let one = api.get(&format!("/tasks/{a}")).await;
    assert_eq!(one.status, 200);
    assert_eq!(one.json()["name"], "reboot");

    api.fault(&a);
    assert_eq!(
        api.get(&format!("/tasks/{a}")).await.json()["status"],
        "faulted"
    );
    let retried = api
        .request(Method::POST, &format!("/tasks/{a}/retry"), Bytes::new())
        .await;
    assert_eq!(retried.status, 200, "{retried:?}");
    assert_eq!(api.task(&a).unwrap().status, TaskStatus::Queued);
    assert!(
        api.acs
            .store
            .faults(&FaultFilter::default())
            .unwrap()
            .is_empty()
    );
    let again = api
        .request(Method::POST, &format!("/tasks/{a}/retry"), Bytes::new())
        .await;
    assert_eq!(again.status, 409);
    assert!(again.message().contains("queued"), "{again:?}");

    assert_eq!(api.delete(&format!("/tasks/{a}")).await.status, 200);
    assert!(api.task(&a).is_none());
    assert_eq!(api.get(&format!("/tasks/{a}")).await.status, 404);
    assert_eq!(api.delete(&format!("/tasks/{a}")).await.status, 404);
    assert_eq!(api.get("/tasks/not-a-task-id").await.status, 404);
    api.stop().await;
}

#[tokio::test]
async fn faults_are_listed_and_deleted_with_their_task() {
    let api = Api::start().await;
    let device = api.inform("SN-1", &[]);
    let other = api.inform("SN-2", &[]);
    let gpv = json!({"name": "getParameterValues", "parameterNames": ["Device.Nope"]});
    let task = task_id(&api.post(&tasks_path(&device), &gpv).await);
    let other_task = task_id(&api.post(&tasks_path(&other), &gpv).await);
    api.fault(&task);
    api.fault(&other_task);

    let fault_id = format!("00236A-IGD-SN%2D1:task_{task}");
    let listed = api
        .get(&format!(
            "/faults/?query={}",
            encode(&json!({"device": device.as_str()}).to_string())
        ))
        .await;
    assert_eq!(listed.status, 200);
    assert_eq!(
        listed.json(),
        json!([{
            "_id": fault_id,
            "device": "00236A-IGD-SN%2D1",
            "channel": format!("task_{task}"),
            "code": "9005",
            "message": "Invalid parameter name",
            "detail": {"name": "Device.Nope"},
            "timestamp": "2024-05-01T12:00:01.000Z",
            "retries": 1,
        }])
    );
    assert_eq!(api.get("/faults").await.json().as_array().unwrap().len(), 2);

    let deleted = api.delete(&format!("/faults/{}", encode(&fault_id))).await;
    assert_eq!(deleted.status, 200, "{deleted:?}");
    assert!(api.task(&task).is_none());
    let left = api.get("/faults/").await.json();
    assert_eq!(left.as_array().unwrap().len(), 1);
    assert_eq!(left[0]["device"], "00236A-IGD-SN%2D2");
    let again = api.delete(&format!("/faults/{}", encode(&fault_id))).await;
    assert_eq!(again.status, 404);
    assert!(again.message().contains("not found"));
    api.stop().await;
}

#[tokio::test]
async fn tags_are_added_and_removed_and_devices_deleted() {
    let api = Api::start().await;
    let device = api.inform("SN-1", &[]);
    let path = format!("/devices/{}", encode(device.as_str()));
    let tag = api
        .request(
            Method::POST,
            &format!("{path}/tags/east%20wing"),
            Bytes::new(),
        )
        .await;
    assert_eq!(tag.status, 200, "{tag:?}");
    assert!(
        api.acs
            .store
            .device(&device)
            .unwrap()
            .tags
            .contains("east wing")
    );
    let tagged = api
        .get(&format!(
            "/devices/?query={}",
            encode(r#"{"_tags":"east wing"}"#)
        ))
        .await
        .json();
    assert_eq!(tagged.as_array().unwrap().len(), 1);
    assert_eq!(
        api.delete(&format!("{path}/tags/east%20wing")).await.status,
        200
    );
    assert!(api.acs.store.device(&device).unwrap().tags.is_empty());
    let unknown = api
        .request(
            Method::POST,
            "/devices/00236A-IGD-SN%252D9/tags/x",
            Bytes::new(),
        )
        .await;
    assert_eq!(unknown.status, 404);

    assert_eq!(api.delete(&path).await.status, 200);
    assert!(api.acs.store.device(&device).is_err());
    assert_eq!(api.delete(&path).await.status, 404);
    api.stop().await;
}

#[tokio::test]
async fn routing_and_size_errors_are_json() {
    let api = Api::start().await;
    let device = api.inform("SN-1", &[]);
    let nowhere = api.get("/presets/").await;
    assert_eq!(nowhere.status, 404);
    assert_eq!(nowhere.message(), "no such endpoint");
    let wrong = api.request(Method::PUT, "/devices/", Bytes::new()).await;
    assert_eq!(wrong.status, 405);
    assert_eq!(wrong.message(), "method not allowed");
    let names: Vec<String> = (0..100_000).map(|i| format!("Device.X.{i}")).collect();
    let huge = json!({"name": "getParameterValues", "parameterNames": names});
    assert!(huge.to_string().len() > nbi::BODY_LIMIT);
    let too_big = api.post(&tasks_path(&device), &huge).await;
    assert_eq!(too_big.status, 413);
    assert!(!too_big.message().is_empty());
    assert!(
        api.acs
            .store
            .tasks(&TaskFilter::default())
            .unwrap()
            .is_empty()
    );
    api.stop().await;
}
