//! DHCPv4 option 125, V-I Vendor-Specific Information (RFC 3925 §4), enterprise 3561: the
//! TR-069 Annex F device-gateway association.
//!
//! ```text
//! enterprise-number1 (4) | data-len1 (1) | option-data1 | enterprise-number2 (4) | ...
//! option-data = sub-options: code (1) | len (1) | data
//! ```

use super::wire::{self, Reader};
use super::{BBF_ENTERPRISE, DecodeError, EncodeError, Field};

/// The Annex F sub-options of option 125. A LAN device sends 1-3 in its DHCP request; the
/// gateway answers with 4-6. They feed `Device.GatewayInfo.` and
/// `Device.ManagementServer.ManageableDevice.{i}.`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GatewayAssociation {
    /// Sub-option 1: six hexadecimal digits.
    pub device_manufacturer_oui: Option<String>,
    /// Sub-option 2: 1-64 bytes.
    pub device_serial_number: Option<String>,
    /// Sub-option 3: 1-64 bytes.
    pub device_product_class: Option<String>,
    /// Sub-option 4: six hexadecimal digits.
    pub gateway_manufacturer_oui: Option<String>,
    /// Sub-option 5: 1-64 bytes.
    pub gateway_serial_number: Option<String>,
    /// Sub-option 6: 1-64 bytes.
    pub gateway_product_class: Option<String>,
    /// Other sub-options of the 3561 block, as (code, data) in the order they came.
    pub unknown: Vec<(u8, Vec<u8>)>,
}

impl GatewayAssociation {
    /// The longest serial number or product class (TR-181: `string(64)`).
    pub const MAX_TEXT_LEN: usize = 64;

    /// Reads an option 125 payload. Blocks of other enterprises are skipped (only their
    /// framing is checked); `Ok(None)` when no block is the Broadband Forum's.
    pub fn decode_option125(payload: &[u8]) -> Result<Option<Self>, DecodeError> {
        let mut r = Reader::new(payload);
        let mut found = None;
        while !r.is_empty() {
            let offset = r.offset();
            let available = r.remaining();
            let (Some(enterprise), Some(len)) = (r.u32(), r.u8()) else {
                return Err(DecodeError::MissingEnterprise { offset, available });
            };
            let len = usize::from(len);
            let Some(data) = r.take(len) else {
                return Err(DecodeError::Truncated {
                    offset,
                    len,
                    available: r.remaining(),
                });
            };
            if enterprise != BBF_ENTERPRISE {
                continue;
            }
            if found.is_some() {
                return Err(DecodeError::DuplicateEnterprise { enterprise });
            }
            found = Some(Self::read_block(data, offset + 5)?);
        }
        Ok(found)
    }

    /// Writes an option 125 payload holding one block, enterprise 3561.
    pub fn encode_option125(&self) -> Result<Vec<u8>, EncodeError> {
        let mut data = Vec::new();
        for (code, field, value) in self.fields() {
            let Some(value) = value else { continue };
            match code {
                1 | 4 => {
                    if !is_oui(value.as_bytes()) {
                        return Err(EncodeError::InvalidOui { field });
                    }
                }
                _ => wire::check_text_len(field, value, Self::MAX_TEXT_LEN)?,
            }
            push_tlv(&mut data, code, value.as_bytes());
        }
        for (code, value) in &self.unknown {
            if (1..=6).contains(code) {
                return Err(EncodeError::InvalidUnknownCode {
                    code: u16::from(*code),
                });
            }
            if value.len() > usize::from(u8::MAX) {
                return Err(EncodeError::TooLong {
                    field: Field::Other(u16::from(*code)),
                    len: value.len(),
                    max: usize::from(u8::MAX),
                });
            }
            push_tlv(&mut data, *code, value);
        }
        let Ok(len) = u8::try_from(data.len()) else {
            return Err(EncodeError::TooLong {
                field: Field::EnterpriseData,
                len: data.len(),
                max: usize::from(u8::MAX),
            });
        };
        let mut out = BBF_ENTERPRISE.to_be_bytes().to_vec();
        out.push(len);
        out.extend_from_slice(&data);
        Ok(out)
    }

    /// The six sub-options: code, field and value.
    fn fields(&self) -> [(u8, Field, &Option<String>); 6] {
        [
            (
                1,
                Field::DeviceManufacturerOui,
                &self.device_manufacturer_oui,
            ),
            (2, Field::DeviceSerialNumber, &self.device_serial_number),
            (3, Field::DeviceProductClass, &self.device_product_class),
            (
                4,
                Field::GatewayManufacturerOui,
                &self.gateway_manufacturer_oui,
            ),
            (5, Field::GatewaySerialNumber, &self.gateway_serial_number),
            (6, Field::GatewayProductClass, &self.gateway_product_class),
        ]
    }

    /// The sub-options of the 3561 block; `base` is the block data's offset in the payload.
    fn read_block(data: &[u8], base: usize) -> Result<Self, DecodeError> {
        let mut out = Self::default();
        let mut r = Reader::new(data);
        while let Some(code) = r.u8() {
            let offset = base + r.offset() - 1;
            let Some(len) = r.u8() else {
                return Err(DecodeError::MissingLength { offset });
            };
            let len = usize::from(len);
            let Some(value) = r.take(len) else {
                return Err(DecodeError::Truncated {
                    offset,
                    len,
                    available: r.remaining(),
                });
            };
            let (slot, field) = match code {
                1 => (
                    &mut out.device_manufacturer_oui,
                    Field::DeviceManufacturerOui,
                ),
                2 => (&mut out.device_serial_number, Field::DeviceSerialNumber),
                3 => (&mut out.device_product_class, Field::DeviceProductClass),
                4 => (
                    &mut out.gateway_manufacturer_oui,
                    Field::GatewayManufacturerOui,
                ),
                5 => (&mut out.gateway_serial_number, Field::GatewaySerialNumber),
                6 => (&mut out.gateway_product_class, Field::GatewayProductClass),
                _ => {
                    out.unknown.push((code, value.to_vec()));
                    continue;
                }
            };
            if slot.is_some() {
                return Err(DecodeError::Duplicate {
                    code: u16::from(code),
                });
            }
            let text = if code == 1 || code == 4 {
                let oui = wire::strip_nuls(value);
                if !is_oui(oui) {
                    return Err(DecodeError::InvalidOui { field });
                }
                // Six ASCII hex digits are UTF-8.
                String::from_utf8_lossy(oui).into_owned()
            } else {
                wire::text_len(field, value, Self::MAX_TEXT_LEN)?.to_owned()
            };
            *slot = Some(text);
        }
        Ok(out)
    }
}

/// TR-181 `ManageableDevice.{i}.ManufacturerOUI`: "a six hexadecimal-digit value using all
/// upper-case letters". Lower case is read too, and kept as sent.
fn is_oui(bytes: &[u8]) -> bool {
    bytes.len() == 6 && bytes.iter().all(u8::is_ascii_hexdigit)
}

fn push_tlv(out: &mut Vec<u8>, code: u8, value: &[u8]) {
    out.push(code);
    // Callers keep every value within 255 bytes.
    out.push(u8::try_from(value.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_enterprises_are_skipped() {
        let ours = GatewayAssociation {
            gateway_manufacturer_oui: Some("00D09E".into()),
            gateway_serial_number: Some("SN 1".into()),
            gateway_product_class: Some("IGD".into()),
            ..GatewayAssociation::default()
        };
        let mut payload = vec![0, 0, 0, 9, 3, 1, 1, 0xaa];
        payload.extend(ours.encode_option125().unwrap());
        payload.extend([0, 0, 0x0d, 0xea, 0]);
        assert_eq!(
            GatewayAssociation::decode_option125(&payload),
            Ok(Some(ours))
        );
        assert_eq!(
            GatewayAssociation::decode_option125(&payload[..8]),
            Ok(None)
        );
        assert_eq!(GatewayAssociation::decode_option125(&[]), Ok(None));
    }

    #[test]
    fn too_much_for_one_block() {
        let long = "x".repeat(64);
        let value = GatewayAssociation {
            device_serial_number: Some(long.clone()),
            device_product_class: Some(long.clone()),
            gateway_serial_number: Some(long.clone()),
            gateway_product_class: Some(long),
            ..GatewayAssociation::default()
        };
        assert_eq!(
            value.encode_option125(),
            Err(EncodeError::TooLong {
                field: Field::EnterpriseData,
                len: 264,
                max: 255
            })
        );
    }
}
