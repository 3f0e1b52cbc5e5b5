//! Tokens of KQL.
