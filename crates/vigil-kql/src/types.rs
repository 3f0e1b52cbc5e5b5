//! KQL's scalar types.

use std::fmt;

use vigil_schema::ColumnType;

/// A KQL scalar type. `Null` is the type of the bare `null` literal, which converts to any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Type {
    Bool,
    Int,
    Long,
    Real,
    String,
    DateTime,
    Timespan,
    Dynamic,
    Guid,
    Null,
}

impl Type {
    /// The name KQL uses (`getschema`, `typeof`).
    pub fn name(self) -> &'static str {
        match self {
            Type::Bool => "bool",
            Type::Int => "int",
            Type::Long => "long",
            Type::Real => "real",
            Type::String => "string",
            Type::DateTime => "datetime",
            Type::Timespan => "timespan",
            Type::Dynamic => "dynamic",
            Type::Guid => "guid",
            Type::Null => "null",
        }
    }

    /// A type name as written in a query (with KQL's aliases).
    pub fn from_name(name: &str) -> Option<Type> {
        Some(match name {
            "bool" | "boolean" => Type::Bool,
            "int" => Type::Int,
            "long" => Type::Long,
            "real" | "double" | "decimal" => Type::Real,
            "string" => Type::String,
            "datetime" | "date" => Type::DateTime,
            "timespan" | "time" => Type::Timespan,
            "dynamic" => Type::Dynamic,
            "guid" | "uniqueid" => Type::Guid,
            _ => return None,
        })
    }

    pub fn of_column(ty: ColumnType) -> Type {
        match ty {
            ColumnType::String => Type::String,
            ColumnType::Long => Type::Long,
            ColumnType::Int => Type::Int,
            ColumnType::Bool => Type::Bool,
            ColumnType::DateTime => Type::DateTime,
            ColumnType::Dynamic => Type::Dynamic,
        }
    }

    pub fn is_numeric(self) -> bool {
        matches!(self, Type::Int | Type::Long | Type::Real)
    }

    /// Whether a value of this type can stand where `want` is expected without an explicit
    /// conversion (KQL widens int → long → real; `null` and `dynamic` fit anything).
    pub fn fits(self, want: Type) -> bool {
        self == want
            || matches!(self, Type::Null | Type::Dynamic)
            || (want == Type::Long && self == Type::Int)
            || (want == Type::Real && matches!(self, Type::Int | Type::Long))
            || (want == Type::String && self == Type::Guid)
    }

    /// The common type of two numeric operands.
    pub fn widen(a: Type, b: Type) -> Type {
        match (a, b) {
            (Type::Real, _) | (_, Type::Real) => Type::Real,
            (Type::Long, _) | (_, Type::Long) => Type::Long,
            (Type::Int, Type::Int) => Type::Int,
            (Type::Null, t) | (t, Type::Null) => t,
            (Type::Dynamic, _) | (_, Type::Dynamic) => Type::Dynamic,
            _ => Type::Long,
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
