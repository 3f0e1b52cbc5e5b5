//! Print the DataFusion SQL of the KQL query on stdin, or its diagnostics:
//! `echo 'DeviceProcessEvents | take 1' | cargo run -p vigil-kql --example kql2sql`.

use std::io::Read;

fn main() {
    let mut src = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut src) {
        eprintln!("cannot read stdin: {e}");
        std::process::exit(2);
    }
    let options = vigil_kql::Options {
        now_ns: 1_795_521_600_000_000_000,
        ..Default::default()
    };
    match vigil_kql::compile(&src, &options, vigil_kql::sql::Dialect::DataFusion) {
        Ok(c) if !c.discover.is_empty() => {
            for d in c.discover {
                println!(
                    "-- discovery for the operator at offset {}\n{}",
                    d.at, d.sql
                );
            }
        }
        Ok(c) => println!("{}", c.sql),
        Err(diags) => {
            for d in diags {
                eprintln!("{}", d.render(&src));
            }
            std::process::exit(1);
        }
    }
}
