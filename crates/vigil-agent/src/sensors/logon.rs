// TEMPORARY placeholder until the real module lands (helper-1).
use std::path::PathBuf;
pub struct LogonRecord {
    pub pid: u32,
}
pub struct LogonWatcher;
impl LogonWatcher {
    pub fn new(_a: PathBuf, _b: PathBuf) -> Self {
        LogonWatcher
    }
    pub fn poll(&mut self) -> Vec<LogonRecord> {
        Vec::new()
    }
}
pub fn logon_row(_r: &LogonRecord) -> vigil_schema::Row {
    vigil_schema::Row::new(vigil_schema::Table::DeviceLogonEvents)
}
