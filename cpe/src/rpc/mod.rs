//! Handlers of the ACS->CPE parameter methods against the data model (TR-069 Amd 6 A.3.1.1,
//! A.3.2.1-A.3.2.7).
//!
//! Each handler takes the request and the device's [`DataModel`] and returns the response or
//! the CWMP [`Fault`] to answer with; [`handle`] dispatches a request [`Body`] to them. Methods
//! that are not about parameters (Reboot, Download, ...) are not handled here: [`handle`]
//! returns `None` for them and the session answers them (or 9000).

#[cfg(test)]
mod tests;

use schemas::rpc::types::{ParameterInfoStruct, ParameterValueStruct, Status};
use schemas::rpc::{
    AddObject, AddObjectResponse, Body, DeleteObject, DeleteObjectResponse, Fault, FaultCode,
    GetParameterAttributes, GetParameterAttributesResponse, GetParameterNames,
    GetParameterNamesResponse, GetParameterValues, GetParameterValuesResponse,
    GetRPCMethodsResponse, SetParameterAttributes, SetParameterAttributesResponse,
    SetParameterValues, SetParameterValuesFault, SetParameterValuesResponse,
};

use crate::model::{DataModel, ModelError, Origin, SetValuesError};

/// The methods a CPE must support (TR-069 Amd 6 A.3.1: Table "RPC methods", CPE column,
/// Required): what GetRPCMethods answers unless the agent adds its optional ones with
/// [`get_rpc_methods`].
pub const REQUIRED_METHODS: &[&str] = &[
    "GetRPCMethods",
    "SetParameterValues",
    "GetParameterValues",
    "GetParameterNames",
    "SetParameterAttributes",
    "GetParameterAttributes",
    "AddObject",
    "DeleteObject",
    "Reboot",
    "Download",
];

/// The longest FaultString the schema allows.
const MAX_FAULT_STRING: usize = 256;

/// Answers a parameter method, or `None` if `request` is not one (the session handles the
/// other methods). A fault is returned as [`Body::Fault`].
pub fn handle(model: &mut DataModel, request: &Body) -> Option<Body> {
    let answer = match request {
        Body::GetRPCMethods(_) => Ok(get_rpc_methods(REQUIRED_METHODS).into()),
        Body::GetParameterNames(r) => get_parameter_names(model, r).map(Body::from),
        Body::GetParameterValues(r) => get_parameter_values(model, r).map(Body::from),
        Body::SetParameterValues(r) => set_parameter_values(model, r).map(Body::from),
        Body::GetParameterAttributes(r) => get_parameter_attributes(model, r).map(Body::from),
        Body::SetParameterAttributes(r) => set_parameter_attributes(model, r).map(Body::from),
        Body::AddObject(r) => add_object(model, r).map(Body::from),
        Body::DeleteObject(r) => delete_object(model, r).map(Body::from),
        _ => return None,
    };
    Some(answer.unwrap_or_else(|fault| Body::Fault(fault.into())))
}

/// A.3.1.1 GetRPCMethods: the methods the CPE supports.
pub fn get_rpc_methods(methods: &[&str]) -> GetRPCMethodsResponse {
    GetRPCMethodsResponse {
        method_list: methods.iter().map(|m| (*m).to_owned()).collect(),
    }
}

/// A.3.2.3 GetParameterNames: the names below `ParameterPath` (see
/// [`DataModel::parameter_names`] for the table of cases). Unknown path: 9005; a parameter
/// with NextLevel true: 9003.
pub fn get_parameter_names(
    model: &DataModel,
    request: &GetParameterNames,
) -> Result<GetParameterNamesResponse, Fault> {
    let names = model
        .parameter_names(&request.parameter_path, request.next_level)
        .map_err(|e| fault_for(&e))?;
    Ok(GetParameterNamesResponse {
        parameter_list: names
            .into_iter()
            .map(|(name, writable)| ParameterInfoStruct { name, writable })
            .collect(),
    })
}

/// A.3.2.2 GetParameterValues: the values of the named parameters; a partial path gives
/// every parameter below it, `*` every instance (Amd 6 §A.2.4); hidden parameters read as
/// empty. Any unknown name: 9005 for the whole request.
pub fn get_parameter_values(
    model: &DataModel,
    request: &GetParameterValues,
) -> Result<GetParameterValuesResponse, Fault> {
    let mut parameter_list = Vec::new();
    for name in &request.parameter_names {
        let values = model.parameter_values(name).map_err(|e| fault_for(&e))?;
        parameter_list.extend(
            values
                .into_iter()
                .map(|(name, value)| ParameterValueStruct { name, value }),
        );
    }
    Ok(GetParameterValuesResponse { parameter_list })
}

/// A.3.2.1 SetParameterValues, all-or-nothing: on any refused parameter nothing changes,
/// the ParameterKey stays, and the fault is 9003 with one SetParameterValuesFault per refused
/// parameter (9002 if a backend command failed while applying). On success the ParameterKey
/// becomes the request's; Status is 1 if a change is deferred until after the session.
pub fn set_parameter_values(
    model: &mut DataModel,
    request: &SetParameterValues,
) -> Result<SetParameterValuesResponse, Fault> {
    let changes = request
        .parameter_list
        .iter()
        .map(|p| (p.name.as_str(), &p.value));
    match model.set_values(changes, Origin::Acs) {
        Ok(status) => {
            model.set_parameter_key(request.parameter_key.as_str());
            Ok(SetParameterValuesResponse { status })
        }
        Err(error) => Err(set_values_fault(&error)),
    }
}

/// A.3.2.5 GetParameterAttributes: Notification and AccessList of the named parameters
/// (partial paths and wildcards expand). Unknown name: 9005.
pub fn get_parameter_attributes(
    model: &DataModel,
    request: &GetParameterAttributes,
) -> Result<GetParameterAttributesResponse, Fault> {
    let mut parameter_list = Vec::new();
    for name in &request.parameter_names {
        parameter_list.extend(
            model
                .parameter_attributes(name)
                .map_err(|e| fault_for(&e))?,
        );
    }
    Ok(GetParameterAttributesResponse { parameter_list })
}

/// A.3.2.4 SetParameterAttributes, all-or-nothing: NotificationChange / AccessListChange
/// select what changes; a partial path changes every parameter below it. Unknown name: 9005;
/// a forbidden notification (forceEnabled off, canDeny active): 9009.
pub fn set_parameter_attributes(
    model: &mut DataModel,
    request: &SetParameterAttributes,
) -> Result<SetParameterAttributesResponse, Fault> {
    model
        .set_attributes(&request.parameter_list)
        .map_err(|e| fault_for(&e))?;
    Ok(SetParameterAttributesResponse {})
}

/// A.3.2.6 AddObject: a new instance of the table `ObjectName`, with defaults; the
/// ParameterKey is updated. Not a table or not writable: 9005 (see
/// [`DataModel::add_object`]); table full: 9004.
pub fn add_object(model: &mut DataModel, request: &AddObject) -> Result<AddObjectResponse, Fault> {
    let instance_number = model
        .add_object(&request.object_name, Origin::Acs)
        .map_err(|e| fault_for(&e))?;
    model.set_parameter_key(request.parameter_key.as_str());
    Ok(AddObjectResponse {
        instance_number,
        status: Status::Applied,
    })
}

/// A.3.2.7 DeleteObject: removes the instance `ObjectName` and all below it; the
/// ParameterKey is updated. Not an instance, or of a table the ACS may not change: 9005.
pub fn delete_object(
    model: &mut DataModel,
    request: &DeleteObject,
) -> Result<DeleteObjectResponse, Fault> {
    model
        .delete_object(&request.object_name, Origin::Acs)
        .map_err(|e| fault_for(&e))?;
    model.set_parameter_key(request.parameter_key.as_str());
    Ok(DeleteObjectResponse {
        status: Status::Applied,
    })
}

/// The fault answering a model error, with the error in the FaultString.
pub fn fault_for(error: &ModelError) -> Fault {
    let code = error.fault_code();
    Fault {
        fault_code: code,
        fault_string: fault_string(code, &error.to_string()),
        set_parameter_values_fault: Vec::new(),
    }
}

/// The SetParameterValues fault (A.3.2.1): 9003 with one SetParameterValuesFault per
/// refused parameter, or 9002 when only a backend failed while applying.
pub fn set_values_fault(error: &SetValuesError) -> Fault {
    let backend_only = !error.errors.is_empty()
        && error
            .errors
            .iter()
            .all(|e| e.fault_code() == FaultCode::InternalError);
    let code = if backend_only {
        FaultCode::InternalError
    } else {
        FaultCode::InvalidArguments
    };
    Fault {
        fault_code: code,
        fault_string: fault_string(code, &error.to_string()),
        set_parameter_values_fault: error
            .errors
            .iter()
            .map(|e| SetParameterValuesFault {
                parameter_name: truncate(e.name(), MAX_FAULT_STRING).to_owned(),
                fault_code: e.fault_code(),
                fault_string: fault_string(e.fault_code(), &e.to_string()),
            })
            .collect(),
    }
}

/// `<standard text>: <detail>`, cut to the schema's 256 characters.
fn fault_string(code: FaultCode, detail: &str) -> String {
    let text = format!("{}: {detail}", code.message());
    truncate(&text, MAX_FAULT_STRING).to_owned()
}

/// The first `max` characters of `text`.
fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}
