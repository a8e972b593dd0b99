//! Deployment-unit (software module) types of ChangeDUState and its completions (TR-069 Amd 6
//! A.4.1.10, A.3.3.4, A.3.3.5; TR-157).

use super::field::{Field, cwmp_struct, read_text};
use crate::soap::SoapError;
use crate::soap::namespace::Ns;
use crate::soap::reader::{Element, Reader};
use crate::soap::writer::Writer;
use crate::value::DateTime;

cwmp_struct! {
    /// Install a deployment unit (`InstallOpStruct`).
    pub struct InstallOpStruct {
        /// Where to fetch it.
        url: String = "URL" max 1024,
        /// Its UUID, if the ACS assigns one.
        uuid: Option<String> = "UUID" max 36,
        /// File server user name.
        username: Option<String> = "Username" max 256,
        /// File server password.
        password: Option<String> = "Password" max 256,
        /// The execution environment to install into.
        execution_env_ref: Option<String> = "ExecutionEnvRef" max 256,
    }
}

cwmp_struct! {
    /// Update a deployment unit (`UpdateOpStruct`).
    pub struct UpdateOpStruct {
        /// Which unit; all units if absent.
        uuid: Option<String> = "UUID" max 36,
        /// Which version.
        version: Option<String> = "Version" max 32,
        /// Where to fetch the update.
        url: Option<String> = "URL" max 1024,
        /// File server user name.
        username: Option<String> = "Username" max 256,
        /// File server password.
        password: Option<String> = "Password" max 256,
    }
}

cwmp_struct! {
    /// Uninstall a deployment unit (`UninstallOpStruct`).
    pub struct UninstallOpStruct {
        /// Which unit.
        uuid: String = "UUID" max 36,
        /// Which version; all if absent.
        version: Option<String> = "Version" max 32,
        /// From which execution environment.
        execution_env_ref: Option<String> = "ExecutionEnvRef" max 256,
    }
}

/// One `Operations` element of ChangeDUState. The schema's `OperationStruct` is abstract, so
/// each element names its concrete type with `xsi:type`.
#[derive(Clone, Debug, PartialEq)]
pub enum Operation {
    /// `xsi:type="cwmp:InstallOpStruct"`.
    Install(InstallOpStruct),
    /// `xsi:type="cwmp:UpdateOpStruct"`.
    Update(UpdateOpStruct),
    /// `xsi:type="cwmp:UninstallOpStruct"`.
    Uninstall(UninstallOpStruct),
}

impl Default for Operation {
    fn default() -> Self {
        Self::Install(InstallOpStruct::default())
    }
}

impl Field for Operation {
    fn read(r: &mut Reader<'_>, el: &Element<'_>, _: Option<usize>) -> Result<Self, SoapError> {
        let declared = r.attribute(el, Ns::Xsi, "type")?.unwrap_or_default();
        let (_, local) = r.resolve_qname(&declared);
        match local {
            "InstallOpStruct" => InstallOpStruct::read(r, el, None).map(Self::Install),
            "UpdateOpStruct" => UpdateOpStruct::read(r, el, None).map(Self::Update),
            "UninstallOpStruct" => UninstallOpStruct::read(r, el, None).map(Self::Uninstall),
            _ => Err(SoapError::invalid(
                el.local(),
                &declared,
                "xsi:type of InstallOpStruct, UpdateOpStruct or UninstallOpStruct",
            )),
        }
    }

    fn write(&self, w: &mut Writer, name: &str) {
        let (xsi_type, fields): (&str, &dyn Fn(&mut Writer)) = match self {
            Self::Install(op) => ("cwmp:InstallOpStruct", &|w| op.write_fields(w)),
            Self::Update(op) => ("cwmp:UpdateOpStruct", &|w| op.write_fields(w)),
            Self::Uninstall(op) => ("cwmp:UninstallOpStruct", &|w| op.write_fields(w)),
        };
        w.start(name, &[("xsi:type", xsi_type)]);
        fields(w);
        w.end(name);
    }
}

/// The state of a deployment unit after an operation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum DeploymentUnitState {
    /// `Installed`.
    #[default]
    Installed,
    /// `Uninstalled`.
    Uninstalled,
    /// `Failed`.
    Failed,
}

impl DeploymentUnitState {
    /// The state as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Installed => "Installed",
            Self::Uninstalled => "Uninstalled",
            Self::Failed => "Failed",
        }
    }
}

impl Field for DeploymentUnitState {
    fn read(r: &mut Reader<'_>, el: &Element<'_>, _: Option<usize>) -> Result<Self, SoapError> {
        let text = read_text(r, el, Some(32))?;
        [Self::Installed, Self::Uninstalled, Self::Failed]
            .into_iter()
            .find(|s| s.as_str() == text.trim())
            .ok_or_else(|| {
                SoapError::invalid(el.local(), &text, "Installed, Uninstalled or Failed")
            })
    }

    fn write(&self, w: &mut Writer, name: &str) {
        w.leaf(name, &[], self.as_str());
    }
}

cwmp_struct! {
    /// The outcome of one operation (`DeploymentUnitFaultStruct`): code 0 for success.
    pub struct DeploymentUnitFaultStruct {
        /// 0, or a CPE fault code.
        fault_code: u32 = "FaultCode",
        /// Human-readable text.
        fault_string: Option<String> = "FaultString" max 256,
    }
}

cwmp_struct! {
    /// The result of one ChangeDUState operation (`OpResultStruct`).
    pub struct OpResultStruct {
        /// The unit's UUID.
        uuid: String = "UUID" max 36,
        /// Path of its `SoftwareModules.DeploymentUnit.{i}.` instance.
        deployment_unit_ref: String = "DeploymentUnitRef" max 256,
        /// Its version.
        version: String = "Version" max 32,
        /// Its state now.
        current_state: DeploymentUnitState = "CurrentState",
        /// Whether all its dependencies are resolved.
        resolved: bool = "Resolved",
        /// Comma-separated paths of its execution units.
        execution_unit_ref_list: String = "ExecutionUnitRefList",
        /// When the operation started.
        start_time: DateTime = "StartTime",
        /// When it ended.
        complete_time: DateTime = "CompleteTime",
        /// Code 0 for success.
        fault: DeploymentUnitFaultStruct = "Fault",
    }
}

/// The result of an operation the CPE did on its own (`AutonOpResultStruct`): an
/// [`OpResultStruct`] and the operation performed, written as one flat element.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AutonOpResultStruct {
    /// The result.
    pub result: OpResultStruct,
    /// `Install`, `Update`, `Uninstall`, or a vendor operation.
    pub operation_performed: String,
}

impl Field for AutonOpResultStruct {
    fn read(r: &mut Reader<'_>, _: &Element<'_>, _: Option<usize>) -> Result<Self, SoapError> {
        let mut out = Self::default();
        while let Some(child) = r.next_child()? {
            if child.local() == "OperationPerformed" {
                out.operation_performed = String::read(r, &child, Some(64))?;
            } else if !out.result.read_child(r, &child)? {
                r.skip()?;
            }
        }
        Ok(out)
    }

    fn write(&self, w: &mut Writer, name: &str) {
        w.start(name, &[]);
        self.result.write_fields(w);
        self.operation_performed.write(w, "OperationPerformed");
        w.end(name);
    }
}
