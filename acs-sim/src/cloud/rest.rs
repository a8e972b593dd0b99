//! The cloud server's REST API (this project's), on the same TLS listener, JSON both ways:
//!
//! | Endpoint | Body | Answer |
//! |---|---|---|
//! | `GET /api/devices` | | `200`, [`DeviceView`]s |
//! | `GET /api/devices/{serial}` | | `200` [`DeviceView`], `404` |
//! | `PUT /api/devices/{serial}` | `{"secret","unbindingCode"?}` | `201` added or `200` updated, the view |
//! | `DELETE /api/devices/{serial}` | | `204`, `404` |
//! | `PUT /api/devices/{serial}/faults` | [`Faults`] (`delay_ms`) | `200` the view, `404` |
//! | `POST /api/devices/{serial}/configuration?timeout=ms` | `{"parameters":[{"name","value","type"}]}` | `200` the device's optType 3 answer |
//! | `POST /api/devices/{serial}/connection-request?timeout=ms` | | `200` `{"retCode"}` |
//! | `POST /api/devices/{serial}/close`, `.../reset` | | `204`, `409` when the main link is down |
//!
//! Errors are an HTTP status and `{"error": "..."}`: `400` bad input, `404` unknown device or
//! route, `405` wrong method, `409` device offline, `413` a body over
//! [`CloudLimits::body_limit`](super::CloudLimits::body_limit), `503` registry or queue full,
//! `502` the device dropped the link, `504` no answer within `timeout` (default
//! [`DEFAULT_TIMEOUT`], at most [`crate::nbi::MAX_TIMEOUT`]).

use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use schemas::rpc::types::ParameterValueStruct;
use schemas::tunnel::ConfigurationAnswer;
use schemas::value::{Value, XsdType};
use serde::Deserialize;
use serde_json::json;

use super::device::Faults;
use super::state::{Cloud, CloudError};

/// How long an operation waits for the device when the request names no `timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

pub(super) fn routes() -> Router<Cloud> {
    Router::new()
        .route("/api/devices", get(list))
        .route("/api/devices/{serial}", get(show).put(add).delete(remove))
        .route("/api/devices/{serial}/faults", put(faults))
        .route("/api/devices/{serial}/configuration", post(configuration))
        .route(
            "/api/devices/{serial}/connection-request",
            post(connection_request),
        )
        .route("/api/devices/{serial}/close", post(close))
        .route("/api/devices/{serial}/reset", post(reset))
}

/// An error answer: the status and `{"error": reason}`.
#[derive(Debug)]
pub(super) struct ApiError {
    status: StatusCode,
    reason: String,
}

impl ApiError {
    pub(super) fn new(status: StatusCode, reason: impl Into<String>) -> Self {
        Self {
            status,
            reason: reason.into(),
        }
    }

    pub(super) fn bad_request(reason: impl ToString) -> Self {
        Self::new(StatusCode::BAD_REQUEST, reason.to_string())
    }

    pub(super) fn internal(reason: impl ToString) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, reason.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.reason }))).into_response()
    }
}

impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> Self {
        Self::new(rejection.status(), rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::new(rejection.status(), rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::new(rejection.status(), rejection.body_text())
    }
}

impl From<CloudError> for ApiError {
    fn from(error: CloudError) -> Self {
        let status = match &error {
            CloudError::Invalid { .. } | CloudError::Frame(_) => StatusCode::BAD_REQUEST,
            CloudError::UnknownDevice(_) => StatusCode::NOT_FOUND,
            CloudError::Offline(_) => StatusCode::CONFLICT,
            CloudError::TooManyDevices { .. } | CloudError::Busy { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            CloudError::Disconnected(_) => StatusCode::BAD_GATEWAY,
            CloudError::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
        };
        Self::new(status, error.to_string())
    }
}

type Serial = Result<Path<String>, PathRejection>;

/// `?timeout=` in milliseconds.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wait {
    timeout: Option<u64>,
}

impl Wait {
    fn timeout(&self) -> Result<Duration, ApiError> {
        crate::nbi::requested_timeout(self.timeout, DEFAULT_TIMEOUT).map_err(ApiError::bad_request)
    }
}

/// A JSON body of type `T`, read strictly.
fn body<T: for<'de> Deserialize<'de>>(body: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    serde_json::from_slice(&body?).map_err(|e| ApiError::bad_request(format!("bad JSON body: {e}")))
}

fn not_found(serial: &str) -> ApiError {
    CloudError::UnknownDevice(serial.to_owned()).into()
}

async fn list(State(cloud): State<Cloud>) -> Response {
    Json(cloud.devices()).into_response()
}

async fn show(State(cloud): State<Cloud>, serial: Serial) -> Result<Response, ApiError> {
    let Path(serial) = serial?;
    let view = cloud.device(&serial).ok_or_else(|| not_found(&serial))?;
    Ok(Json(view).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct NewDevice {
    secret: String,
    unbinding_code: Option<String>,
}

async fn add(
    State(cloud): State<Cloud>,
    serial: Serial,
    request: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Path(serial) = serial?;
    let request: NewDevice = body(request)?;
    let existed = cloud.device(&serial).is_some();
    cloud.add_device(&serial, &request.secret)?;
    if let Some(code) = &request.unbinding_code {
        cloud.set_unbinding_code(&serial, code)?;
    }
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let view = cloud.device(&serial).ok_or_else(|| not_found(&serial))?;
    Ok((status, Json(view)).into_response())
}

async fn remove(State(cloud): State<Cloud>, serial: Serial) -> Result<StatusCode, ApiError> {
    let Path(serial) = serial?;
    if cloud.remove_device(&serial) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found(&serial))
    }
}

async fn faults(
    State(cloud): State<Cloud>,
    serial: Serial,
    request: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Path(serial) = serial?;
    let faults: Faults = body(request)?;
    if !cloud.set_faults(&serial, faults) {
        return Err(not_found(&serial));
    }
    let view = cloud.device(&serial).ok_or_else(|| not_found(&serial))?;
    Ok(Json(view).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigurationRequest {
    parameters: Vec<Parameter>,
}

/// `{"name","value","type"}`, as in optType 3: `type` an `xsd` local name.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Parameter {
    name: String,
    value: String,
    #[serde(rename = "type")]
    type_name: String,
}

impl Parameter {
    /// An unknown type stays [`Value::Other`] and text that does not fit its type
    /// [`Value::Invalid`], so the device answers the fault SetParameterValues would.
    fn into_value_struct(self) -> ParameterValueStruct {
        let value = match XsdType::from_name(&self.type_name) {
            Some(ty) => Value::parse(ty, &self.value),
            None => Value::Other {
                type_name: self.type_name,
                text: self.value,
            },
        };
        ParameterValueStruct {
            name: self.name,
            value,
        }
    }
}

async fn configuration(
    State(cloud): State<Cloud>,
    serial: Serial,
    wait: Result<Query<Wait>, QueryRejection>,
    request: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Path(serial) = serial?;
    let timeout = wait?.timeout()?;
    let request: ConfigurationRequest = body(request)?;
    if request.parameters.is_empty() {
        return Err(ApiError::bad_request("parameters must not be empty"));
    }
    let parameters = request
        .parameters
        .into_iter()
        .map(Parameter::into_value_struct)
        .collect();
    let answer = cloud
        .push_configuration(&serial, parameters, timeout)
        .await?;
    Ok(Json(configuration_json(&answer)).into_response())
}

/// The device's optType 3 answer, in its wire members.
fn configuration_json(answer: &ConfigurationAnswer) -> serde_json::Value {
    let fault = answer.fault.as_ref().map(|fault| {
        json!({
            "faultCode": fault.fault_code.code(),
            "faultString": fault.fault_string,
            "faults": fault.set_parameter_values_fault.iter().map(|p| json!({
                "name": p.parameter_name,
                "faultCode": p.fault_code.code(),
                "faultString": p.fault_string,
            })).collect::<Vec<_>>(),
        })
    });
    json!({
        "seqNumber": answer.seq_number,
        "uuid": answer.uuid,
        "retCode": answer.ret_code.0,
        "fault": fault,
    })
}

async fn connection_request(
    State(cloud): State<Cloud>,
    serial: Serial,
    wait: Result<Query<Wait>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Path(serial) = serial?;
    let timeout = wait?.timeout()?;
    let ret_code = cloud.connection_request(&serial, timeout).await?;
    Ok(Json(json!({ "retCode": ret_code.0 })).into_response())
}

async fn close(State(cloud): State<Cloud>, serial: Serial) -> Result<StatusCode, ApiError> {
    let Path(serial) = serial?;
    main_link_command(&cloud, &serial, cloud.close(&serial).await)
}

async fn reset(State(cloud): State<Cloud>, serial: Serial) -> Result<StatusCode, ApiError> {
    let Path(serial) = serial?;
    main_link_command(&cloud, &serial, cloud.reset(&serial).await)
}

fn main_link_command(cloud: &Cloud, serial: &str, done: bool) -> Result<StatusCode, ApiError> {
    match (done, cloud.device(serial)) {
        (true, _) => Ok(StatusCode::NO_CONTENT),
        (false, None) => Err(not_found(serial)),
        (false, Some(_)) => Err(CloudError::Offline(serial.to_owned()).into()),
    }
}
