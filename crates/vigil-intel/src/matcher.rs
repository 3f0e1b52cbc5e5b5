//! placeholder
pub struct IntelSet;
pub struct Hit;
