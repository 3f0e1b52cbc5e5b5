// TEMPORARY placeholder until the real module lands (helper-1).
use std::net::IpAddr;
#[derive(Debug, Clone)]
pub struct DeviceIdentity {
    pub device_id: String,
    pub device_name: String,
}
impl DeviceIdentity {
    pub fn load_or_create(_s: &std::path::Path) -> std::io::Result<DeviceIdentity> {
        Ok(DeviceIdentity {
            device_id: "0".repeat(40),
            device_name: "x".into(),
        })
    }
}
#[derive(Debug, Clone, PartialEq)]
pub struct HostSnapshot;
impl HostSnapshot {
    pub fn changed(&self, o: &HostSnapshot) -> bool {
        self != o
    }
}
pub fn snapshot() -> HostSnapshot {
    HostSnapshot
}
pub fn device_info_rows(
    _id: &DeviceIdentity,
    _s: &HostSnapshot,
    _at: vigil_schema::Timestamp,
    _v: &str,
) -> Vec<vigil_schema::Row> {
    Vec::new()
}
pub fn ip_type(_ip: &IpAddr) -> &'static str {
    "Private"
}
