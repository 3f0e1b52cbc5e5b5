//! The field mapping names only tables, columns and ActionTypes that Vigil's schema has.

use vigil_schema::{Col, Table};
use vigil_sigma::Mapping;

#[test]
fn every_mapped_table_column_and_action_type_exists_in_the_schema() {
    let m = Mapping::linux();
    let tables = m.tables();
    assert!(!tables.is_empty());
    for (name, actions) in &tables {
        let t = Table::from_name(name).unwrap_or_else(|| panic!("mapping names table {name}"));
        for a in actions {
            assert!(
                t.action_types().contains(&a.as_str()),
                "{name} has no ActionType {a}"
            );
        }
    }
    let columns = m.columns();
    assert!(columns.len() > 20, "the mapping covers many columns");
    for (table, column) in &columns {
        let t = Table::from_name(table).expect("checked above");
        // `AdditionalFields.key` reaches into the JSON column.
        let base = column.split('.').next().unwrap_or(column);
        let col = Col::ALL
            .iter()
            .copied()
            .find(|c| c.name() == base)
            .unwrap_or_else(|| panic!("mapping names column {column}, not in the schema"));
        assert!(t.has(col), "{table} has no column {column}");
    }
}
