//! The declarations are well formed, and the README and
//! `docs/configuration.md` list exactly them, with their defaults and bounds.

use super::*;

/// `(variable, default cell)` of every table row that names a `ROSTER_*`
/// variable in its first cell.
fn documented(markdown: &str) -> Vec<(String, String)> {
    markdown
        .lines()
        .filter_map(|line| {
            let mut cells = line.strip_prefix('|')?.split('|').map(str::trim);
            let name = cells.next()?.strip_prefix("`ROSTER_")?.strip_suffix('`')?;
            Some((format!("ROSTER_{name}"), cells.next()?.to_string()))
        })
        .collect()
}

fn read(path: &str) -> String {
    let full = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("cannot read {full}: {e}"))
}

fn assert_lists_every_variable(path: &str) {
    let rows = documented(&read(path));
    let declared: Vec<(String, String)> = ALL
        .iter()
        .map(|v| (v.name.to_string(), v.default_cell()))
        .collect();
    for (name, default) in &declared {
        let found: Vec<_> = rows.iter().filter(|(n, _)| n == name).collect();
        assert_eq!(found.len(), 1, "{path} must list {name} once");
        assert_eq!(
            &found[0].1, default,
            "{path}: the default of {name} must read `{default}`"
        );
    }
    for (name, _) in &rows {
        assert!(
            declared.iter().any(|(n, _)| n == name),
            "{path} lists {name}, which roster does not read"
        );
    }
}

#[test]
fn docs_configuration_lists_every_variable_with_its_default_and_bounds() {
    assert_lists_every_variable("docs/configuration.md");
}

#[test]
fn the_readme_table_is_the_declared_one() {
    let readme = read("README.md");
    let table = markdown_table();
    assert!(
        readme.contains(&table),
        "README.md's configuration table must read:\n\n{table}"
    );
    assert_lists_every_variable("README.md");
}

#[test]
fn the_row_reader_sees_names_and_defaults() {
    let rows = documented(
        "text\n| `ROSTER_A` | `1` (0–2) | x |\n| `RUST_LOG` | `info` | y |\n| `ROSTER_B` | unset | z |",
    );
    assert_eq!(
        rows,
        [
            ("ROSTER_A".to_string(), "`1` (0–2)".to_string()),
            ("ROSTER_B".to_string(), "unset".to_string()),
        ]
    );
}

#[test]
fn names_are_unique_and_prefixed() {
    let mut names: Vec<_> = ALL.iter().map(|v| v.name).collect();
    assert!(names.iter().all(|n| n.starts_with("ROSTER_")));
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), ALL.len());
}

#[test]
fn bounds_and_defaults_are_well_formed() {
    for var in ALL {
        match var.kind {
            Kind::Duration { min, max } => {
                let min = humantime::parse_duration(min).expect(var.name);
                let max = humantime::parse_duration(max).expect(var.name);
                assert!(min <= max, "{}", var.name);
                assert!(
                    max <= humantime::parse_duration(TEN_YEARS).unwrap(),
                    "{}",
                    var.name
                );
                if let Value(default) = var.default {
                    let default = humantime::parse_duration(default).expect(var.name);
                    assert!((min..=max).contains(&default), "{}", var.name);
                }
            }
            Kind::Count { min, max } => {
                assert!(min <= max && max <= u64::from(u32::MAX), "{}", var.name);
                if let Value(default) = var.default {
                    let default: u64 = default.parse().expect(var.name);
                    assert!((min..=max).contains(&default), "{}", var.name);
                }
            }
            Kind::OneOf(words) => {
                if let Value(default) = var.default {
                    assert!(words.contains(&default), "{}", var.name);
                }
            }
            _ => {}
        }
    }
}
