//! The `FileType` argument of Download/ScheduleDownload (TR-069 Amd 6 A.3.2.8, A.4.1.8; XSD
//! `DownloadFileType`) and of Upload (A.4.1.5; XSD `UploadFileType`), parsed at the boundary,
//! plus their spelling in the transfer queue (A.4.1.7; XSD `TransferFileType`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A `FileType` this CPE does not support (answered with 9003 Invalid arguments).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unsupported file type {0:?}")]
pub struct UnsupportedFileType(pub String);

/// What a Download or ScheduleDownload fetches (TR-069 Amd 6 A.3.2.8 `FileType`).
///
/// `6 Stored Firmware Image` (a later addition some agents accept) is not supported.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum DownloadFileType {
    /// `1 Firmware Upgrade Image`: handed to the agent's firmware hook.
    FirmwareUpgradeImage,
    /// `2 Web Content`: stored under its TargetFileName.
    WebContent,
    /// `3 Vendor Configuration File`: handed to the agent's configuration hook.
    VendorConfigurationFile,
    /// `4 Tone File`: stored under its TargetFileName.
    ToneFile,
    /// `5 Ringer File`: stored under its TargetFileName.
    RingerFile,
    /// `X <OUI> <name>`: a vendor type, stored under its TargetFileName. Holds the whole text.
    Vendor(String),
}

impl DownloadFileType {
    /// The type as written on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Self::FirmwareUpgradeImage => "1 Firmware Upgrade Image",
            Self::WebContent => "2 Web Content",
            Self::VendorConfigurationFile => "3 Vendor Configuration File",
            Self::ToneFile => "4 Tone File",
            Self::RingerFile => "5 Ringer File",
            Self::Vendor(text) => text,
        }
    }

    /// Whether the downloaded file is kept as a file under its TargetFileName, rather than
    /// handed to a hook.
    pub fn is_stored(&self) -> bool {
        !matches!(
            self,
            Self::FirmwareUpgradeImage | Self::VendorConfigurationFile
        )
    }
}

impl FromStr for DownloadFileType {
    type Err = UnsupportedFileType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "1 Firmware Upgrade Image" => Self::FirmwareUpgradeImage,
            "2 Web Content" => Self::WebContent,
            "3 Vendor Configuration File" => Self::VendorConfigurationFile,
            "4 Tone File" => Self::ToneFile,
            "5 Ringer File" => Self::RingerFile,
            _ if is_vendor_type(s) => Self::Vendor(s.to_owned()),
            _ => return Err(UnsupportedFileType(s.to_owned())),
        })
    }
}

/// What an Upload sends (TR-069 Amd 6 A.4.1.5 `FileType`). Vendor types (`X <OUI> ...`) are
/// not supported: the agent has no hook that could produce them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum UploadFileType {
    /// `1 Vendor Configuration File`, or with an instance `3 Vendor Configuration File <i>`.
    VendorConfigurationFile {
        /// The instance number of the `<i>` form.
        instance: Option<u32>,
    },
    /// `2 Vendor Log File`, or with an instance `4 Vendor Log File <i>`.
    VendorLogFile {
        /// The instance number of the `<i>` form.
        instance: Option<u32>,
    },
}

impl UploadFileType {
    /// The type in the queue listing's numbering (A.4.1.7; XSD `TransferFileType`):
    /// `3 Vendor Configuration File`, `4 Vendor Log File`, `6 Vendor Configuration File <i>`,
    /// `7 Vendor Log File <i>`.
    pub fn transfer_file_type(self) -> String {
        match self {
            Self::VendorConfigurationFile { instance: None } => {
                "3 Vendor Configuration File".to_owned()
            }
            Self::VendorLogFile { instance: None } => "4 Vendor Log File".to_owned(),
            Self::VendorConfigurationFile { instance: Some(i) } => {
                format!("6 Vendor Configuration File {i}")
            }
            Self::VendorLogFile { instance: Some(i) } => format!("7 Vendor Log File {i}"),
        }
    }
}

impl fmt::Display for UploadFileType {
    /// The type as written on the wire.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::VendorConfigurationFile { instance: None } => {
                f.write_str("1 Vendor Configuration File")
            }
            Self::VendorLogFile { instance: None } => f.write_str("2 Vendor Log File"),
            Self::VendorConfigurationFile { instance: Some(i) } => {
                write!(f, "3 Vendor Configuration File {i}")
            }
            Self::VendorLogFile { instance: Some(i) } => write!(f, "4 Vendor Log File {i}"),
        }
    }
}

impl FromStr for UploadFileType {
    type Err = UnsupportedFileType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let unsupported = || UnsupportedFileType(s.to_owned());
        match s {
            "1 Vendor Configuration File" => {
                return Ok(Self::VendorConfigurationFile { instance: None });
            }
            "2 Vendor Log File" => return Ok(Self::VendorLogFile { instance: None }),
            _ => {}
        }
        // XSD pattern `[1-9]\d*( \S+)+ [1-9]\d*`: the instance has no leading zero.
        let (name, instance) = s.rsplit_once(' ').ok_or_else(unsupported)?;
        if instance.starts_with('0') || !instance.bytes().all(|b| b.is_ascii_digit()) {
            return Err(unsupported());
        }
        let instance = Some(instance.parse().map_err(|_| unsupported())?);
        match name {
            "3 Vendor Configuration File" => Ok(Self::VendorConfigurationFile { instance }),
            "4 Vendor Log File" => Ok(Self::VendorLogFile { instance }),
            _ => Err(unsupported()),
        }
    }
}

/// XSD `X [0-9A-F]{6} .+` / `X \S+ .+`: `X`, a non-empty token, a non-empty rest.
fn is_vendor_type(s: &str) -> bool {
    s.strip_prefix("X ")
        .and_then(|rest| rest.split_once(' '))
        .is_some_and(|(oui, name)| {
            !oui.is_empty() && !oui.contains(char::is_whitespace) && !name.is_empty()
        })
}

macro_rules! string_serde {
    ($($ty:ty),*) => {$(
        impl TryFrom<String> for $ty {
            type Error = UnsupportedFileType;

            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse()
            }
        }

        impl From<$ty> for String {
            fn from(t: $ty) -> Self {
                t.to_string()
            }
        }
    )*};
}

string_serde!(DownloadFileType, UploadFileType);

impl fmt::Display for DownloadFileType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_types_round_trip() {
        for text in [
            "1 Firmware Upgrade Image",
            "2 Web Content",
            "3 Vendor Configuration File",
            "4 Tone File",
            "5 Ringer File",
            "X 00D09E Bootloader",
            "X ACME Voice Prompts",
        ] {
            let parsed: DownloadFileType = text.parse().unwrap();
            assert_eq!(parsed.as_str(), text);
        }
        for bad in [
            "",
            "1 Firmware",
            "6 Stored Firmware Image",
            "X",
            "X 00D09E",
            "x 00D09E y",
        ] {
            assert!(bad.parse::<DownloadFileType>().is_err(), "{bad:?}");
        }
        assert!(!DownloadFileType::FirmwareUpgradeImage.is_stored());
        assert!(DownloadFileType::ToneFile.is_stored());
    }

    #[test]
    fn upload_types_with_instances() {
        let cases = [
            (
                "1 Vendor Configuration File",
                "3 Vendor Configuration File",
                UploadFileType::VendorConfigurationFile { instance: None },
            ),
            (
                "2 Vendor Log File",
                "4 Vendor Log File",
                UploadFileType::VendorLogFile { instance: None },
            ),
            (
                "3 Vendor Configuration File 2",
                "6 Vendor Configuration File 2",
                UploadFileType::VendorConfigurationFile { instance: Some(2) },
            ),
            (
                "4 Vendor Log File 17",
                "7 Vendor Log File 17",
                UploadFileType::VendorLogFile { instance: Some(17) },
            ),
        ];
        for (wire, queued, parsed) in cases {
            assert_eq!(wire.parse::<UploadFileType>().unwrap(), parsed);
            assert_eq!(parsed.to_string(), wire);
            assert_eq!(parsed.transfer_file_type(), queued);
        }
        for bad in [
            "3 Vendor Configuration File",
            "3 Vendor Configuration File 0",
            "4 Vendor Log File 01",
            "4 Vendor Log File x",
            "1 Vendor Configuration File 1",
            "4 Vendor Log File 99999999999",
            "X 00D09E Dump",
        ] {
            assert!(bad.parse::<UploadFileType>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn serde_uses_the_wire_text() {
        let json =
            serde_json::to_string(&UploadFileType::VendorLogFile { instance: Some(3) }).unwrap();
        assert_eq!(json, "\"4 Vendor Log File 3\"");
        assert!(serde_json::from_str::<DownloadFileType>("\"9 Nonsense\"").is_err());
    }
}
