//! Integration tests of vigil-sigma: modifiers, conditions, log sources, correlations, bad
//! input, the golden tests of the team's rules, and the third-party corpus measurement.

mod conditions;
mod corpus;
mod correlations;
mod errors;
mod golden;
mod logsources;
mod modifiers;
mod schema;
mod support;
