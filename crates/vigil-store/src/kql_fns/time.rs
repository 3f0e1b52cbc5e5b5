//! See the module doc of `kql_fns`.

use datafusion::execution::context::SessionContext;

pub(crate) fn register(_ctx: &SessionContext) {}
