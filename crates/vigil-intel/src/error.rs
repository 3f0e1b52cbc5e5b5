use std::fmt;

/// Why a value, a record or a whole import was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntelError {
    /// The record the problem is in (`line 12`, `object indicator--…`, `attribute 3`), if any.
    pub record: Option<String>,
    pub message: String,
}

impl IntelError {
    pub fn invalid(message: impl Into<String>) -> IntelError {
        IntelError {
            record: None,
            message: message.into(),
        }
    }

    /// The same error, located at `record` (kept if already located more precisely).
    pub fn at(mut self, record: impl Into<String>) -> IntelError {
        if self.record.is_none() {
            self.record = Some(record.into());
        }
        self
    }
}

impl fmt::Display for IntelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.record {
            Some(r) => write!(f, "{r}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for IntelError {}
